// attention_tc.cu: the attention forward and backward of attention.cu on tensor cores, for head size 64 only (ARC:
// S = 916, hd = 64); other head sizes keep the CUDA-core kernels. Same arguments, same results (out, lse in natural
// log; dqkv), same RoPE fusion; see attention.cu for the shapes. The forward comes first; the backward's own notes
// are at its section below.
//
// Forward precision: the WMMA products take bf16 and accumulate in fp32. Without RoPE, q and k are bf16 values already
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
// Forward work split: grid (ceil(S/64), H, B), a block of 4 warps owns 64 query rows of one (b, h); warp w owns rows
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
// Forward shared memory, all static (hd = 64): K (hi, lo) and V tiles 3 x 32 x 72 bf16 = 13.5 KiB, scores (then P) 4 x
// 16 x 36 fp32 = 9 KiB, O 4 x 16 x 68 fp32 = 17 KiB: 39.5 KiB. The Q tile (hi, lo: 64 x 72 bf16 each) is staged in the
// score and O buffers before their first use. Row strides are padded (72 bf16, 36 and 68 fp32) so the eight 16-byte
// rows a WMMA load touches fall in distinct banks; every WMMA pointer is 32-byte aligned and every stride a multiple of
// 16 bytes, as WMMA requires (the emulator checks both).
#include "common.cuh"
// att_rope_pair comes from attention.cu, which trm_kernels.cu includes just before this file.


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
    trm_pdl_begin();
    __shared__ TRM_ALIGN(32) bf16 ks[ATC_KEYS][ATC_LDH];                  // K of the key tile, rotated (hi)
    __shared__ TRM_ALIGN(32) bf16 kl[ATC_KEYS][ATC_LDH];                  // with RoPE: its lo part
    __shared__ TRM_ALIGN(32) bf16 vs[ATC_KEYS][ATC_LDH];                  // V of the key tile
    __shared__ TRM_ALIGN(32) float sc[ATC_WARPS][ATC_ROWS][ATC_LDS];      // each warp's scores, then P; first Q hi
    __shared__ TRM_ALIGN(32) float os[ATC_WARPS][ATC_ROWS][ATC_LDO];      // each warp's unnormalised output; first Q lo
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
    TRM_UNROLL
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
        TRM_UNROLL
        for (int n = 0; n < ATC_KEYS / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
            wmma::fill_fragment(sf, 0.0f);
            TRM_UNROLL
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
        TRM_UNROLL
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
        TRM_UNROLL
        for (int i = 0; i < 16; i++) {
            float p = __expf(s[i] - mn);  // masked keys: exp(-inf) = 0
            atc_store_split(prow, prow + ATC_KEYS, half * 16 + i, p);
            sum += p;
        }
        l = l * alpha + sum;
        m = mn;
        TRM_UNROLL
        for (int j = 0; j < 32; j++) os[warp][r][half * 32 + j] *= alpha;
        __syncwarp();
        // 3. O += Phi V + Plo V
        const bf16* pw = reinterpret_cast<const bf16*>(&sc[warp][0][0]);
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> pf[ATC_KEYS / 16], plf[ATC_KEYS / 16];
        TRM_UNROLL
        for (int kk = 0; kk < ATC_KEYS / 16; kk++) {
            wmma::load_matrix_sync(pf[kk], pw + kk * 16, ATC_LDP);
            wmma::load_matrix_sync(plf[kk], pw + ATC_KEYS + kk * 16, ATC_LDP);
        }
        TRM_UNROLL
        for (int dn = 0; dn < ATC_HD / 16; dn++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
            wmma::load_matrix_sync(of, &os[warp][0][dn * 16], ATC_LDO, wmma::mem_row_major);
            TRM_UNROLL
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
        TRM_UNROLL
        for (int j = 0; j < 32; j++) dst[j] = __float2bfloat16(os[warp][r][half * 32 + j] * inv);
        if (half == 0) lse[((long)b * heads + h) * seq + i] = m + logf(total);
    }
}
TRM_EXPORT(attention_forward_tc, ATC_THREADS)

