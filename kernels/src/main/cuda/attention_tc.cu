// attention_tc.cu: the attention forward of attention.cu on tensor cores, for head size 64 only (ARC: S = 916,
// hd = 64); other head sizes keep the CUDA-core attention_forward. Same arguments, same results (out, lse in natural
// log), same RoPE fusion; see attention.cu for the shapes.
//
// Precision: the WMMA products take bf16 and accumulate in fp32. Without RoPE, q and k are bf16 values already
// (the scale 1/8 is exact), so S = Q K^T is as exact as fp32 sums get. With RoPE, the rotated q and k (computed in
// fp32) are not: rounding them once to bf16 would put an error of ~4e-3 (sd, at unit-variance q, k) into each score
// and ~1e-2 into lse, which the backward (fp32 scores) then sees as probabilities that no longer sum to 1. So each
// is split as hi = bf16(x), lo = bf16(x - hi), and S = Qhi Khi + Qhi Klo + Qlo Khi (three WMMA products instead of
// one; the dropped Qlo Klo is ~2^-16 relative). V is bf16 already. The probabilities are split the same way,
// O += Phi V + Plo V: with P in bf16 alone, each weight would be off by up to 2^-9 relative, which shows in outputs
// that are small through cancellation (near-uniform attention): 0.12 elementwise relative error (floor 1% of the
// largest) in KernelSelftest's check, against 4e-3 for the CUDA-core kernel. The row sums l add the fp32
// probabilities. Softmax in fp32 (natural exp); lse = m + log(l). Tensor work: 3 products for Q K^T (1 without
// RoPE) and 2 for P V, against 1 and 1 at plain bf16; if the H200 shows the mma as the limit, the lo terms are
// where to trade accuracy for speed.
//
// Work split: grid (ceil(S/64), H, B), a block of 4 warps owns 64 query rows of one (b, h); warp w owns rows
// 16w .. 16w+15 (one WMMA row tile), its Q fragments stay in registers for the whole kernel. The block walks the keys
// in tiles of 32 (K and V staged in shared bf16, rows past S zero); per tile each warp:
//   1. S (16 x 32) = Q K^T: 2 x 4 mma (x 3 with RoPE), stored to the warp's fp32 score buffer;
//   2. online softmax: lane (r = lane / 2, half = lane % 2) owns row r, keys 16 half .. 16 half + 15 of the tile
//      (masked past S): the row max over the lane pair (one shuffle), rescale factor alpha = exp(m_old - m_new),
//      P (hi, lo in bf16) over the row's own scores (row r: hi in bf16 columns 0..31, lo in 32..63 of the same 144
//      bytes, once the warp has read them), and it rescales its 32 of the row's 64 O columns in shared by alpha;
//   3. O (16 x 64, fp32 in shared) += P V: per 16 columns, load the accumulator, 4 mma, store it back.
// O stays in shared memory because the accumulator fragment's per-lane layout is opaque: rescaling it row by row
// needs the values where a lane knows their row. At the end each lane pair writes its row: O / l to bf16, lse.
//
// Shared memory, all static (hd = 64): K (hi, lo) and V tiles 3 x 32 x 72 bf16 = 13.5 KiB, scores (then P) 4 x 16 x
// 36 fp32 = 9 KiB, O 4 x 16 x 68 fp32 = 17 KiB: 39.5 KiB. The Q tile (hi, lo: 64 x 72 bf16 each) is staged in the
// score and O buffers before their first use. Row strides are padded (72 bf16, 36 and 68 fp32) so the eight
// 16-byte rows a WMMA load touches fall in distinct banks; every WMMA pointer is 32-byte aligned and every stride a
// multiple of 16 bytes, as WMMA requires (the emulator checks both).
#include "common.cuh"
// att_rope_pair comes from attention.cu, which trm_kernels.cu includes just before this file.

#ifdef __CUDACC__
#define ATC_UNROLL _Pragma("unroll")
#else
#define ATC_UNROLL
#endif
#define ATC_ALIGN __attribute__((aligned(32)))

#define ATC_HD 64                          // the only head size
#define ATC_WARPS 4
#define ATC_THREADS (ATC_WARPS * 32)
#define ATC_ROWS 16                        // query rows per warp: one WMMA tile
#define ATC_QTILE (ATC_WARPS * ATC_ROWS)   // query rows per block: 64
#define ATC_KEYS 32                        // key tile
#define ATC_LDH 72                         // bf16 row stride of the Q, K, V tiles
#define ATC_LDS 36                         // fp32 row stride of the scores
#define ATC_LDP (2 * ATC_LDS)              // bf16 row stride of P, written over the scores
#define ATC_LDO 68                         // fp32 row stride of O

