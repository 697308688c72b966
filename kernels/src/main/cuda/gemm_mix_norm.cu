// gemm_mix_norm.cu: the token mixer's down GEMM (along the sequence) with the residual add and the sequence-axis
// RMSNorm in its epilogue, on tensor cores: the last three steps of the mlp_t branch of a block in one kernel.
//   w [S, I] bf16 row-major (mixDown's bf16 copy), x [B, I, D] bf16 (a1, the SwiGLU output), res [B, S, D] bf16
//   out [B, S, D] bf16 = h * rstd, where h[b] = res[b] + w x[b] in fp32
//   rstd [B, D] fp32 = 1 / sqrt(mean over the S rows of h^2 + eps)       (norm.cu's rmsnorm_seq_forward's outputs)
// The unfused path is one cuBLAS strided-batched GEMM (sub [B, S, D], bf16 out: GpuBackend.tokenMix) then
// rmsnorm_seq_forward(res, sub); GpuBackend picks between the two per shape (GpuBackend.tokenMixNorm, the choice of
// linearSwiglu and tokenMixSwiglu). The backward is unchanged: it reads only out and rstd. At batch 1 (a solve) this
// is one launch per block call instead of two, and all of the token mixer's launches are kernels of ours, which
// overlap their launches (PDL, common.cuh); at the Sudoku-MLP preset's training batch (B = 768, S = 97, D = 512) sub,
// 76 MB of bf16 per block call, is no longer written and read back.
// A file of its own, after gemm_mix_swiglu.cu whose helpers it reuses with gemm_swiglu.cu's (trm_kernels.cu includes
// both just before it): gs_fetch / gs_stage for w (a [64 x 32] tile of 16-byte chunks, register double-buffered),
// GM_LDB and gm_stage_x's layout for the x tile, GsAcc and GS_LDC for the epilogue.
//
// Work split: grid (ceil(D / 64), B); a block of 4 warps owns one batch row b and channels n0 .. n0+63, ALL S rows
// (the norm sums down each column over the whole sequence, so one block holds a column's every element). Warp w owns
// channels n0 + 16w .. n0 + 16w + 15 of every 16-row tile: ceil(S / 16) accumulator fragments (16x16x16, bf16 in,
// fp32 accumulate), at most MN_MAX_ROW_TILES = 11 (S <= 176; the fragments are an array of the most, skipped past S by
// a block-uniform test, so they stay in registers). Per k step a warp loads one matrix_b fragment (its 16 columns of x)
// and one matrix_a fragment per row tile; the warps share the w tile in shared memory and split the columns evenly.
//
// Staging: per k-tile of 32 (intermediate index) the block copies w rows [64 x 32] per group of 64 rows (gs_fetch /
// gs_stage: row stride 40 bf16 = 80 bytes; ceil(S / 64) <= 3 groups, rows past S zeros) and x[b] rows [32 x 64] (row
// stride 72 bf16 = 144 bytes: gm_stage_x's layout, in two steps here, mn_fetch_x / mn_stage_x, for the register
// double buffer: the next k-tile's global loads are issued before the current one's mma, as gemm_swiglu). Every
// fragment pointer is 32-byte aligned and every stride a multiple of 16 bytes, as WMMA requires and the emulator
// checks. All global loads are 16 bytes (8 bf16): I % 8 == 0 and D % 8 == 0 keep each chunk wholly inside or past a
// row of w or of x. Guards: w rows past S, k past I and x columns past D load zeros, so partial tiles multiply by zero;
// a k step of 16 wholly past I is skipped (uniform).
//
// Epilogue, through shared fp32 (the operand buffer becomes a [16 ceil(S / 16)] x GS_LDC tile): each warp stores its
// fragments; then thread t owns column c = t % 64 and the rows r = t / 64, t / 64 + 2, ... < S (the two halves of the
// block read 64 consecutive floats of a row, and 64 consecutive bf16 of res: coalesced): h = tile + res in fp32,
// written back to the tile, and its sum of squares; the two halves' sums meet in shared memory and every thread adds
// them in the same order (half 0 + half 1), so a column's sum never depends on which warp ran first (the emulator's
// schedules check it bit for bit); rstd = rsqrt(ss / S + eps); out = bf16(h * rstd) from the thread's own rows.
// Columns past D are skipped. Rows past S (the last tile's padding) are never read.
//
// Precision against the unfused path: there the GEMM result is rounded to bf16 (sub) before the add; here
// h = res + (w x[b]) in fp32 and the sum of squares is over fp32 h, so out and rstd are slightly MORE accurate (closer
// to the fp32 CPU backend, GemmMixNormCheck measures both): out carries one bf16 rounding instead of that plus sub's
// propagated one. The k sums and the column sums run in other orders than cuBLAS's and rmsnorm_seq_forward's (which
// sums each column in one pass from row 0), so neither path is bitwise the other.
//
// Constraints (GpuKernels.gemmMixNorm checks them with a clear error): S <= 176 (the fp32 epilogue tile, 176 x 68 x 4
// = 47,872 bytes, and the column sums, 512 bytes, are 48,384 bytes of static shared memory: within the 48 KiB a block
// may have without the opt-in neither CudaDriver nor the emulator makes), D % 8 == 0, I % 8 == 0, B <= 65535 (grid
// y). At S = 97 the tile is 7 row tiles (112 rows, 30,464 bytes of it used).
//
// Resources (CUDA 13 ptxas, kernels/target/ptxas-report.txt): 168 registers, 0 spill stores / loads, no stack,
// 48,384 bytes static shared memory, on sm_80, 86, 89 and 90. 168 x 128 threads: 3 blocks (12 warps) per SM by
// registers; the 3 is asked for (__launch_bounds__(128, 3)): without it sm_86 and sm_89 took 204 (and sm_80, 90 the
// same 168). Shared memory allows 4 blocks per SM on sm_80 and sm_90, 2 on sm_86 and sm_89 (100 KB per SM).
// UNVERIFIED on hardware (no GPU on the build machine): its speed, whether it beats cuBLAS + rmsnorm_seq_forward at
// any shape (at batch 1 the grid is only ceil(D / 64) = 8 blocks), and the WMMA fragments' behaviour on real tensor
// cores (the emulator checks the API contract only).
#include "common.cuh"

