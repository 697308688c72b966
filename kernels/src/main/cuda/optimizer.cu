// optimizer.cu: the parameter updates (spec 4.2 to 4.4), over flat fp32 buffers.
//
// adam_atan2: p, g, m, v [n] fp32, in place; pHalf [n] bf16 (nullable) receives the updated p rounded to bf16, the
//   copy the GEMMs read, so no separate cast pass follows the step. sched [3] fp32 on the device = (lr, 1 - beta1^t, 1 - beta2^t): read
//   from device memory, not passed by value, so that a captured CUDA graph replays with each step's values.
//   p <- p (1 - lr wd);  m <- m + (1-b1)(g - m);  v <- v + (1-b2)(g^2 - v);
//   p <- p - lr atan2(m / (1-b1^t), sqrt(v) / sqrt(1-b2^t))        (no epsilon, a = b = 1)
// ema: shadow [n] <- rate shadow + (1 - rate) p.
// adam_atan2_multi, ema_multi: the same updates over a list of tensors in one launch (the whole model's parameters:
//   about 15 tensors, so one launch instead of 15). table [T * F + T + 1] of 64-bit values in device memory, built
//   once by the host and reused by every step (a captured graph replays the same table): first F device addresses
//   per tensor (adam: p, pHalf, g, m, v, F = 5; ema: shadow, shadowHalf, p, F = 3; a half address is 0 where the
//   tensor has no bf16 copy), then start [T + 1], the prefix sums of the element counts (start[T] = total).
//   Work split: the tensors are concatenated into one range [0, total) and each thread grid-strides over it as the
//   single-tensor kernels do over [0, n). A thread's indices only grow, so it finds the tensor holding its index by
//   walking start forwards (at most T steps over the whole loop, no per-element search), loads that tensor's
//   addresses once and runs the single-tensor loop body over its part of the tensor. The per-element arithmetic is
//   the same inline function as in adam_atan2 / ema, so the results are bit-identical to T single launches.
// puzzle_sign_sgd: the puzzle-embedding step (spec 4.3) straight from the batch's slots: table [ids, D] fp32;
//   ids [B] (may repeat); slotGrads [B, D] fp32; lr by value, or from lrPtr when non-null (a schedule row). The
//   first slot holding each id sums the gradients of every slot with that id, in slot order (deterministic, no
//   atomics), and updates the row: row <- row (1 - lr wd) - lr sign(sum) (sign(0) = 0, as torch.sign); the other
//   slots do nothing. Rows not in the batch are neither updated nor decayed. O(B) id compares per thread.
#include "common.cuh"

// One AdamATan2 element (shared by adam_atan2 and adam_atan2_multi, so both round alike).
__device__ __forceinline__ void adamAtan2Element(float* p, bf16* pHalf, const float* g, float* m, float* v, long i,
                                                 float lr, float bc1, float bc2Sqrt, float wd, float beta1,
                                                 float beta2) {
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

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    adam_atan2(float* p, bf16* pHalf, const float* g, float* m, float* v, long n, const float* sched,
               float wd, float beta1, float beta2) {
    trm_pdl_begin();
    float lr = sched[0], bc1 = sched[1], bc2Sqrt = sqrtf(sched[2]);
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        adamAtan2Element(p, pHalf, g, m, v, i, lr, bc1, bc2Sqrt, wd, beta1, beta2);
}
TRM_EXPORT(adam_atan2, TRM_BLOCK)

// One EMA element (shared by ema and ema_multi).
__device__ __forceinline__ void emaElement(float* shadow, bf16* shadowHalf, const float* p, long i, float rate) {
    float s = rate * shadow[i] + (1.0f - rate) * p[i];
    shadow[i] = s;
    if (shadowHalf != nullptr) shadowHalf[i] = __float2bfloat16(s);
}

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    ema(float* shadow, bf16* shadowHalf, const float* p, long n, float rate) {
    trm_pdl_begin();
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        emaElement(shadow, shadowHalf, p, i, rate);
}
TRM_EXPORT(ema, TRM_BLOCK)

// A table entry (a 64-bit device address, 0 for none) as the pointer type the loop body takes.
template <typename T>
__device__ __forceinline__ T* tableAddress(unsigned long long a) {
    return reinterpret_cast<T*>(a);
}

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    adam_atan2_multi(const unsigned long long* table, int tensors, long total, const float* sched,
                     float wd, float beta1, float beta2) {
    trm_pdl_begin();
    const int F = 5;
    const unsigned long long* start = table + (long)tensors * F;
    float lr = sched[0], bc1 = sched[1], bc2Sqrt = sqrtf(sched[2]);
    long stride = (long)gridDim.x * blockDim.x;
    int t = 0;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total;) {
        while ((long)start[t + 1] <= i) t++;  // i < total = start[tensors], so t stays below tensors
        const unsigned long long* d = table + (long)t * F;
        float* p = tableAddress<float>(d[0]);
        bf16* pHalf = tableAddress<bf16>(d[1]);
        const float* g = tableAddress<const float>(d[2]);
        float* m = tableAddress<float>(d[3]);
        float* v = tableAddress<float>(d[4]);
        long base = (long)start[t], end = (long)start[t + 1];
        for (; i < end; i += stride) adamAtan2Element(p, pHalf, g, m, v, i - base, lr, bc1, bc2Sqrt, wd, beta1, beta2);
    }
}
TRM_EXPORT(adam_atan2_multi, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    ema_multi(const unsigned long long* table, int tensors, long total, float rate) {
    trm_pdl_begin();
    const int F = 3;
    const unsigned long long* start = table + (long)tensors * F;
    long stride = (long)gridDim.x * blockDim.x;
    int t = 0;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total;) {
        while ((long)start[t + 1] <= i) t++;
        const unsigned long long* d = table + (long)t * F;
        float* shadow = tableAddress<float>(d[0]);
        bf16* shadowHalf = tableAddress<bf16>(d[1]);
        const float* p = tableAddress<const float>(d[2]);
        long base = (long)start[t], end = (long)start[t + 1];
        for (; i < end; i += stride) emaElement(shadow, shadowHalf, p, i - base, rate);
    }
}
TRM_EXPORT(ema_multi, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    puzzle_sign_sgd(float* table, int dim, const int* ids, const float* slotGrads, int batch, float lr,
                    const float* lrPtr, float wd) {
    trm_pdl_begin();
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
TRM_EXPORT(puzzle_sign_sgd, TRM_BLOCK)
