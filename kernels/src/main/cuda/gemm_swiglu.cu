// gemm_swiglu.cu: the channel MLP's first GEMM with the SwiGLU activation in its epilogue (issue 6), on tensor cores.
//   x [rows, D] bf16, w [2I, D] bf16 row-major (rows 0..I-1: gate, I..2I-1: up; the gate_up weight's bf16 copy)
//   h [rows, I] bf16 = silu(x w_gate^T) * (x w_up^T);  gu [rows, 2I] bf16 = x w^T as well when gu != nullptr
//   (training keeps it for swiglu_backward; the no-grad calls pass nullptr and never store it).
// The unfused path is cuBLAS (gu = x w^T, bf16 out) then swiglu_forward; GpuBackend picks between the two per shape
// (timed once on the device; see GpuBackend.linearSwiglu). A file of its own because it is a GEMM (tiling, staging,
// WMMA) with an epilogue, not an elementwise activation: swiglu.cu keeps the activation and its formula
// (swiglu_value, shared by both so the epilogue cannot drift from swiglu_forward).
//
// Work split: grid (ceil(I / 64), ceil(rows / 64)); a block of 4 warps owns h rows r0 .. r0+63, columns j0 .. j0+63,
// and accumulates BOTH the gate columns j0.. and the up columns I+j0.. of x w^T over D in k-tiles of 32. Warp
// (wr, wc) = (warp / 2, warp % 2) owns the 32 x 32 sub-tile at rows 32 wr, columns 32 wc: 2 x 2 gate and 2 x 2 up
// accumulator fragments (16x16x16, bf16 in, fp32 accumulate), 8 mma per 16 of k. Column tiles of one row tile are
// neighbours in the grid (x fastest), so the same x rows are read from L2 by consecutive blocks.
//
// Staging: per k-tile the block copies x rows [64 x 32], gate rows [64 x 32] and up rows [64 x 32] of w into shared
// memory (row stride 40 bf16 = 80 bytes: the eight 16-byte rows a WMMA load touches fall in distinct banks; every
// fragment pointer is 32-byte aligned, every stride a multiple of 16 bytes, as WMMA requires and the emulator checks).
// Global loads are 16 bytes (8 bf16), 2 + 2 + 2 per thread per tile, and register double-buffered: the next tile's
// loads are issued before the current tile's mma and written to shared after them. No cp.async: the emulator
// (emu/cuda_emu.h) does not implement it. Guards: x rows past `rows`, w rows past I (gate j0 + n >= I, and the same
// n for up) and k past D load zeros, so partial tiles multiply by zero; stores skip rows past `rows` and columns past I.
// Constraints (GpuKernels.gemmSwiglu checks them with a clear error): D % 8 == 0 and I % 8 == 0 (a 16-byte chunk is
// either wholly inside a row or wholly past its end; row strides are multiples of 16 bytes), rows <= 65535 * 64.
//
// Epilogue: fragments of the same type share their element mapping, so h = silu(g) * u is computed element by element
// on the accumulator fragments themselves (swiglu_value, fp32), then each warp stores its 32 x 32 through shared fp32
// (row stride 68 floats) and writes bf16 rows as 16-byte stores. With gu, the raw gate and up fragments go the same way
// first (rounded once to bf16, as cuBLAS's bf16 output).
//
// Precision against the unfused path: cuBLAS rounds gate and up to bf16 (gu is bf16) before swiglu_forward; here h is
// computed from the fp32 accumulators and rounded once, so the fused h is slightly MORE accurate (closer to the fp32
// CPU backend): an error of one bf16 rounding of h (at most 2^-8 relative) instead of that plus the propagated
// roundings of g and u (up to 2^-8 relative each; GemmSwigluCheck measures about 4e-3 against 9e-3 at its shapes). With gu kept, training's backward reads the rounded gu, as before. Accumulation order within the
// k sums differs from cuBLAS's, so neither path is bitwise the other.
//
// Resources (sm_90, CUDA 13 ptxas, kernels/target/ptxas-report.txt): 164 registers, 0 spill stores / loads, no stack;
// 17,408 bytes static shared memory (the three operand tiles, 15,360 bytes, and the fp32 epilogue tile, 17,408 bytes,
// share one buffer). 164 x 128 threads: 3 blocks (12 warps) per SM by registers.
// UNVERIFIED here (no GPU on the build machine): its speed, whether it beats cuBLAS + swiglu_forward at any shape,
// and the WMMA fragments' behaviour on real tensor cores (the emulator checks the API contract, not the hardware).
#include "common.cuh"
// swiglu_value comes from swiglu.cu, which trm_kernels.cu includes just before this file.