// ---- backward -------------------------------------------------------------------------------------------------------
//
// attention_backward_tc: attention.cu's attention_backward on tensor cores, hd = 64 only. Same arguments and results:
// dqkv [B, S, 3D] written with =, RoPE's transpose applied. Flash-attention-2 style: P = exp(S - lse) is recomputed
// from the forward's lse, dP = dO V^T, dS = P (dP - delta), delta = dO . O per query row computed where needed
// (att_delta, attention.cu: one warp per row, fp32). Grid (2 ceil(S/64), H, B), two roles by blockIdx.x (uniform
// over a block):
//   x <  ceil(S/64)   dQ: a block owns 64 queries (warp w: rows 16w .. 16w+15, its Q and dO fragments in registers,
//                     delta of its 16 rows computed once), walks the keys in tiles of 32: dQ += dS K;
//   x >= ceil(S/64)   dK, dV: a block owns 64 keys (warp w: 16 of them, K and V fragments in registers), walks the
//                     queries in tiles of 32 (delta of each tile's 32 rows: warp w takes 8), working on the
//                     transposes (S^T = K Q^T, dP^T = V dO^T): dV += P^T dO, dK += dS^T Q.
// The two roles were two kernels after a third that stored delta [B, H, S] (attention_backward_dq_tc, _dkdv_tc,
// attention_backward_delta); one launch now, and no delta in global memory. The roles share the shared-memory
// buffers; the registers are the larger role's (dK/dV).
// Every output element is accumulated by one warp in a fixed order: deterministic, no atomics; P and dS are
// computed twice (once per role) for that. The dQ, dK, dV accumulators stay in registers for the whole kernel
// (unlike the forward's O, nothing rescales them); each warp writes its 16 x 32 tiles of S and dP (fp32) to its own
// work buffer, where lane (r = lane / 2, half = lane % 2) reads row r, columns 16 half .. 16 half + 15 to form P and
// dS, and writes them back as bf16 hi and lo over the same rows (hi in bf16 columns 0..31, lo in 32..63, as the
// forward does with P) for the next products' A operands.
//
// Precision, the forward's reasoning carried through (every WMMA takes bf16, accumulates fp32): the rotated q, k
// (and q / 8: exact) are split hi + lo with RoPE, dO and V are bf16 already, and the fp32 P and dS are split hi + lo
// wherever they enter a product (X B ~ Xhi Bhi + Xlo Bhi + Xhi Blo, dropping Xlo Blo, ~2^-16 relative). Products
// per 16 x 32 tile and 16 columns of d, with RoPE (without): dkdv S^T 3 (1), dP^T 1, dV 2, dK 3 (2); dq S 3 (1),
// dP 1, dQ 3 (2): 16 (10) in all, against 7 at plain bf16. Each split is needed: errors against RefOps (double) in
// KernelSelftest's measure (elementwise relative, floor 1% of the tensor's largest |value|; tolerance 1e-2), its
// attention check (B=2 S=37 H=2 hd=64 RoPE, seed 1), emulated device, with one split dropped at a time (measured on
// the former two kernels, whose dqkv attention_backward_tc reproduces bit for bit on the emulated device):
//                              dq        dk        dv
//   as built                   3.87e-3   3.97e-3   3.84e-3   (CUDA-core backward: 3.87e-3 3.83e-3 3.84e-3)
//   P in bf16 alone            3.87e-3   3.97e-3   1.25e-1
//   dS in bf16 alone           1.29e-1   1.24e-1   3.84e-3
//   rotated q, k in bf16 alone 1.51e-1   1.55e-1   5.51e-2
// (as built, the errors are the bf16 rounding of the outputs: up to 2^-8 relative where the floor does not apply).
// Small gradients made by cancellation (a row of dS sums to zero) are where a 2^-9 relative error per product term
// shows. AttentionKernelCheck's max-relative measure (max |error| / max |ref|) gives the same figures for both
// backwards, ~1.6e-3 .. 3.1e-3, at S = 1 .. 300.
// Registers (ptxas, kernels/target/ptxas-report.txt): 237 on sm_90 (240 sm_80, 242 sm_86/89), no spills: the dK/dV
// role's need (K hi, lo and V fragments plus the dK and dV accumulators stay resident; the former dk/dv kernel took
// 244, the dq kernel 166). 237 allows 2 blocks of 128 threads per SM, for the dQ role too, where the dq kernel alone
// had 3.
// Unverified on hardware: the kernel compiles for sm_80/86/89/90 with no spills and runs on the emulator, which
// checks WMMA alignment and strides but sums each tile in its own order; its speed, against the former three
// launches, is not measured anywhere (nor whether the dQ role's lower occupancy costs more than the launches saved).
//
// Shared memory, static, one set for both roles: 13.5 KiB (three tiles of 32 x 72 bf16: K hi, lo, V for dQ; Q hi, lo,
// dO for dK/dV) + 0.25 KiB (lse, delta of the query tile, dK/dV) + 18 KiB (work buffers, 4 x 16 x 72 fp32) = 31.75
// KiB. Each role first stages its own 64 rows (Q hi, lo then dO; or K hi, lo then V: 18 KiB at a time) in the work
// buffers and loads them into fragments. Strides and alignment as in the forward.

