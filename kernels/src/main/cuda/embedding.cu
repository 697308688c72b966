// embedding.cu: the input embedding (spec 1.2), forward and backward.
//   tokens [B, L] int, puzzleIds [B] int, embed [V, D] fp32, table [numIds, D] fp32 -> x [B, P + L, D] bf16
//   x[b,0,:] = table[pid[b],:] * scale;  x[b,1..P-1,:] = 0;  x[b,P+t,:] = embed[tokens[b,t],:] * scale
// Backward: dx [B, P + L, D] fp32 (the gradient summed over every recursion call that injected x);
//   dEmbed [V, D] += (a parameter gradient: accumulates, with atomics since tokens repeat);
//   dPuzzle [B, D] = dx[b,0,:] * scale (per slot; the sign-SGD step sums rows per id).
#include "common.cuh"

TRM_KERNEL void embedding_forward(const int* tokens, const int* puzzleIds, const float* embed, const float* table,
                                  bf16* x, int batch, int len, int dim, int prefix, float scale) {
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
    x[idx] = __float2bfloat16(v * scale);
}
TRM_EXPORT(embedding_forward)

TRM_KERNEL void embedding_backward(const int* tokens, const float* dx, float* dEmbed, float* dPuzzle, int batch,
                                   int len, int dim, int prefix, float scale) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    int seq = prefix + len;
    long total = (long)batch * seq * dim;
    if (idx >= total) return;
    int d = (int)(idx % dim);
    int s = (int)((idx / dim) % seq);
    int b = (int)(idx / ((long)dim * seq));
    if (s == 0) {
        dPuzzle[(long)b * dim + d] = dx[idx] * scale;
    } else if (s >= prefix) {
        atomicAdd(&dEmbed[(long)tokens[b * len + (s - prefix)] * dim + d], dx[idx] * scale);
    }
}
TRM_EXPORT(embedding_backward)
