// attention.cu: non-causal multi-head attention with RoPE fused, forward and backward (flash style: the S x S score
// matrix never reaches global memory; backward recomputes the probabilities from the saved log-sum-exp).
//
// Shapes (D = H * hd, head h owns columns h*hd .. h*hd+hd-1 of each third of qkv; hd even, 2 <= hd <= 64):
//   qkv  [B, S, 3D] bf16   Q | K | V, un-rotated
//   out  [B, S, D]  bf16   softmax(q k^T / sqrt(hd)) v per head, q and k rotated
//   lse  [B, H, S]  fp32   natural-log sum-exp of the scaled scores of each query row (saved for backward)
//   cos, sin [S, hd] fp32  RoPE tables, rotate-half layout: x' = x cos + rotate_half(x) sin,
//                          rotate_half(x) = (-x[hd/2:], x[:hd/2]); both null = no RoPE
//   dout [B, S, D]  bf16   the gradient w.r.t. out
//   dqkv [B, S, 3D] bf16   gradient w.r.t. the UN-rotated q, k, v, written with = (RoPE's transpose applied)
// Backward also needs delta_i = dO_i . O_i per query row (fp32, [B, H, S] if it were stored): each block computes the
// rows it needs itself (att_delta), so nothing but the outputs is written to global memory.
//
// Work split: a block is 4 warps (128 threads) and owns a tile of 32 rows of one (b, h): queries in forward and the
// backward's dQ role, keys in its dK/dV role. Each warp owns 8 of those rows, so their running state (scores,
// accumulators) stays in registers. The block walks the other side (keys, or queries for dK/dV) in tiles staged in
// shared memory as fp32, rotated on the way in. Within a warp a lane owns one (backward) or two (forward) columns of
// the other-side tile for the dot products over d, and two head dimensions (d = lane, lane + 32) for the
// accumulations over the tile; probabilities cross from the first layout to the second through a small per-warp
// shared buffer. Shared-memory reads are either broadcasts (every lane the same address: the warp's own rows, read 4
// floats at a time) or one address per bank; tiles are filled from coalesced global reads (consecutive threads,
// consecutive d), and the transposed ones are padded to 33 floats per row (backward) or XOR-swizzled (forward K^T),
// so no read or write has a bank conflict at hd = 64.
//
//   attention_forward   grid (ceil(S/32), H, B): online softmax over key tiles of 64 (two keys per lane), in base 2
//                       (q is pre-multiplied by log2(e) / sqrt(hd)); lse = (m + log2 l) * ln 2.
//   attention_backward  grid (2 ceil(S/32), H, B), two roles by blockIdx.x (uniform over a block):
//     x <  ceil(S/32)   dQ of query tile x: delta of its 32 rows once, then per key tile of 32:
//                       P = exp2(s - lse2), dS = P (dO v^T - delta), dQ += dS K; then dQ * scale, un-rotated;
//     x >= ceil(S/32)   dK, dV of key tile x - ceil(S/32): per query tile of 32: that tile's delta, the same P and
//                       dS (transposed), dV += P^T dO, dK += dS^T Q; then dK * scale, un-rotated.
// Every output element is summed by one thread in a fixed order: deterministic, no atomics. That is why dQ and dK/dV
// are two roles, each recomputing P (one role with dQ accumulated across key tiles would need atomics); one launch
// instead of two kernels (and a third for delta, as before) saves the launches and the delta round trip through
// global memory. The price: the dK/dV role reads O (as well as Q and dO) for every query tile, to recompute delta, and
// the kernel's register count is the larger role's, which bounds the occupancy of both.
// fp32 throughout on CUDA cores. At head size 64 the backend takes attention_tc.cu's tensor-core forward and backward
// instead (same arguments and results, the same delta in the same summation order); these stay for other head sizes
// and as the -Dtrm.attention.tc=false fallback.
// Shared memory is static, sized for hd = 64 (forward 48 KiB, backward 36.75 KiB, one set of buffers for both roles):
// within the 48 KiB a kernel gets without opting in, and smaller heads just leave part of it unused.
// Registers (ptxas, kernels/target/ptxas-report.txt): attention_backward 80 (sm_90), 125 (sm_80), 144 (sm_86, 89), no
// spills; the former dq and dk/dv kernels took 87 and 80 on sm_90. The dQ role keeps lse and delta of its rows in
// shared memory rather than in 16 registers: with them in registers ptxas held the combined kernel to 80 registers on
// sm_90 and spilled 8 bytes.
#include "common.cuh"


