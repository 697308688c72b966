// swiglu.cu: the SwiGLU activation between the MLP's two GEMMs.
//   gu [rows, 2I] bf16 = (gate | up) from the fused gate_up projection; out [rows, I] bf16 = silu(gate) * up.
// Backward (activation gradient, written with =): dgu [rows, 2I] bf16 from dout [rows, I] bf16:
//   dgate = dout * up * silu'(gate), silu'(g) = sig(g) * (1 + g * (1 - sig(g)));  dup = dout * silu(gate).
//   out [rows, I] bf16 (nullptr: not wanted) gets silu(gate) * up again, as swiglu_forward writes it: the training
//   step does not keep the activation from the forward (it is the largest saved tensor after gu), and the weight
//   gradient of the GEMM that read it takes this recomputed copy; the pass over gu is one the backward makes anyway.
#include "common.cuh"

__device__ __forceinline__ float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }
// silu(g) * u in fp32, rounded once by the caller: the one formula of swiglu_forward and of gemm_swiglu's epilogue.
__device__ __forceinline__ float swiglu_value(float g, float u) { return g * sigmoidf(g) * u; }

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    swiglu_forward(const bf16* gu, bf16* out, int rows, int inter) {
    trm_pdl_begin();
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)rows * inter) return;
    long row = idx / inter, j = idx % inter;
    float g = __bfloat162float(gu[row * 2 * inter + j]);
    float u = __bfloat162float(gu[row * 2 * inter + inter + j]);
    out[idx] = __float2bfloat16(swiglu_value(g, u));
}
TRM_EXPORT(swiglu_forward, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    swiglu_backward(const bf16* gu, const bf16* dout, bf16* dgu, bf16* out, int rows, int inter) {
    trm_pdl_begin();
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)rows * inter) return;
    long row = idx / inter, j = idx % inter;
    float g = __bfloat162float(gu[row * 2 * inter + j]);
    float u = __bfloat162float(gu[row * 2 * inter + inter + j]);
    float d = __bfloat162float(dout[idx]);
    float sg = sigmoidf(g);
    dgu[row * 2 * inter + j] = __float2bfloat16(d * u * sg * (1.0f + g * (1.0f - sg)));
    dgu[row * 2 * inter + inter + j] = __float2bfloat16(d * g * sg);
    if (out != nullptr) out[idx] = __float2bfloat16(swiglu_value(g, u));
}
TRM_EXPORT(swiglu_backward, TRM_BLOCK)
