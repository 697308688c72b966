// embedding.cu: the input embedding (spec 1.2), forward and backward.
//   tokens [B, L] int, puzzleIds [B] int, embed [V, D] fp32, table [numIds, D] fp32 -> x [B, P + L, D] bf16
//   x[b,0,:] = table[pid[b],:] * scale;  x[b,1..P-1,:] = 0;  x[b,P+t,:] = embed[tokens[b,t],:] * scale
//   with next != nullptr also next [B, P + L, D] bf16 = (injA + injB) + x, both [B, P + L, D] bf16: the first recursion
//   call's injected input z + y + x, in the same pass (x as stored, rounded to bf16, and summed in add3's order, so
//   the result is the bits of embedding_forward followed by add3).
// Backward: dx [B, P + L, D] fp32 (the gradient summed over every recursion call that injected x);
//   dEmbed [V, D] += (a parameter gradient: accumulates; tokens repeat, see below for how without atomics);
//   dPuzzle [B, D] = dx[b,0,:] * scale (per slot; the sign-SGD step sums rows per id).
#include "common.cuh"

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    embedding_forward(const int* tokens, const int* puzzleIds, const float* embed, const float* table,
                      bf16* x, int batch, int len, int dim, int prefix, float scale, const bf16* injA,
                      const bf16* injB, bf16* next) {
    trm_pdl_begin();
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    int seq = prefix + len;
    long total = (long)batch * seq * dim;
    if (idx >= total) return;
    int d = (int)(idx % dim);
    int s = (int)((idx / dim) % seq);
    int b = (int)(idx / ((long)dim * seq));
    float v;
    if (s == 0) {
        v = table[(long)puzzleIds[b] * dim + d];
    } else if (s < prefix) {
        v = 0.0f;  // the zero "register" slots of the puzzle prefix
    } else {
        v = embed[(long)tokens[b * len + (s - prefix)] * dim + d];
    }
    const bf16 xv = __float2bfloat16(v * scale);
    x[idx] = xv;
    if (next != nullptr)
        next[idx] = __float2bfloat16(__bfloat162float(injA[idx]) + __bfloat162float(injB[idx]) + __bfloat162float(xv));
}
TRM_EXPORT(embedding_forward, TRM_BLOCK)

// Backward without atomics (deterministic: the same bits on every run and every GPU):
//   embedding_backward_tokens: the token rows r = b * L + t are cut into chunks; thread (chunk, v, d) sums
//     dx[b, P + t, d] over the chunk's rows whose token is v, in row order, into partial [chunks, V, D]. The token
//     read is one broadcast per warp (the warp's threads differ in d), and dx is read, coalesced, only by the
//     threads of the row's own token. Then sum_batches (linear.cu) adds the chunks, in order, into dEmbed.
//   embedding_backward_puzzle: dPuzzle [B, D] = dx[b, 0, :] * scale.
// The bound's second argument (at least 1 block per SM): without it ptxas 13 squeezed this kernel for sm_80 into 32
// registers (the count that fits 8 such blocks per SM) and spilled 12 bytes; with it, 40 registers and no spill.
TRM_KERNEL void __launch_bounds__(TRM_BLOCK, 1)
    embedding_backward_tokens(const int* tokens, const float* dx, float* partial, int batch, int len,
                              int dim, int prefix, int vocab, int chunkRows, float scale) {
    trm_pdl_begin();
    long rows = (long)batch * len;
    long chunks = (rows + chunkRows - 1) / chunkRows;
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= chunks * vocab * dim) return;
    int d = (int)(idx % dim);
    int v = (int)((idx / dim) % vocab);
    long c = idx / ((long)dim * vocab);
    long end = (c + 1) * chunkRows < rows ? (c + 1) * chunkRows : rows;
    float acc = 0.0f;
    for (long r = c * chunkRows; r < end; r++) {
        if (tokens[r] != v) continue;
        long b = r / len, t = r % len;
        acc += dx[(b * (prefix + len) + prefix + t) * dim + d];
    }
    partial[idx] = acc * scale;
}
TRM_EXPORT(embedding_backward_tokens, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    embedding_backward_puzzle(const float* dx, float* dPuzzle, int batch, int seq, int dim, float scale) {
    trm_pdl_begin();
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)batch * dim) return;
    long b = idx / dim, d = idx % dim;
    dPuzzle[idx] = dx[b * seq * dim + d] * scale;
}
TRM_EXPORT(embedding_backward_puzzle, TRM_BLOCK)