#define ATT_MAX_HD 64          // head size limit: two dimensions per lane (GpuKernels refuses larger)
#define ATT_WARPS 4
#define ATT_THREADS (ATT_WARPS * 32)
#define ATT_ROWS 8             // own rows per warp
#define ATT_TILE (ATT_WARPS * ATT_ROWS)  // own rows per block: 32
#define ATT_FWD_KEYS 64        // key tile of the forward pass: two keys per lane
#define ATT_BWD_COLS 32        // other-side tile of the backward: one column per lane
#define ATT_LOG2E 1.4426950408889634f
#define ATT_LN2 0.6931471805599453f

struct AttF4 {
    float x, y, z, w;
};

// Four consecutive floats of shared memory (16-byte aligned): one vector load on the GPU.
__device__ __forceinline__ AttF4 att_ld4(const float* p) {
#ifdef __CUDACC__
    float4 v = *reinterpret_cast<const float4*>(p);
    return {v.x, v.y, v.z, v.w};
#else
    emu_check_aligned(p, 16, "att_ld4 (a float4 load)");
    return {p[0], p[1], p[2], p[3]};
#endif
}

// The RoPE pair (x[j], x[j + hd/2]) of one q or k row at position pos, in fp32: rotated when cos != nullptr
// (rotate_half layout: a' = a cos_j - c sin_j, c' = c cos_{j+half} + a sin_{j+half}), then times mul. Both forward
// kernels (this file's and attention_tc.cu's) load their tiles through it.
__device__ __forceinline__ void att_rope_pair(const bf16* row, int j, int hd, int pos, const float* cos,
                                              const float* sin, float mul, float& a, float& c) {
    int half = hd / 2;
    a = __bfloat162float(row[j]);
    c = __bfloat162float(row[j + half]);
    if (cos != nullptr) {
        const float* cp = cos + (long)pos * hd;
        const float* sp = sin + (long)pos * hd;
        float ar = a * cp[j] - c * sp[j];
        float cr = c * cp[j + half] + a * sp[j + half];
        a = ar;
        c = cr;
    }
    a *= mul;
    c *= mul;
}

// Loads rows [r0, r0 + rows) of one head's slice of a [B, S, *] bf16 tensor into fp32 shared memory, rotated by
// RoPE (position = row) when cos != nullptr, times mul. src points at row 0 of the slice, rows `stride` apart.
// Element (row, d) lands at dst[row * rs + d * cs]: row-major (rs = row length, cs = 1) or transposed (rs = 1,
// cs = row length); swizzled transposed tiles put it at dst[d * cs + (row ^ (d % 32))] instead (see the forward).
// Rows past seq and the padding columns hd .. hdp-1 (hdp = hd rounded up to 4) are zero.
// Each thread handles element pairs (j, j + hd/2), the pairs RoPE mixes; consecutive threads take consecutive j of
// a row, so the bf16 rows and the cos/sin rows are read coalesced. Transposed stores are then conflict-free when
// cs is odd (33) or the tile is swizzled.
__device__ __forceinline__ void att_load_tile(float* dst, int rs, int cs, bool swizzle, const bf16* src, long stride,
                                              int r0, int rows, int seq, const float* cos, const float* sin, int hd,
                                              float mul) {
    int half = hd / 2, pairs = (hd + 3) / 4 * 2;
    for (int t = threadIdx.x; t < rows * pairs; t += blockDim.x) {
        int row = t / pairs, j = t % pairs;
        int pos = r0 + row;
        int da = j, dc = j + half;
        float a = 0.0f, c = 0.0f;
        if (j >= half) {  // the padding pair
            da = hd;
            dc = hd + 1;
        } else if (pos < seq) {
            att_rope_pair(src + (long)pos * stride, j, hd, pos, cos, sin, mul, a, c);
        }
        if (swizzle) {
            dst[da * cs + (row ^ (da & 31))] = a;
            dst[dc * cs + (row ^ (dc & 31))] = c;
        } else {
            dst[row * rs + da * cs] = a;
            dst[row * rs + dc * cs] = c;
        }
    }
}

