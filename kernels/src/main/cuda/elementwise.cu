// elementwise.cu: the memory-bound glue of the recursion, each one pass over memory.
// The carry and activations are bf16, the statistics and the embedding gradient fp32, so every tensor argument
// comes with its storage type (bf16 flag: 1 = bf16, 0 = fp32) and values are widened to fp32 for the arithmetic.
// A branch on a flag that is uniform over the launch costs nothing next to the memory traffic.
//
//   add3:                out [n] = a + b (+ c when c != null)        the input injection z + y + x, y + z
//   accumulate:          acc [n] += x                                  the embedding gradient over the latent calls
//   convert:             out [n] = in                                  copy between storage types (round to bf16)
//   broadcast_row:       dst [rows, D] = row [D]                       the carry reset to H_init / L_init
//   broadcast_row_slots: dst [slot, :, :] = row for each listed slot   a halted slot's reset; dst [B, S, D]
//   slice_seq:           dst [B, n, D] = src [B, S, D][:, from:from+n]   (accumulate = 1: dst[:, from..] += src)
#include "common.cuh"

__device__ __forceinline__ float loadAny(const void* p, int bf, long i) {
    return bf ? __bfloat162float(static_cast<const bf16*>(p)[i]) : static_cast<const float*>(p)[i];
}

__device__ __forceinline__ void storeAny(void* p, int bf, long i, float v) {
    if (bf)
        static_cast<bf16*>(p)[i] = __float2bfloat16(v);
    else
        static_cast<float*>(p)[i] = v;
}

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    add3(const void* a, int aBf, const void* b, int bBf, const void* c, int cBf, void* out, int outBf,
         long n) {
    trm_pdl_begin();
    GRID_STRIDE(i, n) {
        float v = loadAny(a, aBf, i) + loadAny(b, bBf, i);
        if (c != nullptr) v += loadAny(c, cBf, i);
        storeAny(out, outBf, i, v);
    }
}
TRM_EXPORT(add3, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    accumulate(void* acc, int accBf, const void* x, int xBf, long n) {
    trm_pdl_begin();
    GRID_STRIDE(i, n) storeAny(acc, accBf, i, loadAny(acc, accBf, i) + loadAny(x, xBf, i));
}
TRM_EXPORT(accumulate, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    convert(const void* in, int inBf, void* out, int outBf, long n) {
    trm_pdl_begin();
    GRID_STRIDE(i, n) storeAny(out, outBf, i, loadAny(in, inBf, i));
}
TRM_EXPORT(convert, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    broadcast_row(const float* row, void* dst, int dstBf, long rows, int dim) {
    trm_pdl_begin();
    GRID_STRIDE(i, rows * dim) storeAny(dst, dstBf, i, row[i % dim]);
}
TRM_EXPORT(broadcast_row, TRM_BLOCK)

// slots [count]; each slot is a block of `per` = S * D values of dst.
TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    broadcast_row_slots(const float* row, void* dst, int dstBf, const int* slots, int count, long per,
                        int dim) {
    trm_pdl_begin();
    GRID_STRIDE(i, (long)count * per) {
        long slot = slots[i / per], j = i % per;
        storeAny(dst, dstBf, slot * per + j, row[j % dim]);
    }
}
TRM_EXPORT(broadcast_row_slots, TRM_BLOCK)

// Forward (accumulate = 0): dst [B, n, D] = src [B, S, D] rows from..from+n-1.
// Backward (accumulate = 1): the roles swap: src [B, n, D] is added into dst [B, S, D] rows from..from+n-1.
TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    slice_seq(const void* src, int srcBf, void* dst, int dstBf, int batch, int seq, int n, int dim,
              int from, int accumulate) {
    trm_pdl_begin();
    GRID_STRIDE(i, (long)batch * n * dim) {
        long b = i / ((long)n * dim), r = i % ((long)n * dim);
        long full = b * seq * dim + (long)from * dim + r;  // the same element in the [B, S, D] tensor
        if (accumulate)
            storeAny(dst, dstBf, full, loadAny(dst, dstBf, full) + loadAny(src, srcBf, i));
        else
            storeAny(dst, dstBf, i, loadAny(src, srcBf, full));
    }
}
TRM_EXPORT(slice_seq, TRM_BLOCK)