namespace wmma = nvcuda::wmma;

// Rows [r0, r0 + rows) of one head's slice of qkv (row 0 at src, rows `stride` apart) into dst[row * ATC_LDH + d]
// as bf16: rotated by RoPE (position = row) when cos != nullptr, times mul, in fp32, then rounded; when lo is not
// null, the remainder x - dst (rounded to bf16) goes to lo at the same place. Rows past seq are zero. Each thread
// takes the pair (j, j + 32) RoPE mixes; consecutive threads take consecutive j.
__device__ __forceinline__ void atc_store_split(bf16* dst, bf16* lo, int at, float x) {
    bf16 hi = __float2bfloat16(x);
    dst[at] = hi;
    if (lo != nullptr) lo[at] = __float2bfloat16(x - __bfloat162float(hi));
}
__device__ __forceinline__ void atc_load_tile(bf16* dst, bf16* lo, const bf16* src, long stride, int r0, int rows,
                                              int seq, const float* cos, const float* sin, float mul) {
    const int half = ATC_HD / 2;
    for (int t = threadIdx.x; t < rows * half; t += blockDim.x) {
        int row = t / half, j = t % half, pos = r0 + row;
        float a = 0.0f, c = 0.0f;
        if (pos < seq) att_rope_pair(src + (long)pos * stride, j, ATC_HD, pos, cos, sin, mul, a, c);
        atc_store_split(dst, lo, row * ATC_LDH + j, a);
        atc_store_split(dst, lo, row * ATC_LDH + j + half, c);
    }
}