// Element d of the gradient w.r.t. the un-rotated vector, from g (the gradient w.r.t. the rotated one, hd floats):
// the transpose of the rotation: x_j feeds x'_{j+half} with +sin (j < half) and x'_{j-half} with -sin (j >= half).
__device__ __forceinline__ float att_unrotate(const float* g, int d, const float* cos, const float* sin, int pos,
                                              int hd) {
    if (cos == nullptr) return g[d];
    int half = hd / 2;
    const float* cp = cos + (long)pos * hd;
    const float* sp = sin + (long)pos * hd;
    return d < half ? g[d] * cp[d] + g[d + half] * sp[d + half] : g[d] * cp[d] - g[d - half] * sp[d - half];
}

TRM_KERNEL void __launch_bounds__(ATT_THREADS)
    attention_forward(const bf16* __restrict__ qkv, bf16* __restrict__ out, float* __restrict__ lse,
                      const float* __restrict__ cos, const float* __restrict__ sin, int seq, int heads, int hd) {
    trm_pdl_begin();
    // 8 + 16 + 16 + 8 = 48 KiB at most
    __shared__ TRM_ALIGN(16) float qs[ATT_TILE][ATT_MAX_HD];                  // own queries, rotated, * log2e/sqrt(hd)
    // K^T of the key tile, rotated; key k of dimension d sits in column k ^ (d % 32) (an XOR swizzle: rows of 64
    // floats are not padded to fit 48 KiB, yet both the coalesced transposed stores and the reads are conflict-free)
    __shared__ TRM_ALIGN(16) float kt[ATT_MAX_HD][ATT_FWD_KEYS];
    __shared__ TRM_ALIGN(16) float vs[ATT_FWD_KEYS][ATT_MAX_HD];              // V of the key tile
    __shared__ TRM_ALIGN(16) float ps[ATT_WARPS][ATT_ROWS][ATT_FWD_KEYS];     // each warp's probabilities
    const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * ATT_TILE;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, w0 = warp * ATT_ROWS;
    const int dim = heads * hd, hdp = (hd + 3) & ~3;
    const long stride = 3L * dim;
    const bf16* q = qkv + (long)b * seq * stride + (long)h * hd;
    const float qmul = ATT_LOG2E / sqrtf((float)hd);

    att_load_tile(&qs[0][0], ATT_MAX_HD, 1, false, q, stride, i0, ATT_TILE, seq, cos, sin, hd, qmul);
    float o0[ATT_ROWS], o1[ATT_ROWS], m[ATT_ROWS], l[ATT_ROWS];  // dims lane, lane + 32; running max, lane's sum
    TRM_UNROLL
    for (int r = 0; r < ATT_ROWS; r++) {
        o0[r] = o1[r] = l[r] = 0.0f;
        m[r] = -INFINITY;
    }
    for (int k0 = 0; k0 < seq; k0 += ATT_FWD_KEYS) {
        __syncthreads();  // the previous tile is consumed (and, the first time, qs is written)
        att_load_tile(&kt[0][0], 1, ATT_FWD_KEYS, true, q + dim, stride, k0, ATT_FWD_KEYS, seq, cos, sin, hd, 1.0f);
        att_load_tile(&vs[0][0], ATT_MAX_HD, 1, false, q + 2 * dim, stride, k0, ATT_FWD_KEYS, seq, nullptr,
                      nullptr, hd, 1.0f);
        __syncthreads();
        // scores (base 2) of the warp's 8 rows against keys k0 + lane and k0 + lane + 32
        float sa[ATT_ROWS], sb[ATT_ROWS];
        TRM_UNROLL
        for (int r = 0; r < ATT_ROWS; r++) sa[r] = sb[r] = 0.0f;
        for (int d = 0; d < hdp; d += 4) {
            float ka[4], kb[4];
            const int col = lane ^ (d & 31);  // d % 4 == 0, so (d + u) % 32 = d % 32 + u
            TRM_UNROLL
            for (int u = 0; u < 4; u++) {
                ka[u] = kt[d + u][col ^ u];
                kb[u] = kt[d + u][32 + (col ^ u)];
            }
            TRM_UNROLL
            for (int r = 0; r < ATT_ROWS; r++) {
                AttF4 x = att_ld4(&qs[w0 + r][d]);
                sa[r] += x.x * ka[0] + x.y * ka[1] + x.z * ka[2] + x.w * ka[3];
                sb[r] += x.x * kb[0] + x.y * kb[1] + x.z * kb[2] + x.w * kb[3];
            }
        }
        const bool va = k0 + lane < seq, vb = k0 + lane + 32 < seq;
        TRM_UNROLL
        for (int r = 0; r < ATT_ROWS; r++) {
            float a = va ? sa[r] : -INFINITY, c = vb ? sb[r] : -INFINITY;
            // every tile holds key k0 < seq, so the new max is finite and alpha = 0 on the first tile
            float mn = fmaxf(m[r], warpReduceMax(fmaxf(a, c)));
            float alpha = exp2f(m[r] - mn);
            float pa = exp2f(a - mn), pc = exp2f(c - mn);
            l[r] = l[r] * alpha + pa + pc;
            o0[r] *= alpha;
            o1[r] *= alpha;
            m[r] = mn;
            ps[warp][r][lane] = pa;
            ps[warp][r][lane + 32] = pc;
        }
        __syncwarp();
        // o += P V over the tile's keys (masked keys have p = 0 and zero v)
        for (int j = 0; j < ATT_FWD_KEYS; j += 4) {
            float x0[4], x1[4];
            TRM_UNROLL
            for (int u = 0; u < 4; u++) {
                x0[u] = vs[j + u][lane];
                x1[u] = vs[j + u][lane + 32];
            }
            TRM_UNROLL
            for (int r = 0; r < ATT_ROWS; r++) {
                AttF4 p = att_ld4(&ps[warp][r][j]);
                o0[r] += p.x * x0[0] + p.y * x0[1] + p.z * x0[2] + p.w * x0[3];
                o1[r] += p.x * x1[0] + p.y * x1[1] + p.z * x1[2] + p.w * x1[3];
            }
        }
        // ps is rewritten only after the next tile's __syncthreads, which orders it after these reads
    }
    TRM_UNROLL
    for (int r = 0; r < ATT_ROWS; r++) {
        float total = warpReduceSum(l[r]);
        int i = i0 + w0 + r;
        if (i < seq) {
            float inv = 1.0f / total;
            bf16* orow = out + ((long)b * seq + i) * dim + (long)h * hd;
            if (lane < hd) orow[lane] = __float2bfloat16(o0[r] * inv);
            if (lane + 32 < hd) orow[lane + 32] = __float2bfloat16(o1[r] * inv);
            if (lane == 0) lse[((long)b * heads + h) * seq + i] = (m[r] + log2f(total)) * ATT_LN2;
        }
    }
}
TRM_EXPORT(attention_forward, ATT_THREADS)

