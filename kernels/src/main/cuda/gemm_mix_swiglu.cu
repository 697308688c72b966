// gemm_mix_swiglu.cu: the token mixer's gate_up GEMM (along the sequence) with the SwiGLU activation in its epilogue,
// on tensor cores; the sequence-axis twin of gemm_swiglu.cu (the channel MLP's), whose helpers it reuses.
//   w [2I, S] bf16 row-major (rows 0..I-1: gate, I..2I-1: up; mixGateUp's bf16 copy), x [B, S, D] bf16
//   h [B, I, D] bf16: h[b] = silu(w_gate x[b]) * (w_up x[b]);  gu [B, 2I, D] bf16: gu[b] = w x[b] when gu != nullptr
//   (the layout GpuBackend.tokenMix writes and swiglu_backward reads with inter = I D: per batch row the gate block
//   [I, D], then the up block [I, D]). Training keeps gu; the no-grad calls pass nullptr and never store it.
// The unfused path is one cuBLAS strided-batched GEMM (gu, bf16 out) then swiglu_forward; GpuBackend picks between
// the two per shape (GpuBackend.tokenMixSwiglu, the same choice as linearSwiglu). At the Sudoku-MLP preset (S = 97,
// I = 512, D = 512, B = 768) gu is 805 MB of bf16 per block call, written and read back by the unfused path.
// A file of its own rather than a second kernel in gemm_swiglu.cu: the operands are staged differently (the shared
// operand is x[b], matrix_b row-major; w's rows of S = 97 bf16 are not 16-byte aligned and load as scalars), while
// what is common (the 16-byte chunk type, the epilogue's fragment store and bf16 row writes) is reused from
// gemm_swiglu.cu, which trm_kernels.cu includes just before this file.
//
// Work split: grid (ceil(D / 64), ceil(I / 64), B); a block of 4 warps owns h[b] rows i0 .. i0+63 (intermediate
// index), columns n0 .. n0+63 (channels), and accumulates BOTH the gate rows i0.. and the up rows I+i0.. of w x[b]
// over S in k-tiles of 32. Warp (wr, wc) = (warp / 2, warp % 2) owns the 32 x 32 sub-tile at rows 32 wr, columns
// 32 wc: 2 x 2 gate and 2 x 2 up accumulator fragments (16x16x16, bf16 in, fp32 accumulate); the matrix_b fragment
// (x) is shared, the matrix_a fragments differ (gate rows, up rows). Column tiles are neighbours in the grid (x
// fastest), so consecutive blocks read the same w rows from L2; one batch row's blocks are contiguous in z.
//
// Staging (no register double-buffering: S is short, 4 k-tiles at S = 97, 7 WMMA k steps as a k step wholly past S
// is skipped): per k-tile the block copies gate rows
// [64 x 32] and up rows [64 x 32] of w (row stride 40 bf16 = 80 bytes, as gemm_swiglu) and x[b] rows [32 x 64]
// (row stride 72 bf16 = 144 bytes) into shared memory. Every fragment pointer is 32-byte aligned, every stride a
// multiple of 16 bytes, as WMMA requires and the emulator checks. w loads are scalar bf16 (a row of w starts at
// r S elements: no alignment is provable for odd S), 16 per thread per operand tile, consecutive threads on
// consecutive k (a warp reads 64 contiguous bytes of one row); x loads are 16 bytes (8 bf16, D % 8 == 0 keeps every
// chunk aligned and wholly inside or past a row), 2 per thread per tile. Guards: w rows past I, k past S and x
// columns past D load zeros, so partial tiles multiply by zero; stores skip rows past I and columns past D.
// Constraints (GpuKernels.gemmMixSwiglu checks them with a clear error): D % 8 == 0, ceil(I / 64) <= 65535,
// B <= 65535 (grid y and z limits). S and I are free.
//
// Epilogue: gemm_swiglu.cu's gs_swiglu_epilogue, shared by both kernels: h = silu(g) * u element by element on the
// accumulator fragments themselves (swiglu_value from swiglu.cu, fp32; fragments of one type share their element
// mapping), then each warp stores its 32 x 32 through shared fp32 (row stride 68 floats) and writes bf16 rows as
// 16-byte stores. With gu, the raw gate and up fragments go the same way first (rounded once to bf16, as cuBLAS's).
//
// Precision against the unfused path: as gemm_swiglu, h is rounded once from the fp32 accumulators instead of from
// the bf16-rounded gate and up, so it is slightly closer to the fp32 CPU backend; the k sums run in another order than
// cuBLAS's, so neither path is bitwise the other.
//
// Resources (sm_90, CUDA 13 ptxas, kernels/target/ptxas-report.txt): 168 registers, 0 spill stores / loads, no stack;
// 17,408 bytes static shared memory (the operand tiles, 14,848 bytes, and the fp32 epilogue tile, 17,408 bytes, share
// one buffer). 168 x 128 threads: 3 blocks (12 warps) per SM by registers, as gemm_swiglu. The 3 is asked for
// (__launch_bounds__(128, 3)): skipping the k steps past S let ptxas take 196 registers (2 blocks per SM) without it;
// with it, the same 168 as before that skip and no spills (sm_80 to sm_90).
// UNVERIFIED on hardware (no GPU on the build machine): its speed, whether it beats cuBLAS + swiglu_forward at any
// shape, and the WMMA fragments' behaviour on real tensor cores (the emulator checks the API contract only).
#include "common.cuh"

