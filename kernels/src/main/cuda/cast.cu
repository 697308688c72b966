// cast.cu: bf16 <-> fp32 copies: fp32 master weights to the bf16 copies the forward uses, and bf16 results out.
//   in [n] -> out [n]; round to nearest even into bf16.
#include "common.cuh"

TRM_KERNEL void cast_f32_to_bf16(const float* in, bf16* out, long n) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16(in[i]);
}
TRM_EXPORT(cast_f32_to_bf16)

TRM_KERNEL void cast_bf16_to_f32(const bf16* in, float* out, long n) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        out[i] = __bfloat162float(in[i]);
}
TRM_EXPORT(cast_bf16_to_f32)