// ---- attention_backward: the whole backward in one launch ------------------------------------------------------------

// delta = dO . O of one row (o, g: its hd values of out and dout), in fp32, by the calling warp: the lane sums
// d = lane, lane + 32, then the xor butterfly, which leaves the same bits in every lane (each step adds the same two
// values in either order). Both attention backwards compute it this way, once per row they need: the order of the
// separate delta kernel they replaced (attention_backward_delta), so their dqkv equalled the former three-launch
// backward's bit for bit on the emulated device (every AttentionKernelCheck shape, S 916 and 97 at hd 64).
__device__ __forceinline__ float att_delta(const bf16* o, const bf16* g, int hd, int lane) {
    float acc = 0.0f;
    for (int d = lane; d < hd; d += 32) acc += __bfloat162float(o[d]) * __bfloat162float(g[d]);
    return warpReduceSum(acc);
}

// The dQ role: the 32 queries of tile `tile` of one (b, h) against every key tile. Shared memory comes from the
// kernel (the dK/dV role uses the same buffers): qs, gs [32][64]; kt, vt [64][33]; lse2, dl [32] (of the own rows);
// dsb [4][8][32].
__device__ __forceinline__ void att_bwd_dq(const bf16* __restrict__ qkv, const bf16* __restrict__ out,
                                           const float* __restrict__ lse, const bf16* __restrict__ dout,
                                           bf16* __restrict__ dqkv, const float* __restrict__ cos,
                                           const float* __restrict__ sin, int seq, int heads, int hd, int tile,
                                           float (*qs)[ATT_MAX_HD], float (*gs)[ATT_MAX_HD],
                                           float (*kt)[ATT_BWD_COLS + 1], float (*vt)[ATT_BWD_COLS + 1],
                                           float* lse2, float* dl, float (*dsb)[ATT_ROWS][ATT_BWD_COLS]) {
    const int b = blockIdx.z, h = blockIdx.y, i0 = tile * ATT_TILE;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, w0 = warp * ATT_ROWS;
    const int dim = heads * hd, hdp = (hd + 3) & ~3;
    const long stride = 3L * dim;
    const bf16* q = qkv + (long)b * seq * stride + (long)h * hd;
    const long orow0 = (long)b * seq * dim + (long)h * hd;  // row i of out and dout at orow0 + i * dim
    const float scale = 1.0f / sqrtf((float)hd);

    att_load_tile(&qs[0][0], ATT_MAX_HD, 1, false, q, stride, i0, ATT_TILE, seq, cos, sin, hd, scale * ATT_LOG2E);
    att_load_tile(&gs[0][0], ATT_MAX_HD, 1, false, dout + orow0, dim, i0, ATT_TILE, seq, nullptr, nullptr, hd, 1.0f);
    // lse * log2e and delta of the warp's rows, in shared memory (read back as broadcasts: 16 registers fewer)
    for (int r = 0; r < ATT_ROWS; r++) {
        int i = i0 + w0 + r;  // the same for the whole warp: att_delta's shuffles stay converged
        float v = i < seq ? att_delta(out + orow0 + (long)i * dim, dout + orow0 + (long)i * dim, hd, lane) : 0.0f;
        if (lane == 0) {
            lse2[w0 + r] = i < seq ? lse[((long)b * heads + h) * seq + i] * ATT_LOG2E : 0.0f;
            dl[w0 + r] = v;
        }
    }
    float g0[ATT_ROWS], g1[ATT_ROWS];  // dQ at dims lane, lane + 32
    TRM_UNROLL
    for (int r = 0; r < ATT_ROWS; r++) g0[r] = g1[r] = 0.0f;
    for (int k0 = 0; k0 < seq; k0 += ATT_BWD_COLS) {
        __syncthreads();
        att_load_tile(&kt[0][0], 1, ATT_BWD_COLS + 1, false, q + dim, stride, k0, ATT_BWD_COLS, seq, cos, sin, hd,
                      1.0f);
        att_load_tile(&vt[0][0], 1, ATT_BWD_COLS + 1, false, q + 2 * dim, stride, k0, ATT_BWD_COLS, seq, nullptr,
                      nullptr, hd, 1.0f);
        __syncthreads();
        float s[ATT_ROWS], dp[ATT_ROWS];  // against key k0 + lane
        TRM_UNROLL
        for (int r = 0; r < ATT_ROWS; r++) s[r] = dp[r] = 0.0f;
        for (int d = 0; d < hdp; d += 4) {
            float kk[4], vv[4];
            TRM_UNROLL
            for (int u = 0; u < 4; u++) {
                kk[u] = kt[d + u][lane];
                vv[u] = vt[d + u][lane];
            }
            TRM_UNROLL
            for (int r = 0; r < ATT_ROWS; r++) {
                AttF4 x = att_ld4(&qs[w0 + r][d]);
                AttF4 y = att_ld4(&gs[w0 + r][d]);
                s[r] += x.x * kk[0] + x.y * kk[1] + x.z * kk[2] + x.w * kk[3];
                dp[r] += y.x * vv[0] + y.y * vv[1] + y.z * vv[2] + y.w * vv[3];
            }
        }
        const bool valid = k0 + lane < seq;
        TRM_UNROLL
        for (int r = 0; r < ATT_ROWS; r++) {
            float p = valid ? exp2f(s[r] - lse2[w0 + r]) : 0.0f;
            dsb[warp][r][lane] = p * (dp[r] - dl[w0 + r]);
        }
        __syncwarp();
        // dQ += dS K over the tile's keys
        for (int j = 0; j < ATT_BWD_COLS; j += 4) {
            float ka[4], kb[4];
            TRM_UNROLL
            for (int u = 0; u < 4; u++) {
                ka[u] = kt[lane][j + u];
                kb[u] = kt[lane + 32][j + u];
            }
            TRM_UNROLL
            for (int r = 0; r < ATT_ROWS; r++) {
                AttF4 x = att_ld4(&dsb[warp][r][j]);
                g0[r] += x.x * ka[0] + x.y * ka[1] + x.z * ka[2] + x.w * ka[3];
                g1[r] += x.x * kb[0] + x.y * kb[1] + x.z * kb[2] + x.w * kb[3];
            }
        }
    }
    // dQ (rotated) = scale * sum_j dS_ij k_j; un-rotate through the warp's own rows of qs (read by this warp only)
    __syncwarp();
    TRM_UNROLL
    for (int r = 0; r < ATT_ROWS; r++) {
        qs[w0 + r][lane] = g0[r] * scale;
        qs[w0 + r][lane + 32] = g1[r] * scale;
    }
    __syncwarp();
    for (int r = 0; r < ATT_ROWS; r++) {
        int i = i0 + w0 + r;
        if (i >= seq) continue;
        bf16* drow = dqkv + ((long)b * seq + i) * stride + (long)h * hd;
        for (int d = lane; d < hd; d += 32) drow[d] = __float2bfloat16(att_unrotate(qs[w0 + r], d, cos, sin, i, hd));
    }
}