#ifdef __CUDACC__
typedef uint4 GsChunk;  // 16 bytes: 8 bf16
#else
struct GsChunk {
    unsigned x, y, z, w;
};
#endif

#define GS_BM 64                // h rows per block
#define GS_BN 64                // h columns per block (and as many gate and up columns)
#define GS_BK 32                // k-tile
#define GS_LDK (GS_BK + 8)      // bf16 row stride of the staged operand tiles: 80 bytes
#define GS_LDC (GS_BN + 4)      // fp32 row stride of the epilogue tile: 272 bytes
#define GS_THREADS 128          // 4 warps, 2 x 2 over the tile, 32 x 32 each
#define GS_CHUNKS (GS_BM * GS_BK / 8 / GS_THREADS)  // 16-byte chunks per thread per operand tile: 2
#define GS_OPERAND_BYTES (3 * GS_BM * GS_LDK * 2)
#define GS_EPILOGUE_BYTES (GS_BM * GS_LDC * 4)
#define GS_SMEM_BYTES (GS_OPERAND_BYTES > GS_EPILOGUE_BYTES ? GS_OPERAND_BYTES : GS_EPILOGUE_BYTES)

namespace gs_wmma = nvcuda::wmma;

__device__ __forceinline__ GsChunk gs_load16(const bf16* p) {
#ifdef __CUDACC__
    return *reinterpret_cast<const GsChunk*>(p);
#else
    emu_check_aligned(p, 16, "gs_load16 (a uint4 load)");
    GsChunk c;
    std::memcpy(&c, p, sizeof c);
    return c;
#endif
}
__device__ __forceinline__ void gs_store16(bf16* p, GsChunk c) {
#ifdef __CUDACC__
    *reinterpret_cast<GsChunk*>(p) = c;
#else
    emu_check_aligned(p, 16, "gs_store16 (a uint4 store)");
    std::memcpy(p, &c, sizeof c);
#endif
}
// Two floats as bf16 in one 32-bit word, the first in the low half (little-endian: the lower address).
__device__ __forceinline__ unsigned gs_pack2(float a, float b) {
    return (unsigned)__bfloat16_as_ushort(__float2bfloat16(a)) |
           ((unsigned)__bfloat16_as_ushort(__float2bfloat16(b)) << 16);
}

// Chunk i of this thread in a [64 x 32] operand tile: row c / 4, k offset 8 (c % 4), c = threadIdx.x + 128 i.
// src points at row 0, column k0 of the operand; rows at or past rowLimit and k at or past dim read as zeros.
__device__ __forceinline__ void gs_fetch(GsChunk* reg, const bf16* src, int rowLimit, int k0, int dim) {
    TRM_UNROLL
    for (int i = 0; i < GS_CHUNKS; i++) {
        int c = threadIdx.x + GS_THREADS * i, row = c >> 2, k = k0 + (c & 3) * 8;
        GsChunk v = {0u, 0u, 0u, 0u};
        if (row < rowLimit && k < dim) v = gs_load16(src + (long)row * dim + k);
        reg[i] = v;
    }
}
__device__ __forceinline__ void gs_stage(bf16* tile, const GsChunk* reg) {
    TRM_UNROLL
    for (int i = 0; i < GS_CHUNKS; i++) {
        int c = threadIdx.x + GS_THREADS * i;
        gs_store16(tile + (c >> 2) * GS_LDK + (c & 3) * 8, reg[i]);
    }
}