#define ATC_BWD_DP (ATC_ROWS * ATC_LDS)  // float offset of dP (then dS) in a warp's work buffer, after S (then P)
#define ATC_BWD_WB (2 * ATC_BWD_DP)      // floats per warp's work buffer: 1152, >= ATC_ROWS * ATC_LDO (the output)

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> AtcA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> AtcB;   // B stored [k][n]
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> AtcBT;  // B stored [n][k]: a row tile^T
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> AtcAcc;

// Step 1 of both roles: the warp's S = A Bt^T (A = a + al, Bt = bt + btl when split, else a and bt alone) and
// dP = G Vt^T, 16 x 32 each, to its work buffer w (fp32, ld ATC_LDS). a, al, g: the warp's 16 own rows as
// fragments; bt, btl, vt: the 32 rows of the other side's tile ([row][d], ld ATC_LDH). (A flag rather than a null
// al: a pointer chosen at run time between fragment arrays would put them in local memory.)
__device__ __forceinline__ void atc_bwd_scores(float* w, const AtcA* a, const AtcA* al, const AtcA* g,
                                               const bf16* bt, const bf16* btl, const bf16* vt, bool split) {
    TRM_UNROLL
    for (int n = 0; n < ATC_KEYS / 16; n++) {
        AtcAcc sf, df;
        wmma::fill_fragment(sf, 0.0f);
        wmma::fill_fragment(df, 0.0f);
        TRM_UNROLL
        for (int kk = 0; kk < ATC_HD / 16; kk++) {
            AtcBT bf;
            wmma::load_matrix_sync(bf, bt + n * 16 * ATC_LDH + kk * 16, ATC_LDH);
            wmma::mma_sync(sf, a[kk], bf, sf);
            if (split) {
                wmma::mma_sync(sf, al[kk], bf, sf);
                wmma::load_matrix_sync(bf, btl + n * 16 * ATC_LDH + kk * 16, ATC_LDH);
                wmma::mma_sync(sf, a[kk], bf, sf);
            }
            wmma::load_matrix_sync(bf, vt + n * 16 * ATC_LDH + kk * 16, ATC_LDH);
            wmma::mma_sync(df, g[kk], bf, df);
        }
        wmma::store_matrix_sync(w + n * 16, sf, ATC_LDS, wmma::mem_row_major);
        wmma::store_matrix_sync(w + ATC_BWD_DP + n * 16, df, ATC_LDS, wmma::mem_row_major);
    }
    __syncwarp();
}

