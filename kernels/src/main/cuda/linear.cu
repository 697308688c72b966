// linear.cu: what the cuBLAS GEMMs of the linear layers and the token mixer leave to us.
//   bias_add:     y [rows, n] += bias [n]           (the q head's bias; y fp32 or bf16)
//   bias_grad:    dbias [n] += sum over rows of dy [rows, n]   one thread per column, fixed order: deterministic
//   sum_batches:  dst [rows, cols] += sum_b src [b, rows, ld][:, :cols]   the token mixer's weight gradient, one GEMM
//                 per batch row (dw += sum_b dy[b] x[b]^T cannot be one GEMM: b and d do not fold into one stride),
//                 from products cuBLAS stored on a row pitch ld >= cols rounded up to 16 bytes (fp32: a multiple of
//                 4), compacted here into dst; a plain dst [m] += sum_b src [b, m] is rows m, cols = ld = 1
//   pad_cols:     dst [rows, ld] = src [rows, cols], columns cols..ld-1 zero (bf16)   a GEMM weight whose rows are not
//                 16-byte aligned (the token mixer's gate_up [2I_S, S] at S = 97: 194-byte rows) re-laid on a pitch
//                 ld rounded up to 8 elements, made before each GEMM that reads it: cuBLAS's tensor-core kernels want
//                 16-byte-aligned leading dimensions (Hopper's TMA-based ones need them). The layout stays w's own,
//                 so one copy serves the forward, gu[b] = w x[b] (w read as stored), and the backward,
//                 dx[b] = w^T dy[b] (w read transposed); cuBLAS reads only the cols columns, the zeros keep the
//                 padding defined.
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

// The summation order is b = 0, 1, ... in fp32 whatever the pitch, so the compacted sum equals the unpadded one bit for
// bit.
TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    sum_batches(const float* src, float* dst, int batch, long rows, int cols, int ld) {
    trm_pdl_begin();
    long per = rows * ld;  // one batch row's product on the padded pitch
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < rows * cols; i += (long)gridDim.x * blockDim.x) {
        const float* p = src + (i / cols) * ld + i % cols;
        float acc = 0.0f;
        for (int b = 0; b < batch; b++) acc += p[(long)b * per];
        dst[i] += acc;
    }
}
TRM_EXPORT(sum_batches, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    pad_cols(const bf16* src, bf16* dst, long rows, int cols, int ld) {
    trm_pdl_begin();
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < rows * ld; i += (long)gridDim.x * blockDim.x) {
        long r = i / ld;
        int c = (int)(i % ld);
        dst[i] = c < cols ? src[r * cols + c] : __float2bfloat16(0.0f);
    }
}
TRM_EXPORT(pad_cols, TRM_BLOCK)
