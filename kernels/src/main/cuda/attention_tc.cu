// attention_tc.cu: the attention forward of attention.cu on tensor cores, for head size 64 only (ARC: S = 916,
// hd = 64); other head sizes keep the CUDA-core attention_forward. Same arguments, same results (out, lse in natural
// log), same RoPE fusion; see attention.cu for the shapes.
//
// Precision: Q (rotated, times the scale 1/8, exact in bf16) and K (rotated) are rounded ONCE to bf16 in shared
// memory; V is bf16 already. Scores S = Q K^T and O += P V are WMMA 16x16x16 products, bf16 in, fp32 accumulate.
// The probabilities P are rounded to bf16 for the P V product, and the row sums l add those same rounded values,
// so O / l is a weighted mean with consistent weights. Softmax in fp32 (natural exp); lse = m + log(l).
//
// Work split: grid (ceil(S/64), H, B), a block of 4 warps owns 64 query rows of one (b, h); warp w owns rows
// 16w .. 16w+15 (one WMMA row tile), its Q fragments stay in registers for the whole kernel. The block walks the keys
// in tiles of 32 (K and V staged in shared bf16, rows past S zero); per tile each warp:
//   1. S (16 x 32) = Q K^T: 2 x 4 mma, stored to the warp's fp32 score buffer;
//   2. online softmax: lane (r = lane / 2, half = lane % 2) owns row r, keys 16 half .. 16 half + 15 of the tile
//      (masked past S): the row max over the lane pair (one shuffle), rescale factor alpha = exp(m_old - m_new),
//      P in bf16 to the warp's P buffer, and it rescales its 32 of the row's 64 O columns in shared memory by alpha;
//   3. O (16 x 64, fp32 in shared) += P V: per 16 columns, load the accumulator, 2 mma, store it back.
// O stays in shared memory because the accumulator fragment's per-lane layout is opaque: rescaling it row by row
// needs the values where a lane knows their row. At the end each lane pair writes its row: O / l to bf16, lse.
//
// Shared memory, all static (hd = 64): K and V tiles 2 x 32 x 72 bf16 = 9 KiB, scores 4 x 16 x 36 fp32 = 9 KiB (the
// Q tile, 64 x 72 bf16, is staged in the same bytes before the first scores), P 4 x 16 x 40 bf16 = 5 KiB,
// O 4 x 16 x 68 fp32 = 17 KiB: 40 KiB. Row strides are padded (72 and 40 bf16, 36 and 68 fp32) so the eight
// 16-byte rows a WMMA load touches fall in distinct banks; every WMMA pointer is 32-byte aligned and every stride a
// multiple of 16 bytes, as WMMA requires (the emulator checks both).
#include "common.cuh"

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
#define ATC_LDP 40                         // bf16 row stride of P
#define ATC_LDO 68                         // fp32 row stride of O

namespace wmma = nvcuda::wmma;

// Rows [r0, r0 + rows) of one head's slice of qkv (row 0 at src, rows `stride` apart) into dst[row * ATC_LDH + d]
// as bf16: rotated by RoPE (position = row) when cos != nullptr, times mul, in fp32, then rounded once. Rows past
// seq are zero. Each thread takes the pair (j, j + 32) RoPE mixes; consecutive threads take consecutive j.
__device__ __forceinline__ void atc_load_tile(bf16* dst, const bf16* src, long stride, int r0, int rows, int seq,
                                              const float* cos, const float* sin, float mul) {
    const int half = ATC_HD / 2;
    for (int t = threadIdx.x; t < rows * half; t += blockDim.x) {
        int row = t / half, j = t % half, pos = r0 + row;
        float a = 0.0f, c = 0.0f;
        if (pos < seq) {
            const bf16* p = src + (long)pos * stride;
            a = __bfloat162float(p[j]);
            c = __bfloat162float(p[j + half]);
            if (cos != nullptr) {
                const float* cp = cos + (long)pos * ATC_HD;
                const float* sp = sin + (long)pos * ATC_HD;
                float ar = a * cp[j] - c * sp[j];
                float cr = c * cp[j + half] + a * sp[j + half];
                a = ar;
                c = cr;
            }
            a *= mul;
            c *= mul;
        }
        dst[row * ATC_LDH + j] = __float2bfloat16(a);
        dst[row * ATC_LDH + j + half] = __float2bfloat16(c);
    }
}