// Step 2 of both roles, one lane: the warp's work buffer w holds S (or S^T) and dP at w + ATC_BWD_DP (fp32,
// 16 x 32, ld ATC_LDS); the lane's 16 elements of row r get p = exp(s - lse) and ds = p (dp - delta) (lse[c],
// dl[c]: of column 16 half + c, lse = +inf for masked entries), written back as bf16 hi, lo (P over S, dS over dP,
// ld ATC_LDP). keepP: whether P is written (the dQ role needs dS only).
__device__ __forceinline__ void atc_bwd_softmax_grad(float* w, int r, int half, const float* lse, const float* dl,
                                                     bool keepP) {
    float p[16], ds[16];
    const float* srow = w + r * ATC_LDS + half * 16;
    TRM_UNROLL
    for (int c = 0; c < 16; c++) {
        p[c] = __expf(srow[c] - lse[c]);  // lse = +inf: exp(-inf) = 0
        ds[c] = p[c] * (srow[ATC_BWD_DP + c] - dl[c]);
    }
    __syncwarp();  // every lane has read its S and dP: the bf16 rows may overwrite them
    bf16* prow = reinterpret_cast<bf16*>(w + r * ATC_LDS);
    bf16* dsrow = reinterpret_cast<bf16*>(w + ATC_BWD_DP + r * ATC_LDS);
    TRM_UNROLL
    for (int c = 0; c < 16; c++) {
        if (keepP) atc_store_split(prow, prow + ATC_KEYS, half * 16 + c, p[c]);
        atc_store_split(dsrow, dsrow + ATC_KEYS, half * 16 + c, ds[c]);
    }
    __syncwarp();
}

// Step 3: acc[dn] (16 x 64 as 4 column tiles) += X B with X (16 x 32) = hi + lo in the warp's work buffer at x
// (bf16, ld ATC_LDP; lo 32 columns on) and B (32 x 64, rows [k][d], ld ATC_LDH) = b + bl (bl null: B is
// bf16-exact): X B ~ Xhi B + Xlo B + Xhi Bl (the dropped Xlo Bl is ~2^-16 relative).
__device__ __forceinline__ void atc_bwd_accumulate(AtcAcc* acc, const float* x, const bf16* b, const bf16* bl) {
    const bf16* xw = reinterpret_cast<const bf16*>(x);
    AtcA xf[ATC_KEYS / 16], xlf[ATC_KEYS / 16];
    TRM_UNROLL
    for (int kk = 0; kk < ATC_KEYS / 16; kk++) {
        wmma::load_matrix_sync(xf[kk], xw + kk * 16, ATC_LDP);
        wmma::load_matrix_sync(xlf[kk], xw + ATC_KEYS + kk * 16, ATC_LDP);
    }
    TRM_UNROLL
    for (int dn = 0; dn < ATC_HD / 16; dn++) {
        TRM_UNROLL
        for (int kk = 0; kk < ATC_KEYS / 16; kk++) {
            AtcB bf;
            wmma::load_matrix_sync(bf, b + kk * 16 * ATC_LDH + dn * 16, ATC_LDH);
            wmma::mma_sync(acc[dn], xf[kk], bf, acc[dn]);
            wmma::mma_sync(acc[dn], xlf[kk], bf, acc[dn]);
            if (bl != nullptr) {
                wmma::load_matrix_sync(bf, bl + kk * 16 * ATC_LDH + dn * 16, ATC_LDH);
                wmma::mma_sync(acc[dn], xf[kk], bf, acc[dn]);
            }
        }
    }
}

// The warp's 16 own rows of a [64][ATC_LDH] bf16 staging tile into 4 fragments.
__device__ __forceinline__ void atc_load_own(AtcA* f, const bf16* tile, int warp) {
    TRM_UNROLL
    for (int kk = 0; kk < ATC_HD / 16; kk++)
        wmma::load_matrix_sync(f[kk], tile + warp * ATC_ROWS * ATC_LDH + kk * 16, ATC_LDH);
}

// acc (16 x 64) to the warp's work buffer w as fp32 rows of ATC_LDO, readable by every lane on return.
__device__ __forceinline__ void atc_bwd_stage_out(float* w, const AtcAcc* acc) {
    __syncwarp();  // the last products' loads from w are done
    TRM_UNROLL
    for (int dn = 0; dn < ATC_HD / 16; dn++)
        wmma::store_matrix_sync(w + dn * 16, acc[dn], ATC_LDO, wmma::mem_row_major);
    __syncwarp();
}

// ---- attention_backward_tc: the whole backward in one launch ---------------------------------------------------------