// The dK/dV role: the 32 keys of tile `tile` of one (b, h) against every query tile. Shared memory from the kernel:
// ks, vs [32][64]; qt, gt [64][33]; lse2, dl [32]; pb [4][8][32].
__device__ __forceinline__ void att_bwd_dkdv(const bf16* __restrict__ qkv, const bf16* __restrict__ out,
                                             const float* __restrict__ lse, const bf16* __restrict__ dout,
                                             bf16* __restrict__ dqkv, const float* __restrict__ cos,
                                             const float* __restrict__ sin, int seq, int heads, int hd, int tile,
                                             float (*ks)[ATT_MAX_HD], float (*vs)[ATT_MAX_HD],
                                             float (*qt)[ATT_BWD_COLS + 1], float (*gt)[ATT_BWD_COLS + 1],
                                             float* lse2, float* dl, float (*pb)[ATT_ROWS][ATT_BWD_COLS]) {
    const int b = blockIdx.z, h = blockIdx.y, j0 = tile * ATT_TILE;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, w0 = warp * ATT_ROWS;
    const int dim = heads * hd, hdp = (hd + 3) & ~3;
    const long stride = 3L * dim;
    const bf16* q = qkv + (long)b * seq * stride + (long)h * hd;
    const long orow0 = (long)b * seq * dim + (long)h * hd;  // row i of out and dout at orow0 + i * dim
    const float* lseRow = lse + ((long)b * heads + h) * seq;

    att_load_tile(&ks[0][0], ATT_MAX_HD, 1, false, q + dim, stride, j0, ATT_TILE, seq, cos, sin, hd, 1.0f);
    att_load_tile(&vs[0][0], ATT_MAX_HD, 1, false, q + 2 * dim, stride, j0, ATT_TILE, seq, nullptr, nullptr, hd,
                  1.0f);
    float k0a[ATT_ROWS], k1a[ATT_ROWS], v0a[ATT_ROWS], v1a[ATT_ROWS];  // dK, dV at dims lane, lane + 32
    TRM_UNROLL
    for (int r = 0; r < ATT_ROWS; r++) k0a[r] = k1a[r] = v0a[r] = v1a[r] = 0.0f;
    for (int q0 = 0; q0 < seq; q0 += ATT_BWD_COLS) {
        __syncthreads();
        att_load_tile(&qt[0][0], 1, ATT_BWD_COLS + 1, false, q, stride, q0, ATT_BWD_COLS, seq, cos, sin, hd,
                      ATT_LOG2E / sqrtf((float)hd));
        att_load_tile(&gt[0][0], 1, ATT_BWD_COLS + 1, false, dout + orow0, dim, q0, ATT_BWD_COLS, seq, nullptr,
                      nullptr, hd, 1.0f);
        if (threadIdx.x < ATT_BWD_COLS) {
            int i = q0 + threadIdx.x;
            lse2[threadIdx.x] = i < seq ? lseRow[i] * ATT_LOG2E : INFINITY;  // masked queries: p = 0
        }
        // delta of the tile's queries: warp w takes columns 8w .. 8w+7 (each row once per key tile that needs it)
        for (int r = 0; r < ATT_ROWS; r++) {
            int i = q0 + w0 + r;
            float v = i < seq ? att_delta(out + orow0 + (long)i * dim, dout + orow0 + (long)i * dim, hd, lane) : 0.0f;
            if (lane == 0) dl[w0 + r] = v;
        }
        __syncthreads();
        float p[ATT_ROWS], dp[ATT_ROWS];  // of the warp's keys against query q0 + lane
        TRM_UNROLL
        for (int r = 0; r < ATT_ROWS; r++) p[r] = dp[r] = 0.0f;
        for (int d = 0; d < hdp; d += 4) {
            float qq[4], gg[4];
            TRM_UNROLL
            for (int u = 0; u < 4; u++) {
                qq[u] = qt[d + u][lane];
                gg[u] = gt[d + u][lane];
            }
            TRM_UNROLL
            for (int r = 0; r < ATT_ROWS; r++) {
                AttF4 x = att_ld4(&ks[w0 + r][d]);
                AttF4 y = att_ld4(&vs[w0 + r][d]);
                p[r] += x.x * qq[0] + x.y * qq[1] + x.z * qq[2] + x.w * qq[3];
                dp[r] += y.x * gg[0] + y.y * gg[1] + y.z * gg[2] + y.w * gg[3];
            }
        }
        const float li = lse2[lane], di = dl[lane];
        TRM_UNROLL
        for (int r = 0; r < ATT_ROWS; r++) {
            p[r] = exp2f(p[r] - li);
            dp[r] = p[r] * (dp[r] - di);  // now dS (without the scale)
            pb[warp][r][lane] = p[r];
        }
        __syncwarp();
        // dV += P^T dO over the tile's queries
        for (int i = 0; i < ATT_BWD_COLS; i += 4) {
            float xa[4], xb[4];
            TRM_UNROLL
            for (int u = 0; u < 4; u++) {
                xa[u] = gt[lane][i + u];
                xb[u] = gt[lane + 32][i + u];
            }
            TRM_UNROLL
            for (int r = 0; r < ATT_ROWS; r++) {
                AttF4 x = att_ld4(&pb[warp][r][i]);
                v0a[r] += x.x * xa[0] + x.y * xa[1] + x.z * xa[2] + x.w * xa[3];
                v1a[r] += x.x * xb[0] + x.y * xb[1] + x.z * xb[2] + x.w * xb[3];
            }
        }
        __syncwarp();
        TRM_UNROLL
        for (int r = 0; r < ATT_ROWS; r++) pb[warp][r][lane] = dp[r];
        __syncwarp();
        // dK += dS^T Q over the tile's queries (qt carries log2e/sqrt(hd): fixed up at the end)
        for (int i = 0; i < ATT_BWD_COLS; i += 4) {
            float xa[4], xb[4];
            TRM_UNROLL
            for (int u = 0; u < 4; u++) {
                xa[u] = qt[lane][i + u];
                xb[u] = qt[lane + 32][i + u];
            }
            TRM_UNROLL
            for (int r = 0; r < ATT_ROWS; r++) {
                AttF4 x = att_ld4(&pb[warp][r][i]);
                k0a[r] += x.x * xa[0] + x.y * xa[1] + x.z * xa[2] + x.w * xa[3];
                k1a[r] += x.x * xb[0] + x.y * xb[1] + x.z * xb[2] + x.w * xb[3];
            }
        }
    }
    // dK (rotated) = scale * sum_i dS_ij q_i = ln2 * (the sum over log2e * scale * q); un-rotate through the warp's
    // own rows of ks (read by this warp only)
    __syncwarp();
    TRM_UNROLL
    for (int r = 0; r < ATT_ROWS; r++) {
        ks[w0 + r][lane] = k0a[r] * ATT_LN2;
        ks[w0 + r][lane + 32] = k1a[r] * ATT_LN2;
    }
    __syncwarp();
    TRM_UNROLL
    for (int r = 0; r < ATT_ROWS; r++) {
        int j = j0 + w0 + r;
        if (j < seq) {
            bf16* drow = dqkv + ((long)b * seq + j) * stride + (long)h * hd;
            if (lane < hd) drow[2 * dim + lane] = __float2bfloat16(v0a[r]);
            if (lane + 32 < hd) drow[2 * dim + lane + 32] = __float2bfloat16(v1a[r]);
            for (int d = lane; d < hd; d += 32)
                drow[dim + d] = __float2bfloat16(att_unrotate(ks[w0 + r], d, cos, sin, j, hd));
        }
    }
}