TRM_KERNEL void __launch_bounds__(ATC_THREADS)
    attention_forward_tc(const bf16* __restrict__ qkv, bf16* __restrict__ out, float* __restrict__ lse,
                         const float* __restrict__ cos, const float* __restrict__ sin, int seq, int heads, int hd) {
    __shared__ ATC_ALIGN bf16 ks[ATC_KEYS][ATC_LDH];                  // K of the key tile, rotated
    __shared__ ATC_ALIGN bf16 vs[ATC_KEYS][ATC_LDH];                  // V of the key tile
    __shared__ ATC_ALIGN float sc[ATC_WARPS][ATC_ROWS][ATC_LDS];      // each warp's scores; first the Q tile
    __shared__ ATC_ALIGN bf16 ps[ATC_WARPS][ATC_ROWS][ATC_LDP];       // each warp's probabilities
    __shared__ ATC_ALIGN float os[ATC_WARPS][ATC_ROWS][ATC_LDO];      // each warp's unnormalised output
    static_assert(sizeof(sc) >= ATC_QTILE * ATC_LDH * sizeof(bf16), "the Q tile is staged in the score buffer");
    if (hd != ATC_HD) return;  // GpuKernels launches this kernel for hd = 64 only (the whole grid leaves)
    const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * ATC_QTILE;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int r = lane >> 1, half = lane & 1;  // softmax and output: the lane's row of the warp's 16, its half
    const int dim = heads * ATC_HD;
    const long stride = 3L * dim;
    const bf16* q = qkv + (long)b * seq * stride + (long)h * ATC_HD;

    bf16* qst = reinterpret_cast<bf16*>(&sc[0][0][0]);  // [64][ATC_LDH]
    atc_load_tile(qst, q, stride, i0, ATC_QTILE, seq, cos, sin, 0.125f);  // 1/sqrt(64), exact
    for (int t = lane; t < ATC_ROWS * ATC_LDO; t += 32) (&os[warp][0][0])[t] = 0.0f;
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> qf[ATC_HD / 16];
    ATC_UNROLL
    for (int kk = 0; kk < ATC_HD / 16; kk++)
        wmma::load_matrix_sync(qf[kk], qst + warp * ATC_ROWS * ATC_LDH + kk * 16, ATC_LDH);
    float m = -INFINITY, l = 0.0f;  // the row's running max and the lane's share of its sum (same m in the pair)
    for (int k0 = 0; k0 < seq; k0 += ATC_KEYS) {
        __syncthreads();  // the previous tile is consumed (the first time: every warp holds its Q fragments)
        atc_load_tile(&ks[0][0], q + dim, stride, k0, ATC_KEYS, seq, cos, sin, 1.0f);
        atc_load_tile(&vs[0][0], q + 2 * dim, stride, k0, ATC_KEYS, seq, nullptr, nullptr, 1.0f);
        __syncthreads();
        // 1. S = Q K^T; K row-major [key][d] is K^T column-major
        ATC_UNROLL
        for (int n = 0; n < ATC_KEYS / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
            wmma::fill_fragment(sf, 0.0f);
            ATC_UNROLL
            for (int kk = 0; kk < ATC_HD / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, &ks[n * 16][kk * 16], ATC_LDH);
                wmma::mma_sync(sf, qf[kk], kf, sf);
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
        ATC_UNROLL
        for (int i = 0; i < 16; i++) {
            bf16 p = __float2bfloat16(__expf(s[i] - mn));  // masked keys: exp(-inf) = 0
            ps[warp][r][half * 16 + i] = p;
            sum += __bfloat162float(p);
        }
        l = l * alpha + sum;
        m = mn;
        ATC_UNROLL
        for (int j = 0; j < 32; j++) os[warp][r][half * 32 + j] *= alpha;
        __syncwarp();
        // 3. O += P V
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> pf[ATC_KEYS / 16];
        ATC_UNROLL
        for (int kk = 0; kk < ATC_KEYS / 16; kk++) wmma::load_matrix_sync(pf[kk], &ps[warp][0][kk * 16], ATC_LDP);
        ATC_UNROLL
        for (int dn = 0; dn < ATC_HD / 16; dn++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
            wmma::load_matrix_sync(of, &os[warp][0][dn * 16], ATC_LDO, wmma::mem_row_major);
            ATC_UNROLL
            for (int kk = 0; kk < ATC_KEYS / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> vf;
                wmma::load_matrix_sync(vf, &vs[kk * 16][dn * 16], ATC_LDH);
                wmma::mma_sync(of, pf[kk], vf, of);
            }
            wmma::store_matrix_sync(&os[warp][0][dn * 16], of, ATC_LDO, wmma::mem_row_major);
        }
        // sc, ps and os are touched again only after the next tile's __syncthreads
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