// The dQ role: the 64 queries of tile `tile` of one (b, h) against every key tile. Shared memory from the kernel
// (the dK/dV role uses the same buffers): ks, kl, vs [32][ATC_LDH] bf16; wb [4][ATC_BWD_WB] fp32.
__device__ __forceinline__ void atc_bwd_dq(const bf16* __restrict__ qkv, const bf16* __restrict__ out,
                                           const float* __restrict__ lse, const bf16* __restrict__ dout,
                                           bf16* __restrict__ dqkv, const float* __restrict__ cos,
                                           const float* __restrict__ sin, int seq, int heads, int tile, bf16* ks,
                                           bf16* kl, bf16* vs, float (*wb)[ATC_BWD_WB]) {
    const int b = blockIdx.z, h = blockIdx.y, i0 = tile * ATC_QTILE;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int r = lane >> 1, half = lane & 1;  // step 2 and the output: the lane's row of the warp's 16, its half
    const int dim = heads * ATC_HD;
    const long stride = 3L * dim;
    const bf16* q = qkv + (long)b * seq * stride + (long)h * ATC_HD;
    const long orow0 = (long)b * seq * dim + (long)h * ATC_HD;  // row i of out and dout at orow0 + i * dim
    const bool split = cos != nullptr;
    float* w = wb[warp];

    bf16* stage = reinterpret_cast<bf16*>(&wb[0][0]);  // [64][ATC_LDH], lo after it
    atc_load_tile(stage, split ? stage + ATC_QTILE * ATC_LDH : nullptr, q, stride, i0, ATC_QTILE, seq, cos, sin,
                  0.125f);  // q / sqrt(64)
    __syncthreads();
    AtcA qf[ATC_HD / 16], qlf[ATC_HD / 16], gf[ATC_HD / 16];
    atc_load_own(qf, stage, warp);
    if (split) atc_load_own(qlf, stage + ATC_QTILE * ATC_LDH, warp);
    __syncthreads();
    atc_load_tile(stage, nullptr, dout + orow0, dim, i0, ATC_QTILE, seq, nullptr, nullptr, 1.0f);
    __syncthreads();
    atc_load_own(gf, stage, warp);  // wb is written again only after the first tile's two barriers
    const int i = i0 + warp * ATC_ROWS + r;
    const float lseR = i < seq ? lse[((long)b * heads + h) * seq + i] : INFINITY;
    float dlR = 0.0f;  // delta of row r: the warp computes its 16 rows' one by one, the lane keeps its own
    for (int rr = 0; rr < ATC_ROWS; rr++) {
        const int ir = i0 + warp * ATC_ROWS + rr;  // the same for the whole warp
        if (ir < seq) {
            const float v = att_delta(out + orow0 + (long)ir * dim, dout + orow0 + (long)ir * dim, ATC_HD, lane);
            if (rr == r) dlR = v;
        }
    }
    AtcAcc acc[ATC_HD / 16];
    TRM_UNROLL
    for (int dn = 0; dn < ATC_HD / 16; dn++) wmma::fill_fragment(acc[dn], 0.0f);
    for (int k0 = 0; k0 < seq; k0 += ATC_KEYS) {
        __syncthreads();  // the previous tile is consumed
        atc_load_tile(ks, split ? kl : nullptr, q + dim, stride, k0, ATC_KEYS, seq, cos, sin, 1.0f);
        atc_load_tile(vs, nullptr, q + 2 * dim, stride, k0, ATC_KEYS, seq, nullptr, nullptr, 1.0f);
        __syncthreads();
        // 1. S = Q K^T, dP = dO V^T (K, V row-major [key][d] are K^T, V^T column-major)
        atc_bwd_scores(w, qf, qlf, gf, ks, kl, vs, split);
        // 2. dS of row r over keys k0 + 16 half + c; keys past S are masked (lse = +inf)
        float lseC[16], dlC[16];
        TRM_UNROLL
        for (int c = 0; c < 16; c++) {
            lseC[c] = k0 + half * 16 + c < seq ? lseR : INFINITY;
            dlC[c] = dlR;
        }
        atc_bwd_softmax_grad(w, r, half, lseC, dlC, false);
        // 3. dQ += dS K (K row-major [key][d] is the B operand as it is)
        atc_bwd_accumulate(acc, w + ATC_BWD_DP, ks, split ? kl : nullptr);
    }
    // dQ (rotated) = sum_j dS_ij k_j / sqrt(64); un-rotated row by row
    atc_bwd_stage_out(w, acc);
    if (i < seq) {
        bf16* dst = dqkv + ((long)b * seq + i) * stride + (long)h * ATC_HD;
        TRM_UNROLL
        for (int j = 0; j < 32; j++) {
            const int d = half * 32 + j;
            dst[d] = __float2bfloat16(0.125f * att_unrotate(w + r * ATC_LDO, d, cos, sin, i, ATC_HD));
        }
    }
}