#define MN_BN 64                // channels per block (GM_LDB's tile width)
#define MN_BK 32                // k-tile (intermediate index)
#define MN_THREADS 128          // 4 warps, 16 channels each, every row tile
#define MN_MAX_ROW_TILES 11     // row tiles of 16: S <= 176, what the fp32 epilogue tile lets fit 48 KiB
#define MN_MAX_SEQ (MN_MAX_ROW_TILES * 16)
#define MN_MAX_GROUPS 3         // w row groups of 64 (gs_fetch's tile): ceil(176 / 64)
#define MN_X_CHUNKS (MN_BK * MN_BN / 8 / MN_THREADS)  // 16-byte chunks per thread per x tile: 2
#define MN_OPERAND_BYTES ((MN_MAX_GROUPS * 64 * GS_LDK + MN_BK * GM_LDB) * 2)  // 15,360 + 4,608
#define MN_EPILOGUE_BYTES (MN_MAX_SEQ * GS_LDC * 4)                            // 47,872
#define MN_SMEM_BYTES (MN_OPERAND_BYTES > MN_EPILOGUE_BYTES ? MN_OPERAND_BYTES : MN_EPILOGUE_BYTES)

// x[b] rows k0 .. k0+31, columns n0 .. n0+63 into registers: chunk c = threadIdx.x + 128 q is row c / 8, columns
// 8 (c % 8) (gm_stage_x's layout). src points at x[b] row 0, column n0; rows at or past inter and columns at or past
// colLimit are zeros (colLimit % 8 == 0 as D % 8 == 0 and n0 % 64 == 0).
__device__ __forceinline__ void mn_fetch_x(GsChunk* reg, const bf16* src, int k0, int inter, int colLimit, int dim) {
    TRM_UNROLL
    for (int q = 0; q < MN_X_CHUNKS; q++) {
        int c = threadIdx.x + MN_THREADS * q, row = c >> 3, col = (c & 7) * 8;
        GsChunk v = {0u, 0u, 0u, 0u};
        if (k0 + row < inter && col < colLimit) v = gs_load16(src + (long)(k0 + row) * dim + col);
        reg[q] = v;
    }
}
__device__ __forceinline__ void mn_stage_x(bf16* tile, const GsChunk* reg) {
    TRM_UNROLL
    for (int q = 0; q < MN_X_CHUNKS; q++) {
        int c = threadIdx.x + MN_THREADS * q;
        gs_store16(tile + (c >> 3) * GM_LDB + (c & 7) * 8, reg[q]);
    }
}