// The warp's 32 x 32 fp32 tile at cw (row stride GS_LDC) to dst [rows, ld] bf16 at (row0, col0): 4 chunks of 8 columns
// per lane, rows past `rows` and columns past `cols` skipped (cols % 8 == 0, so a chunk is wholly in or out).
__device__ __forceinline__ void gs_write_warp(const float* cw, bf16* dst, long ld, int row0, int rows, int col0,
                                              int cols) {
    const int lane = threadIdx.x % 32;
    TRM_UNROLL
    for (int i = 0; i < 4; i++) {
        int q = lane + 32 * i, r = q >> 2, c = (q & 3) * 8;
        if (row0 + r < rows && col0 + c < cols) {
            const float* v = cw + r * GS_LDC + c;
            GsChunk out = {gs_pack2(v[0], v[1]), gs_pack2(v[2], v[3]), gs_pack2(v[4], v[5]), gs_pack2(v[6], v[7])};
            gs_store16(dst + (long)(row0 + r) * ld + col0 + c, out);
        }
    }
}

typedef gs_wmma::fragment<gs_wmma::accumulator, 16, 16, 16, float> GsAcc;

__device__ __forceinline__ void gs_store_frags(float* cw, GsAcc (&f)[2][2]) {
    TRM_UNROLL
    for (int i = 0; i < 2; i++) {
        TRM_UNROLL
        for (int j = 0; j < 2; j++)
            gs_wmma::store_matrix_sync(cw + i * 16 * GS_LDC + j * 16, f[i][j], GS_LDC, gs_wmma::mem_row_major);
    }
    __syncwarp();
}

// The epilogue both SwiGLU GEMMs share (gemm_mix_swiglu.cu too), after the operand tiles are consumed: with
// guGate != nullptr (uniform over the grid) the raw gate and up tiles go to guGate / guUp (row stride guLd) first;
// then h = silu(g) * u element by element on the fragments themselves, to h (row stride hLd). cw is this warp's
// 32 x 32 of the fp32 epilogue tile; (row0, col0) its place in the outputs, rows x cols their extent.
__device__ __forceinline__ void gs_swiglu_epilogue(float* cw, GsAcc (&g)[2][2], GsAcc (&u)[2][2], bf16* guGate,
                                                   bf16* guUp, long guLd, bf16* h, long hLd, int row0, int rows,
                                                   int col0, int cols) {
    if (guGate != nullptr) {
        gs_store_frags(cw, g);
        gs_write_warp(cw, guGate, guLd, row0, rows, col0, cols);
        __syncwarp();
        gs_store_frags(cw, u);
        gs_write_warp(cw, guUp, guLd, row0, rows, col0, cols);
        __syncwarp();
    }
    TRM_UNROLL
    for (int i = 0; i < 2; i++) {
        TRM_UNROLL
        for (int j = 0; j < 2; j++) {
            TRM_UNROLL
            for (int e = 0; e < g[i][j].num_elements; e++) g[i][j].x[e] = swiglu_value(g[i][j].x[e], u[i][j].x[e]);
        }
    }
    gs_store_frags(cw, g);
    gs_write_warp(cw, h, hLd, row0, rows, col0, cols);
}

