// q_head.cu: the q head (spec 1.7) forward, and in training its halting loss (spec 3) with the head's whole backward.
//   q_head_forward:  y [B, S, D] bf16, read in place at slot 0 of each batch row (the first prefix position, no copy);
//                    w [2, D] fp32, the master weight, each element rounded to bf16 as it is read (the bf16 value a GEMM
//                    would take from the weight's bf16 copy: "cast to bf16 at use", spec 1.9); bias [2] fp32 ->
//                    q [B, 2] fp32 = sum_d bf16(w[j, d]) y[b, 0, d] + bias[j]
//                    (column 0 q_halt, column 1 q_continue). One warp per slot; launch grid ceil(B / 8) of 256.
//   q_head_backward: halting_bce (loss.cu) on q's column 0 with target [B] int (the token loss's seqCorrect), and the
//                    gradient back through the head, with dq[b] = gradScale (sigmoid(q[b, 0]) - target[b]):
//                      loss [B] fp32 =; dq [B, 2] fp32 = (dq[b], 0)  (q_continue carries no loss in TRM);
//                      dw [2, D] fp32 row 0 += sum_b dq[b] y[b, 0, :]   (row 1 would add dq[:, 1] = 0: left as is);
//                      dbias [2] fp32 [0] += sum_b dq[b]                 ([1] likewise);
//                      g [B, S, D] bf16 slot 0 += dq[b] bf16(w[0, :])    (the other slots untouched).
//                    Grid ceil(D / 32) blocks of 256 threads (8 warps): lane l of every warp owns column d = 32 blk + l;
//                    warp w takes the slots b = w, w + 8, ... in ascending order, so each (b, d) of g is written by one
//                    thread. Each warp's partial sums (dw column, dbias) meet in shared memory and warp 0 adds the 8 in
//                    warp order: a fixed order, no atomics, the same bits every run and under every emulator schedule.
//                    Every block computes the (cheap) dq of its slots; block 0 alone stores loss, dq and dbias.
//
// What it replaces (GpuBackend, before): forward sliceSeq (y0 [B, 1, D] copy) + cuBLAS GEMM + bias_add, 3 launches;
// training halting_bce + a bf16 cast of dq + two cuBLAS GEMMs (dx, dw) + bias_grad + sliceSeq backward (dy0 into g),
// 6 launches. Now 1 + 1. The training step calls q_head_backward after the lm head's sliceSeq backward has written
// slots P.. of the zeroed g: slot 0 is this kernel's alone (P >= 1), so the order between the two does not matter.
//
// Precision. Forward: the same products as the GEMM path (bf16 w times bf16 y, exact in fp32), summed in fp32 in
// another order (each lane's strided partial sum, then a butterfly), then + bias in fp32; q stays fp32, as on the
// GEMM path and the CPU backends. The official model rounds the bf16 CastedLinear's output to bf16 before its
// .to(float32): its q has bf16 resolution, ours fp32 (a documented difference, not an emulation of it).
// Backward: dq stays fp32 for dw, dbias and g (the GEMM path rounded it to bf16 as a GEMM operand for dw and g, and
// kept fp32 for dbias; the CPU backend keeps fp32 throughout, so this is closer to it). g's slot 0 is rounded to bf16
// once, from fp32 g + dq w (the GEMM path rounded dq w to bf16 (dy0), then g + dy0: with g's slot 0 zero, as in the
// training step, that second rounding changed nothing, so the paths differ there only by the GEMM path's bf16 dq).
// dw and dbias accumulate in fp32 over the slots (sums of B terms; cuBLAS's order differs).
//
// Resources (CUDA 13 ptxas, sm_90): forward 30 registers, backward 32 and 1,056 bytes of static shared memory; no
// spills. UNVERIFIED on hardware (no GPU on the build machine): the speed against the cuBLAS path it replaces. At the
// Sudoku preset's training batch (B = 768, D = 512) the backward is only 16 blocks, each warp looping over 96 slots
// (a few microseconds of loads, against the 6 launches it replaces); at batch 1 the forward is one block, while the
// backward stays ceil(D / 32) blocks (16 at D = 512) whatever B is, each with one busy warp.
#include "common.cuh"

#define QH_OUT 2            // q_halt, q_continue
#define QH_WARPS (TRM_BLOCK / 32)

// w's element as the GEMMs read it: rounded to bf16 (round to nearest even), widened back.
__device__ __forceinline__ float qh_bf16(float v) { return __bfloat162float(__float2bfloat16(v)); }

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    q_head_forward(const bf16* y, const float* w, const float* bias, float* q, int batch, int seq, int dim) {
    trm_pdl_begin();
    int lane = threadIdx.x % 32;
    int b = blockIdx.x * QH_WARPS + threadIdx.x / 32;
    if (b >= batch) return;  // a whole warp (b is uniform across it), and no block barrier follows
    const bf16* y0 = y + (long)b * seq * dim;  // slot 0 of batch row b
    float a0 = 0.0f, a1 = 0.0f;
    for (int d = lane; d < dim; d += 32) {
        float v = __bfloat162float(y0[d]);
        a0 += v * qh_bf16(w[d]);
        a1 += v * qh_bf16(w[dim + d]);
    }
    a0 = warpReduceSum(a0);
    a1 = warpReduceSum(a1);
    if (lane == 0) {
        q[(long)b * QH_OUT] = a0 + bias[0];
        q[(long)b * QH_OUT + 1] = a1 + bias[1];
    }
}
TRM_EXPORT(q_head_forward, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    q_head_backward(const float* q, const int* target, const bf16* y, const float* w, float* loss, float* dq,
                    float* dw, float* dbias, bf16* g, int batch, int seq, int dim, float gradScale) {
    trm_pdl_begin();
    __shared__ float partW[QH_WARPS][32];  // each warp's sum over its slots of dq[b] y[b, 0, d], per lane's column
    __shared__ float partB[QH_WARPS];      // each warp's sum of dq[b]
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int d = blockIdx.x * 32 + lane;
    bool col = d < dim;  // lanes past D (the last block) take part in the sums of dq only
    bool first = blockIdx.x == 0;
    float w0 = col ? qh_bf16(w[d]) : 0.0f;
    float accW = 0.0f, accB = 0.0f;
    for (int b = warp; b < batch; b += QH_WARPS) {
        float l, s;  // this slot's loss and dq, the same in every lane
        haltingBceOne(q[(long)b * QH_OUT], (float)target[b], gradScale, &l, &s);
        accB += s;
        if (col) {
            long at = (long)b * seq * dim + d;  // slot 0 of batch row b, column d
            accW += s * __bfloat162float(y[at]);
            g[at] = __float2bfloat16(__bfloat162float(g[at]) + s * w0);
        }
        if (first && lane == 0) {
            loss[b] = l;
            dq[(long)b * QH_OUT] = s;
            dq[(long)b * QH_OUT + 1] = 0.0f;
        }
    }
    partW[warp][lane] = accW;
    if (lane == 0) partB[warp] = accB;
    __syncthreads();
    if (warp == 0) {
        float sw = 0.0f, sb = 0.0f;
        for (int i = 0; i < QH_WARPS; i++) {
            sw += partW[i][lane];
            sb += partB[i];
        }
        if (col) dw[d] += sw;
        if (first && lane == 0) dbias[0] += sb;
    }
}
TRM_EXPORT(q_head_backward, TRM_BLOCK)