TRM_KERNEL void __launch_bounds__(ATC_THREADS)
    attention_forward_tc(const bf16* __restrict__ qkv, bf16* __restrict__ out, float* __restrict__ lse,
                         const float* __restrict__ cos, const float* __restrict__ sin, int seq, int heads, int hd) {
    __shared__ ATC_ALIGN bf16 ks[ATC_KEYS][ATC_LDH];                  // K of the key tile, rotated (hi)
    __shared__ ATC_ALIGN bf16 kl[ATC_KEYS][ATC_LDH];                  // with RoPE: its lo part
    __shared__ ATC_ALIGN bf16 vs[ATC_KEYS][ATC_LDH];                  // V of the key tile
    __shared__ ATC_ALIGN float sc[ATC_WARPS][ATC_ROWS][ATC_LDS];      // each warp's scores, then P; first Q hi
    __shared__ ATC_ALIGN float os[ATC_WARPS][ATC_ROWS][ATC_LDO];      // each warp's unnormalised output; first Q lo
    static_assert(sizeof(sc) >= ATC_QTILE * ATC_LDH * sizeof(bf16) && sizeof(os) >= sizeof(sc),
                  "the Q tile (hi, lo) is staged in the score and O buffers");
    if (hd != ATC_HD) return;  // GpuKernels launches this kernel for hd = 64 only (the whole grid leaves)
    const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * ATC_QTILE;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int r = lane >> 1, half = lane & 1;  // softmax and output: the lane's row of the warp's 16, its half
    const int dim = heads * ATC_HD;
    const long stride = 3L * dim;
    const bf16* q = qkv + (long)b * seq * stride + (long)h * ATC_HD;

    const bool split = cos != nullptr;  // RoPE: the rotated q, k are hi + lo (uniform over the grid)
    bf16* qhi = reinterpret_cast<bf16*>(&sc[0][0][0]);  // [64][ATC_LDH]
    bf16* qlo = reinterpret_cast<bf16*>(&os[0][0][0]);
    atc_load_tile(qhi, split ? qlo : nullptr, q, stride, i0, ATC_QTILE, seq, cos, sin, 0.125f);  // 1/sqrt(64)
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> qf[ATC_HD / 16], qlf[ATC_HD / 16];
    ATC_UNROLL
    for (int kk = 0; kk < ATC_HD / 16; kk++) {
        wmma::load_matrix_sync(qf[kk], qhi + warp * ATC_ROWS * ATC_LDH + kk * 16, ATC_LDH);
        if (split) wmma::load_matrix_sync(qlf[kk], qlo + warp * ATC_ROWS * ATC_LDH + kk * 16, ATC_LDH);
    }
    __syncthreads();  // every warp holds its Q fragments: os may be cleared (and sc written, after the next barrier)
    for (int t = lane; t < ATC_ROWS * ATC_LDO; t += 32) (&os[warp][0][0])[t] = 0.0f;
    float m = -INFINITY, l = 0.0f;  // the row's running max and the lane's share of its sum (same m in the pair)
    for (int k0 = 0; k0 < seq; k0 += ATC_KEYS) {
        __syncthreads();  // the previous tile is consumed
        atc_load_tile(&ks[0][0], split ? &kl[0][0] : nullptr, q + dim, stride, k0, ATC_KEYS, seq, cos, sin, 1.0f);
        atc_load_tile(&vs[0][0], nullptr, q + 2 * dim, stride, k0, ATC_KEYS, seq, nullptr, nullptr, 1.0f);
        __syncthreads();
        // 1. S = Q K^T (with RoPE: Qhi Khi + Qlo Khi + Qhi Klo); K row-major [key][d] is K^T column-major
        ATC_UNROLL
        for (int n = 0; n < ATC_KEYS / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
            wmma::fill_fragment(sf, 0.0f);
            ATC_UNROLL
            for (int kk = 0; kk < ATC_HD / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, &ks[n * 16][kk * 16], ATC_LDH);
                wmma::mma_sync(sf, qf[kk], kf, sf);
                if (split) {
                    wmma::mma_sync(sf, qlf[kk], kf, sf);
                    wmma::load_matrix_sync(kf, &kl[n * 16][kk * 16], ATC_LDH);
                    wmma::mma_sync(sf, qf[kk], kf, sf);
                }
            }
            wmma::store_matrix_sync(&sc[warp][0][n * 16], sf, ATC_LDS, wmma::mem_row_major);
        }
        __syncwarp();
        // 2. online softmax of row r over keys k0 + 16 half + i
        float s[16], mx = -INFINITY;
        ATC_UNROLL
        for (int i = 0; i < 16; i++) {
            s[i] = k0 + half * 16 + i < seq ? sc[warp][r][half * 16 + i] : -INFINITY;
            mx = fmaxf(mx, s[i]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        const float mn = fmaxf(m, mx);  // finite: key k0 < seq is in every tile; alpha = 0 on the first tile
        const float alpha = __expf(m - mn);
        float sum = 0.0f;
        bf16* prow = reinterpret_cast<bf16*>(&sc[warp][r][0]);  // P row r over score row r: hi, then lo
        __syncwarp();  // every lane has read its scores
        ATC_UNROLL
        for (int i = 0; i < 16; i++) {
            float p = __expf(s[i] - mn);  // masked keys: exp(-inf) = 0
            atc_store_split(prow, prow + ATC_KEYS, half * 16 + i, p);
            sum += p;
        }
        l = l * alpha + sum;
        m = mn;
        ATC_UNROLL
        for (int j = 0; j < 32; j++) os[warp][r][half * 32 + j] *= alpha;
        __syncwarp();
        // 3. O += Phi V + Plo V
        const bf16* pw = reinterpret_cast<const bf16*>(&sc[warp][0][0]);
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> pf[ATC_KEYS / 16], plf[ATC_KEYS / 16];
        ATC_UNROLL
        for (int kk = 0; kk < ATC_KEYS / 16; kk++) {
            wmma::load_matrix_sync(pf[kk], pw + kk * 16, ATC_LDP);
            wmma::load_matrix_sync(plf[kk], pw + ATC_KEYS + kk * 16, ATC_LDP);
        }
        ATC_UNROLL
        for (int dn = 0; dn < ATC_HD / 16; dn++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
            wmma::load_matrix_sync(of, &os[warp][0][dn * 16], ATC_LDO, wmma::mem_row_major);
            ATC_UNROLL
            for (int kk = 0; kk < ATC_KEYS / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> vf;
                wmma::load_matrix_sync(vf, &vs[kk * 16][dn * 16], ATC_LDH);
                wmma::mma_sync(of, pf[kk], vf, of);
                wmma::mma_sync(of, plf[kk], vf, of);
            }
            wmma::store_matrix_sync(&os[warp][0][dn * 16], of, ATC_LDO, wmma::mem_row_major);
        }
        // sc and os are touched again only after the next tile's __syncthreads
    }
    __syncwarp();  // the last O stores are visible to every lane
    const float total = l + __shfl_xor_sync(0xffffffffu, l, 1);
    const int i = i0 + warp * ATC_ROWS + r;
    if (i < seq) {
        const float inv = 1.0f / total;
        bf16* dst = out + ((long)b * seq + i) * dim + (long)h * ATC_HD + half * 32;
        ATC_UNROLL
        for (int j = 0; j < 32; j++) dst[j] = __float2bfloat16(os[warp][r][half * 32 + j] * inv);
        if (half == 0) lse[((long)b * heads + h) * seq + i] = m + logf(total);
    }
}
TRM_EXPORT(attention_forward_tc)