// The dK/dV role: the 64 keys of tile `tile` of one (b, h) against every query tile. Shared memory from the kernel:
// qs, ql, gs [32][ATC_LDH] bf16; lseT, dlT [32]; wb [4][ATC_BWD_WB] fp32.
__device__ __forceinline__ void atc_bwd_dkdv(const bf16* __restrict__ qkv, const bf16* __restrict__ out,
                                             const float* __restrict__ lse, const bf16* __restrict__ dout,
                                             bf16* __restrict__ dqkv, const float* __restrict__ cos,
                                             const float* __restrict__ sin, int seq, int heads, int tile, bf16* qs,
                                             bf16* ql, bf16* gs, float* lseT, float* dlT, float (*wb)[ATC_BWD_WB]) {
    const int b = blockIdx.z, h = blockIdx.y, j0 = tile * ATC_QTILE;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int r = lane >> 1, half = lane & 1;  // step 2 and the output: the lane's row (key) of the warp's 16
    const int dim = heads * ATC_HD;
    const long stride = 3L * dim;
    const bf16* q = qkv + (long)b * seq * stride + (long)h * ATC_HD;
    const long orow0 = (long)b * seq * dim + (long)h * ATC_HD;  // row i of out and dout at orow0 + i * dim
    const float* lseRow = lse + ((long)b * heads + h) * seq;
    const bool split = cos != nullptr;
    float* w = wb[warp];

    bf16* stage = reinterpret_cast<bf16*>(&wb[0][0]);  // [64][ATC_LDH], lo after it
    atc_load_tile(stage, split ? stage + ATC_QTILE * ATC_LDH : nullptr, q + dim, stride, j0, ATC_QTILE, seq, cos,
                  sin, 1.0f);
    __syncthreads();
    AtcA kf[ATC_HD / 16], klf[ATC_HD / 16], vf[ATC_HD / 16];
    atc_load_own(kf, stage, warp);
    if (split) atc_load_own(klf, stage + ATC_QTILE * ATC_LDH, warp);
    __syncthreads();
    atc_load_tile(stage, nullptr, q + 2 * dim, stride, j0, ATC_QTILE, seq, nullptr, nullptr, 1.0f);
    __syncthreads();
    atc_load_own(vf, stage, warp);  // wb is written again only after the first tile's two barriers
    AtcAcc dk[ATC_HD / 16], dv[ATC_HD / 16];
    TRM_UNROLL
    for (int dn = 0; dn < ATC_HD / 16; dn++) {
        wmma::fill_fragment(dk[dn], 0.0f);
        wmma::fill_fragment(dv[dn], 0.0f);
    }
    for (int q0 = 0; q0 < seq; q0 += ATC_KEYS) {
        __syncthreads();  // the previous tile is consumed
        atc_load_tile(qs, split ? ql : nullptr, q, stride, q0, ATC_KEYS, seq, cos, sin, 0.125f);
        atc_load_tile(gs, nullptr, dout + orow0, dim, q0, ATC_KEYS, seq, nullptr, nullptr, 1.0f);
        if (threadIdx.x < ATC_KEYS) {
            const int i = q0 + threadIdx.x;
            lseT[threadIdx.x] = i < seq ? lseRow[i] : INFINITY;  // queries past S: P = 0
        }
        // delta of the tile's queries: warp w takes queries 8w .. 8w+7
        for (int c = warp * 8; c < warp * 8 + 8; c++) {
            const int i = q0 + c;  // the same for the whole warp
            const float v = i < seq ? att_delta(out + orow0 + (long)i * dim, dout + orow0 + (long)i * dim, ATC_HD,
                                                lane) : 0.0f;
            if (lane == 0) dlT[c] = v;
        }
        __syncthreads();
        // 1. S^T = K Q^T, dP^T = V dO^T (Q, dO row-major [query][d] are Q^T, dO^T column-major)
        atc_bwd_scores(w, kf, klf, vf, qs, ql, gs, split);
        // 2. P^T and dS^T of row r (key) over queries q0 + 16 half + c
        atc_bwd_softmax_grad(w, r, half, &lseT[half * 16], &dlT[half * 16], true);
        // 3. dV += P^T dO, dK += dS^T (Q / sqrt(64)): both B operands row-major [query][d] as they are
        atc_bwd_accumulate(dv, w, gs, nullptr);
        atc_bwd_accumulate(dk, w + ATC_BWD_DP, qs, split ? ql : nullptr);
    }
    const int j = j0 + warp * ATC_ROWS + r;
    bf16* dst = dqkv + ((long)b * seq + j) * stride + (long)h * ATC_HD;
    atc_bwd_stage_out(w, dv);
    if (j < seq) {
        TRM_UNROLL
        for (int c = 0; c < 32; c++) dst[2 * dim + half * 32 + c] = __float2bfloat16(w[r * ATC_LDO + half * 32 + c]);
    }
    // dK (rotated) = sum_i dS_ij q_i / sqrt(64), the scale already in qs; un-rotated row by row
    atc_bwd_stage_out(w, dk);
    if (j < seq) {
        TRM_UNROLL
        for (int c = 0; c < 32; c++) {
            const int d = half * 32 + c;
            dst[dim + d] = __float2bfloat16(att_unrotate(w + r * ATC_LDO, d, cos, sin, j, ATC_HD));
        }
    }
}