#define GM_BM 64                // h rows (intermediate index) per block
#define GM_BN 64                // h columns (channels) per block
#define GM_BK 32                // k-tile (sequence positions)
#define GM_LDA (GM_BK + 8)      // bf16 row stride of the staged w tiles: 80 bytes
#define GM_LDB (GM_BN + 8)      // bf16 row stride of the staged x tile: 144 bytes
#define GM_THREADS 128          // 4 warps, 2 x 2 over the tile, 32 x 32 each
#define GM_A_SCALARS (GM_BM * GM_BK / GM_THREADS)       // bf16 per thread per w tile: 16
#define GM_B_CHUNKS (GM_BK * GM_BN / 8 / GM_THREADS)    // 16-byte chunks per thread per x tile: 2
#define GM_OPERAND_BYTES ((2 * GM_BM * GM_LDA + GM_BK * GM_LDB) * 2)
#define GM_EPILOGUE_BYTES (GM_BM * GS_LDC * 4)
#define GM_SMEM_BYTES (GM_OPERAND_BYTES > GM_EPILOGUE_BYTES ? GM_OPERAND_BYTES : GM_EPILOGUE_BYTES)

// w rows [64 x 32] at k0 into tile (row stride GM_LDA): element e = threadIdx.x + 128 q is row e / 32, k e % 32.
// src points at row 0 of the operand (gate or up block); rows at or past rowLimit and k at or past seq are zeros.
__device__ __forceinline__ void gm_stage_w(bf16* tile, const bf16* src, int rowLimit, int k0, int seq) {
    const int k = threadIdx.x % GM_BK, kg = k0 + k;
    TRM_UNROLL
    for (int q = 0; q < GM_A_SCALARS; q++) {
        int row = threadIdx.x / GM_BK + q * (GM_THREADS / GM_BK);
        bf16 v = __float2bfloat16(0.0f);
        if (row < rowLimit && kg < seq) v = src[(long)row * seq + kg];
        tile[row * GM_LDA + k] = v;
    }
}

// x[b] rows k0 .. k0+31, columns n0 .. n0+63 into tile (row stride GM_LDB): chunk c = threadIdx.x + 128 q is row
// c / 8, columns 8 (c % 8). src points at x[b] row 0, column n0; rows at or past seq and columns at or past colLimit
// are zeros (colLimit % 8 == 0 as D % 8 == 0 and n0 % 64 == 0).
__device__ __forceinline__ void gm_stage_x(bf16* tile, const bf16* src, int k0, int seq, int colLimit, int dim) {
    TRM_UNROLL
    for (int q = 0; q < GM_B_CHUNKS; q++) {
        int c = threadIdx.x + GM_THREADS * q, row = c >> 3, col = (c & 7) * 8;
        GsChunk v = {0u, 0u, 0u, 0u};
        if (k0 + row < seq && col < colLimit) v = gs_load16(src + (long)(k0 + row) * dim + col);
        gs_store16(tile + row * GM_LDB + col, v);
    }
}

