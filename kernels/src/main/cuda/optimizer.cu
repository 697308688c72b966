// optimizer.cu: the parameter updates (spec 4.2 to 4.4), over flat fp32 buffers.
//
// adam_atan2: p, g, m, v [n] fp32, in place; pHalf [n] bf16 (nullable) receives the updated p rounded to bf16, the
//   copy the GEMMs read, so no separate cast pass follows the step. sched [3] fp32 on the device = (lr, 1 - beta1^t, 1 - beta2^t): read
//   from device memory, not passed by value, so that a captured CUDA graph replays with each step's values.
//   p <- p (1 - lr wd);  m <- m + (1-b1)(g - m);  v <- v + (1-b2)(g^2 - v);
//   p <- p - lr atan2(m / (1-b1^t), sqrt(v) / sqrt(1-b2^t))        (no epsilon, a = b = 1)
// ema: shadow [n] <- rate shadow + (1 - rate) p.
// puzzle_sign_sgd: the same step straight from the batch's slots (lr by value, or from lrPtr when non-null):
//   ids [B], slotGrads [B, D] fp32. The first slot
//   holding each id sums the gradients of every slot with that id, in slot order (deterministic, no atomics), and
//   updates the row; the other slots do nothing. O(B) id compares per thread: cheap next to a training step.
// sign_sgd_rows: the puzzle-embedding step on distinct rows: table [ids, D]; rows [count]; gradRows [count, D]
//   (already summed per id): row <- row (1 - lr wd) - lr sign(grad)   (sign(0) = 0, as torch.sign).
#include "common.cuh"

TRM_KERNEL void adam_atan2(float* p, bf16* pHalf, const float* g, float* m, float* v, long n, const float* sched,
                           float wd, float beta1, float beta2) {
    float lr = sched[0], bc1 = sched[1], bc2Sqrt = sqrtf(sched[2]);
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        float gi = g[i];
        float pi = p[i] * (1.0f - lr * wd);
        float mi = m[i] + (1.0f - beta1) * (gi - m[i]);
        float vi = v[i] + (1.0f - beta2) * (gi * gi - v[i]);
        pi -= lr * atan2f(mi / bc1, sqrtf(vi) / bc2Sqrt);
        p[i] = pi;
        if (pHalf != nullptr) pHalf[i] = __float2bfloat16(pi);
        m[i] = mi;
        v[i] = vi;
    }
}
TRM_EXPORT(adam_atan2)

TRM_KERNEL void ema(float* shadow, bf16* shadowHalf, const float* p, long n, float rate) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        float s = rate * shadow[i] + (1.0f - rate) * p[i];
        shadow[i] = s;
        if (shadowHalf != nullptr) shadowHalf[i] = __float2bfloat16(s);
    }
}
TRM_EXPORT(ema)

TRM_KERNEL void sign_sgd_rows(float* table, int dim, const int* rows, const float* gradRows, int count, float lr,
                              float wd) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)count * dim) return;
    int r = (int)(idx / dim), d = (int)(idx % dim);
    float gr = gradRows[idx];
    float sign = gr > 0.0f ? 1.0f : (gr < 0.0f ? -1.0f : 0.0f);
    float* w = table + (long)rows[r] * dim + d;
    *w = *w * (1.0f - lr * wd) - lr * sign;
}
TRM_EXPORT(sign_sgd_rows)

TRM_KERNEL void puzzle_sign_sgd(float* table, int dim, const int* ids, const float* slotGrads, int batch, float lr,
                                const float* lrPtr, float wd) {
    if (lrPtr != nullptr) lr = *lrPtr;  // a schedule row in device memory (a captured step replays with each lr)
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)batch * dim) return;
    int b = (int)(idx / dim), d = (int)(idx % dim);
    int id = ids[b];
    for (int j = 0; j < b; j++)
        if (ids[j] == id) return;  // an earlier slot owns this row
    float sum = 0.0f;
    for (int j = b; j < batch; j++)
        if (ids[j] == id) sum += slotGrads[(long)j * dim + d];
    float sign = sum > 0.0f ? 1.0f : (sum < 0.0f ? -1.0f : 0.0f);
    float* w = table + (long)id * dim + d;
    *w = *w * (1.0f - lr * wd) - lr * sign;
}
TRM_EXPORT(puzzle_sign_sgd)