TRM_KERNEL void __launch_bounds__(GS_THREADS)
    gemm_swiglu(const bf16* __restrict__ x, const bf16* __restrict__ w, bf16* __restrict__ gu, bf16* __restrict__ h,
                int rows, int dim, int inter) {
    trm_pdl_begin();
    __shared__ TRM_ALIGN(32) unsigned char smem[GS_SMEM_BYTES];
    bf16* as = reinterpret_cast<bf16*>(smem);  // x rows   [64][GS_LDK]
    bf16* bg = as + GS_BM * GS_LDK;              // gate rows of w [64][GS_LDK]: B = w^T, column-major
    bf16* bu = bg + GS_BN * GS_LDK;              // up rows of w
    float* cs = reinterpret_cast<float*>(smem);  // epilogue [64][GS_LDC], after the last k-tile

    const int r0 = blockIdx.y * GS_BM, j0 = blockIdx.x * GS_BN;
    const int warp = threadIdx.x / 32, wr = warp / 2, wc = warp % 2;
    const bf16* xs = x + (long)r0 * dim;
    const bf16* gs = w + (long)j0 * dim;
    const bf16* us = w + (long)(inter + j0) * dim;
    const int xRows = rows - r0, wRows = inter - j0;  // valid rows of each operand tile (may exceed 64)

    GsAcc g[2][2], u[2][2];
    TRM_UNROLL
    for (int i = 0; i < 2; i++) {
        TRM_UNROLL
        for (int j = 0; j < 2; j++) {
            gs_wmma::fill_fragment(g[i][j], 0.0f);
            gs_wmma::fill_fragment(u[i][j], 0.0f);
        }
    }

    GsChunk ra[GS_CHUNKS], rg[GS_CHUNKS], ru[GS_CHUNKS];
    gs_fetch(ra, xs, xRows, 0, dim);
    gs_fetch(rg, gs, wRows, 0, dim);
    gs_fetch(ru, us, wRows, 0, dim);
    for (int k0 = 0; k0 < dim; k0 += GS_BK) {
        __syncthreads();  // every warp is done with the previous tile
        gs_stage(as, ra);
        gs_stage(bg, rg);
        gs_stage(bu, ru);
        __syncthreads();
        if (k0 + GS_BK < dim) {  // the next tile's global loads overlap this tile's mma
            gs_fetch(ra, xs, xRows, k0 + GS_BK, dim);
            gs_fetch(rg, gs, wRows, k0 + GS_BK, dim);
            gs_fetch(ru, us, wRows, k0 + GS_BK, dim);
        }
        TRM_UNROLL
        for (int kk = 0; kk < GS_BK; kk += 16) {
            gs_wmma::fragment<gs_wmma::matrix_a, 16, 16, 16, bf16, gs_wmma::row_major> af[2];
            TRM_UNROLL
            for (int i = 0; i < 2; i++) gs_wmma::load_matrix_sync(af[i], as + (wr * 32 + i * 16) * GS_LDK + kk, GS_LDK);
            TRM_UNROLL
            for (int j = 0; j < 2; j++) {
                gs_wmma::fragment<gs_wmma::matrix_b, 16, 16, 16, bf16, gs_wmma::col_major> bf;
                gs_wmma::load_matrix_sync(bf, bg + (wc * 32 + j * 16) * GS_LDK + kk, GS_LDK);
                TRM_UNROLL
                for (int i = 0; i < 2; i++) gs_wmma::mma_sync(g[i][j], af[i], bf, g[i][j]);
                gs_wmma::load_matrix_sync(bf, bu + (wc * 32 + j * 16) * GS_LDK + kk, GS_LDK);
                TRM_UNROLL
                for (int i = 0; i < 2; i++) gs_wmma::mma_sync(u[i][j], af[i], bf, u[i][j]);
            }
        }
    }

    __syncthreads();  // the operand tiles are consumed: the buffer becomes the epilogue tile
    float* cw = cs + wr * 32 * GS_LDC + wc * 32;  // this warp's 32 x 32
    // gu [rows, 2I]: gate columns 0..I-1, up columns I..2I-1 of each row
    gs_swiglu_epilogue(cw, g, u, gu, gu == nullptr ? nullptr : gu + inter, 2L * inter, h, inter, r0 + wr * 32, rows,
                       j0 + wc * 32, inter);
}
TRM_EXPORT(gemm_swiglu, GS_THREADS)
