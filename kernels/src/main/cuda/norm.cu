// norm.cu: residual add + RMSNorm without weight (spec 1.4), along the hidden axis and along the sequence axis.
//   h = x + r (r may be null); rstd = 1/sqrt(mean(h^2) + eps); out = h * rstd.
//   Along D:   x, r, out [rows, D] bf16, rstd [rows] fp32.   One warp per row. Optionally (next != null) also
//              next = out + a (+ b) [rows, D] bf16: the recursion's next injected input (z + y + x, or y + z) in the
//              same pass, instead of a separate add over memory.
//   Along S:   x, r, out [B, S, D] bf16, rstd [B, D] fp32 (the token mixer's norm). One thread per (b, d), so
//              each step over s reads a contiguous run of d: coalesced.
// Backward (activation gradient, written with =; it is the gradient for both x and r):
//   dh = rstd * (dout - out * mean(dout * out))   computed from the saved out and rstd.
#include "common.cuh"

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    rmsnorm_forward(const bf16* x, const bf16* r, bf16* out, float* rstd, int rows, int dim, float eps,
                    const bf16* a, const bf16* b, bf16* next) {
    trm_pdl_begin();
    int warpsPerBlock = blockDim.x / 32;
    int row = blockIdx.x * warpsPerBlock + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;  // the whole warp leaves together
    const bf16* xr = x + (long)row * dim;
    const bf16* rr = r != nullptr ? r + (long)row * dim : nullptr;
    float ss = 0.0f;
    for (int j = lane; j < dim; j += 32) {
        float h = __bfloat162float(xr[j]) + (rr != nullptr ? __bfloat162float(rr[j]) : 0.0f);
        ss += h * h;
    }
    ss = warpReduceSum(ss);
    float s = rsqrtf(ss / dim + eps);
    bf16* o = out + (long)row * dim;
    long base = (long)row * dim;
    for (int j = lane; j < dim; j += 32) {
        float h = __bfloat162float(xr[j]) + (rr != nullptr ? __bfloat162float(rr[j]) : 0.0f);
        bf16 v = __float2bfloat16(h * s);
        o[j] = v;
        if (next != nullptr) {  // the next call's injected input, from out as stored: (out + a) + b, as add3
            float n = __bfloat162float(v) + __bfloat162float(a[base + j]);
            if (b != nullptr) n += __bfloat162float(b[base + j]);
            next[base + j] = __float2bfloat16(n);
        }
    }
    if (lane == 0) rstd[row] = s;
}
TRM_EXPORT(rmsnorm_forward, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    rmsnorm_backward(const bf16* out, const float* rstd, const bf16* dout, bf16* dh, int rows, int dim) {
    trm_pdl_begin();
    int warpsPerBlock = blockDim.x / 32;
    int row = blockIdx.x * warpsPerBlock + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const bf16* o = out + (long)row * dim;
    const bf16* g = dout + (long)row * dim;
    float dot = 0.0f;
    for (int j = lane; j < dim; j += 32) dot += __bfloat162float(g[j]) * __bfloat162float(o[j]);
    float mean = warpReduceSum(dot) / dim;
    float s = rstd[row];
    bf16* d = dh + (long)row * dim;
    for (int j = lane; j < dim; j += 32)
        d[j] = __float2bfloat16(s * (__bfloat162float(g[j]) - __bfloat162float(o[j]) * mean));
}
TRM_EXPORT(rmsnorm_backward, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    rmsnorm_seq_forward(const bf16* x, const bf16* r, bf16* out, float* rstd, int batch, int seq, int dim,
                        float eps) {
    trm_pdl_begin();
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;  // over (b, d)
    if (idx >= (long)batch * dim) return;
    int b = (int)(idx / dim), d = (int)(idx % dim);
    long base = (long)b * seq * dim + d;
    float ss = 0.0f;
    for (int s = 0; s < seq; s++) {
        long i = base + (long)s * dim;
        float h = __bfloat162float(x[i]) + (r != nullptr ? __bfloat162float(r[i]) : 0.0f);
        ss += h * h;
    }
    float scale = rsqrtf(ss / seq + eps);
    for (int s = 0; s < seq; s++) {
        long i = base + (long)s * dim;
        float h = __bfloat162float(x[i]) + (r != nullptr ? __bfloat162float(r[i]) : 0.0f);
        out[i] = __float2bfloat16(h * scale);
    }
    rstd[idx] = scale;
}
TRM_EXPORT(rmsnorm_seq_forward, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    rmsnorm_seq_backward(const bf16* out, const float* rstd, const bf16* dout, bf16* dh, int batch,
                         int seq, int dim) {
    trm_pdl_begin();
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)batch * dim) return;
    int b = (int)(idx / dim), d = (int)(idx % dim);
    long base = (long)b * seq * dim + d;
    float dot = 0.0f;
    for (int s = 0; s < seq; s++) {
        long i = base + (long)s * dim;
        dot += __bfloat162float(dout[i]) * __bfloat162float(out[i]);
    }
    float mean = dot / seq, scale = rstd[idx];
    for (int s = 0; s < seq; s++) {
        long i = base + (long)s * dim;
        dh[i] = __float2bfloat16(scale * (__bfloat162float(dout[i]) - __bfloat162float(out[i]) * mean));
    }
}
TRM_EXPORT(rmsnorm_seq_backward, TRM_BLOCK)