TRM_KERNEL void __launch_bounds__(ATC_THREADS)
    attention_backward_tc(const bf16* __restrict__ qkv, const bf16* __restrict__ out, const float* __restrict__ lse,
                          const bf16* __restrict__ dout, bf16* __restrict__ dqkv, const float* __restrict__ cos,
                          const float* __restrict__ sin, int seq, int heads, int hd) {
    trm_pdl_begin();
    // One set of buffers for both roles: 13.5 + 0.25 + 18 = 31.75 KiB
    __shared__ TRM_ALIGN(32) bf16 tiles[3][ATC_KEYS][ATC_LDH];  // dQ: K (hi, lo), V; dK/dV: Q / 8 (hi, lo), dO
    __shared__ float lseT[ATC_KEYS], dlT[ATC_KEYS];            // dK/dV: lse (+inf past S) and delta of the tile
    __shared__ TRM_ALIGN(32) float wb[ATC_WARPS][ATC_BWD_WB];   // work buffers; first the own rows (hi, lo), then dO/V
    static_assert(sizeof(wb) >= 2 * ATC_QTILE * ATC_LDH * sizeof(bf16), "the own rows (hi, lo) are staged in wb");
    if (hd != ATC_HD) return;  // GpuKernels launches this kernel for hd = 64 only (the whole grid leaves)
    const int ntiles = (seq + ATC_QTILE - 1) / ATC_QTILE;  // gridDim.x = 2 * ntiles; the role is uniform per block
    if ((int)blockIdx.x < ntiles)
        atc_bwd_dq(qkv, out, lse, dout, dqkv, cos, sin, seq, heads, blockIdx.x, &tiles[0][0][0], &tiles[1][0][0],
                   &tiles[2][0][0], wb);
    else
        atc_bwd_dkdv(qkv, out, lse, dout, dqkv, cos, sin, seq, heads, blockIdx.x - ntiles, &tiles[0][0][0],
                     &tiles[1][0][0], &tiles[2][0][0], lseT, dlT, wb);
}
TRM_EXPORT(attention_backward_tc, ATC_THREADS)