TRM_KERNEL void __launch_bounds__(ATT_THREADS)
    attention_backward(const bf16* __restrict__ qkv, const bf16* __restrict__ out, const float* __restrict__ lse,
                       const bf16* __restrict__ dout, bf16* __restrict__ dqkv, const float* __restrict__ cos,
                       const float* __restrict__ sin, int seq, int heads, int hd) {
    trm_pdl_begin();
    // One set of buffers for both roles: 8 + 8 + 8.25 + 8.25 + 0.25 + 4 = 36.75 KiB
    __shared__ TRM_ALIGN(16) float own[2][ATT_TILE][ATT_MAX_HD];         // dQ: Q (rotated, scaled), dO; dK/dV: K, V
    __shared__ float tr[2][ATT_MAX_HD][ATT_BWD_COLS + 1];                // dQ: K^T, V^T; dK/dV: Q^T, dO^T
    __shared__ float lse2[ATT_BWD_COLS], dl[ATT_BWD_COLS];               // lse * log2e, delta of the query tile
    __shared__ TRM_ALIGN(16) float work[ATT_WARPS][ATT_ROWS][ATT_BWD_COLS];  // dQ: dS; dK/dV: P^T, then dS^T
    const int tiles = (seq + ATT_TILE - 1) / ATT_TILE;  // gridDim.x = 2 * tiles; the role is uniform over the block
    if ((int)blockIdx.x < tiles)
        att_bwd_dq(qkv, out, lse, dout, dqkv, cos, sin, seq, heads, hd, blockIdx.x, own[0], own[1], tr[0], tr[1],
                   lse2, dl, work);
    else
        att_bwd_dkdv(qkv, out, lse, dout, dqkv, cos, sin, seq, heads, hd, blockIdx.x - tiles, own[0], own[1], tr[0],
                     tr[1], lse2, dl, work);
}
TRM_EXPORT(attention_backward, ATT_THREADS)