TRM_KERNEL void __launch_bounds__(GM_THREADS, 3)
    gemm_mix_swiglu(const bf16* __restrict__ w, const bf16* __restrict__ x, bf16* __restrict__ gu,
                    bf16* __restrict__ h, int seq, int dim, int inter) {
    trm_pdl_begin();
    __shared__ TRM_ALIGN(32) unsigned char smem[GM_SMEM_BYTES];
    bf16* ag = reinterpret_cast<bf16*>(smem);    // gate rows of w [64][GM_LDA], matrix_a row-major
    bf16* au = ag + GM_BM * GM_LDA;              // up rows of w
    bf16* bs = au + GM_BM * GM_LDA;              // x[b] rows [32][GM_LDB], matrix_b row-major
    float* cs = reinterpret_cast<float*>(smem);  // epilogue [64][GS_LDC], after the last k-tile

    const int n0 = blockIdx.x * GM_BN, i0 = blockIdx.y * GM_BM;
    const long b = blockIdx.z;
    const int warp = threadIdx.x / 32, wr = warp / 2, wc = warp % 2;
    const bf16* gsrc = w + (long)i0 * seq;
    const bf16* usrc = w + (long)(inter + i0) * seq;
    const bf16* xsrc = x + b * seq * dim + n0;
    const int wRows = inter - i0, xCols = dim - n0;  // valid rows / columns of the tiles (may exceed 64)

    GsAcc g[2][2], u[2][2];
    TRM_UNROLL
    for (int i = 0; i < 2; i++) {
        TRM_UNROLL
        for (int j = 0; j < 2; j++) {
            gs_wmma::fill_fragment(g[i][j], 0.0f);
            gs_wmma::fill_fragment(u[i][j], 0.0f);
        }
    }

    for (int k0 = 0; k0 < seq; k0 += GM_BK) {
        __syncthreads();  // every warp is done with the previous tile
        gm_stage_w(ag, gsrc, wRows, k0, seq);
        gm_stage_w(au, usrc, wRows, k0, seq);
        gm_stage_x(bs, xsrc, k0, seq, xCols, dim);
        __syncthreads();
        TRM_UNROLL
        for (int kk = 0; kk < GM_BK; kk += 16) {
            if (k0 + kk >= seq) break;  // a k step wholly past S (uniform): at S = 97 the last tile needs 1 of 2
            gs_wmma::fragment<gs_wmma::matrix_b, 16, 16, 16, bf16, gs_wmma::row_major> bf[2];
            TRM_UNROLL
            for (int j = 0; j < 2; j++) gs_wmma::load_matrix_sync(bf[j], bs + kk * GM_LDB + wc * 32 + j * 16, GM_LDB);
            TRM_UNROLL
            for (int i = 0; i < 2; i++) {
                gs_wmma::fragment<gs_wmma::matrix_a, 16, 16, 16, bf16, gs_wmma::row_major> af;
                gs_wmma::load_matrix_sync(af, ag + (wr * 32 + i * 16) * GM_LDA + kk, GM_LDA);
                TRM_UNROLL
                for (int j = 0; j < 2; j++) gs_wmma::mma_sync(g[i][j], af, bf[j], g[i][j]);
                gs_wmma::load_matrix_sync(af, au + (wr * 32 + i * 16) * GM_LDA + kk, GM_LDA);
                TRM_UNROLL
                for (int j = 0; j < 2; j++) gs_wmma::mma_sync(u[i][j], af, bf[j], u[i][j]);
            }
        }
    }

    __syncthreads();  // the operand tiles are consumed: the buffer becomes the epilogue tile
    float* cw = cs + wr * 32 * GS_LDC + wc * 32;  // this warp's 32 x 32
    const long block = (long)inter * dim;  // one [I, D] block
    // gu[b] [2I, D]: the gate block, then the up block
    bf16* gub = gu == nullptr ? nullptr : gu + 2 * b * block;
    gs_swiglu_epilogue(cw, g, u, gub, gub == nullptr ? nullptr : gub + block, dim, h + b * block, dim, i0 + wr * 32,
                       inter, n0 + wc * 32, dim);
}
TRM_EXPORT(gemm_mix_swiglu, GM_THREADS)