TRM_KERNEL void __launch_bounds__(MN_THREADS, 3)
    gemm_mix_norm(const bf16* __restrict__ w, const bf16* __restrict__ x, const bf16* __restrict__ res,
                  bf16* __restrict__ out, float* __restrict__ rstd, int seq, int dim, int inter, float eps) {
    trm_pdl_begin();
    __shared__ TRM_ALIGN(32) unsigned char smem[MN_SMEM_BYTES];
    __shared__ float colSums[2][MN_BN];  // per column: the sum of squares over the even rows, over the odd rows
    bf16* ws = reinterpret_cast<bf16*>(smem);        // w rows [64 groups][GS_LDK], matrix_a row-major
    bf16* xs = ws + MN_MAX_GROUPS * 64 * GS_LDK;     // x[b] rows [32][GM_LDB], matrix_b row-major
    float* cs = reinterpret_cast<float*>(smem);      // epilogue [16 rowTiles][GS_LDC], after the last k-tile

    const int n0 = blockIdx.x * MN_BN, warp = threadIdx.x / 32;
    const long b = blockIdx.y;
    const int rowTiles = (seq + 15) / 16, groups = (seq + 63) / 64;
    const bf16* xsrc = x + b * inter * dim + n0;
    const int xCols = dim - n0;  // valid columns of the tile (may exceed 64)

    GsAcc acc[MN_MAX_ROW_TILES];
    TRM_UNROLL
    for (int t = 0; t < MN_MAX_ROW_TILES; t++) gs_wmma::fill_fragment(acc[t], 0.0f);

    GsChunk rw[MN_MAX_GROUPS][GS_CHUNKS], rx[MN_X_CHUNKS];
    TRM_UNROLL
    for (int g = 0; g < MN_MAX_GROUPS; g++) {
        if (g < groups) gs_fetch(rw[g], w + (long)g * 64 * inter, seq - 64 * g, 0, inter);
    }
    mn_fetch_x(rx, xsrc, 0, inter, xCols, dim);
    for (int k0 = 0; k0 < inter; k0 += MN_BK) {
        __syncthreads();  // every warp is done with the previous tile
        TRM_UNROLL
        for (int g = 0; g < MN_MAX_GROUPS; g++) {
            if (g < groups) gs_stage(ws + g * 64 * GS_LDK, rw[g]);
        }
        mn_stage_x(xs, rx);
        __syncthreads();
        if (k0 + MN_BK < inter) {  // the next tile's global loads overlap this tile's mma
            TRM_UNROLL
            for (int g = 0; g < MN_MAX_GROUPS; g++) {
                if (g < groups) gs_fetch(rw[g], w + (long)g * 64 * inter, seq - 64 * g, k0 + MN_BK, inter);
            }
            mn_fetch_x(rx, xsrc, k0 + MN_BK, inter, xCols, dim);
        }
        TRM_UNROLL
        for (int kk = 0; kk < MN_BK; kk += 16) {
            if (k0 + kk >= inter) break;  // a k step wholly past I (uniform)
            gs_wmma::fragment<gs_wmma::matrix_b, 16, 16, 16, bf16, gs_wmma::row_major> bf;
            gs_wmma::load_matrix_sync(bf, xs + kk * GM_LDB + warp * 16, GM_LDB);
            TRM_UNROLL
            for (int t = 0; t < MN_MAX_ROW_TILES; t++) {
                if (t < rowTiles) {  // uniform over the block
                    gs_wmma::fragment<gs_wmma::matrix_a, 16, 16, 16, bf16, gs_wmma::row_major> af;
                    gs_wmma::load_matrix_sync(af, ws + t * 16 * GS_LDK + kk, GS_LDK);
                    gs_wmma::mma_sync(acc[t], af, bf, acc[t]);
                }
            }
        }
    }

    __syncthreads();  // the operand tiles are consumed: the buffer becomes the epilogue tile
    TRM_UNROLL
    for (int t = 0; t < MN_MAX_ROW_TILES; t++) {
        if (t < rowTiles) {
            gs_wmma::store_matrix_sync(cs + t * 16 * GS_LDC + warp * 16, acc[t], GS_LDC, gs_wmma::mem_row_major);
        }
    }
    __syncthreads();  // a column's rows come from every row tile of one warp, read by two other threads

    const int c = threadIdx.x % MN_BN, half = threadIdx.x / MN_BN;
    const bool live = c < xCols;                 // the column lies inside D
    const long at = b * seq * dim + n0 + c;      // res / out [b, 0, n0 + c]
    float ss = 0.0f;
    if (live) {
        for (int r = half; r < seq; r += 2) {
            float h = cs[r * GS_LDC + c] + __bfloat162float(res[at + (long)r * dim]);
            cs[r * GS_LDC + c] = h;  // read back below by this thread only
            ss += h * h;
        }
    }
    colSums[half][c] = ss;
    __syncthreads();
    const float scale = rsqrtf((colSums[0][c] + colSums[1][c]) / seq + eps);
    if (live) {
        if (half == 0) rstd[b * dim + n0 + c] = scale;
        for (int r = half; r < seq; r += 2) out[at + (long)r * dim] = __float2bfloat16(cs[r * GS_LDC + c] * scale);
    }
}
TRM_EXPORT(gemm_mix_norm, MN_THREADS)
