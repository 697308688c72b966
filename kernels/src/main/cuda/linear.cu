// linear.cu: what the cuBLAS GEMMs of the linear layers and the token mixer leave to us.
//   bias_add:     y [rows, n] += bias [n]           (the q head's bias; y fp32 or bf16)
//   bias_grad:    dbias [n] += sum over rows of dy [rows, n]   one thread per column, fixed order: deterministic
//   sum_batches:  dst [m] += sum_b src [b, m]        the token mixer's weight gradient, one GEMM per batch row
//                 (dw += sum_b dy[b] x[b]^T cannot be one GEMM: b and d do not fold into one stride)
#include "common.cuh"

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    bias_add(void* y, int yBf, const float* bias, long rows, int n) {
    trm_pdl_begin();
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < rows * n; i += (long)gridDim.x * blockDim.x) {
        if (yBf) {
            bf16* p = static_cast<bf16*>(y) + i;
            *p = __float2bfloat16(__bfloat162float(*p) + bias[i % n]);
        } else {
            static_cast<float*>(y)[i] += bias[i % n];
        }
    }
}
TRM_EXPORT(bias_add, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    bias_grad(const void* dy, int dyBf, float* dbias, long rows, int n) {
    trm_pdl_begin();
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    float acc = 0.0f;
    for (long r = 0; r < rows; r++) {
        long i = r * n + j;
        acc += dyBf ? __bfloat162float(static_cast<const bf16*>(dy)[i]) : static_cast<const float*>(dy)[i];
    }
    dbias[j] += acc;
}
TRM_EXPORT(bias_grad, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    sum_batches(const float* src, float* dst, int batch, long m) {
    trm_pdl_begin();
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < m; i += (long)gridDim.x * blockDim.x) {
        float acc = 0.0f;
        for (int b = 0; b < batch; b++) acc += src[(long)b * m + i];
        dst[i] += acc;
    }
}
TRM_EXPORT(sum_batches, TRM_BLOCK)
