// loss.cu: the losses of spec section 3, each fused with its gradient (nothing but the gradient is kept).
//
// token_loss: stablemax (spec 3, in double as the reference does) or softmax cross-entropy with the per-sequence
// mean over valid tokens (label -100 = ignored).
//   logits [B, L, V] bf16, labels [B, L] int -> perSeqLoss [B] fp32 = sum_t CE / max(1, valid count),
//   seqCorrect [B] int = 1 iff every valid token's argmax (first max) equals its label (1 when none is valid),
//   tokensCorrect [B] int (skipped when null) = how many valid tokens' argmax equals the label (the training metrics'
//   token accuracy: the step writes dlogits over the logits, so nothing can take the argmax after this kernel),
//   dlogits [B, L, V] bf16 = gradScale * d perSeqLoss[b] / d logits (written with =; 0 on ignored tokens).
// One block per sequence, one warp per token (V is small: 10 to 12 for the puzzle tasks).
//
// halting_bce: q [B, qStride] fp32 with q_halt in column 0 (the q head writes [B, 2]); target [B] int ->
//   loss [B] = BCEWithLogits(q[b, 0], target[b]); dq [B, qStride] = gradScale * (sigmoid(q) - target) in column 0
//   and 0 in the others (q_continue carries no loss in TRM). One thread per slot.
#include "common.cuh"

__device__ __forceinline__ double stablemaxS(double x) { return x < 0.0 ? 1.0 / (1.0 - x + 1e-30) : x + 1.0; }
__device__ __forceinline__ double stablemaxDs(double x) { return x < 0.0 ? 1.0 / ((1.0 - x) * (1.0 - x)) : 1.0; }

__device__ __forceinline__ double warpReduceSumD(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    token_loss(int stablemax, const bf16* logits, const int* labels, float* perSeqLoss, int* seqCorrect,
               int* tokensCorrect, bf16* dlogits, int batch, int len, int vocab, float gradScale) {
    trm_pdl_begin();
    __shared__ float scratch[32];
    __shared__ int wrong;
    int b = blockIdx.x;
    if (b >= batch) return;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    const int* lab = labels + (long)b * len;

    float valid = 0.0f;
    for (int t = threadIdx.x; t < len; t += blockDim.x) valid += lab[t] != -100 ? 1.0f : 0.0f;
    float count = blockReduceSum(valid, scratch);
    if (threadIdx.x == 0) wrong = 0;
    __syncthreads();
    float inv = 1.0f / fmaxf(1.0f, count);

    float lossAcc = 0.0f, rightAcc = 0.0f;  // meaningful in lane 0 of each warp (counts stay exact in fp32)
    for (int t = warp; t < len; t += warps) {
        long rowOff = ((long)b * len + t) * vocab;
        const bf16* row = logits + rowOff;
        bf16* drow = dlogits + rowOff;
        int y = lab[t];
        if (y == -100) {
            for (int j = lane; j < vocab; j += 32) drow[j] = __float2bfloat16(0.0f);
            continue;
        }
        // Read the label's logit before any lane writes: dlogits may alias logits, and lanes of a warp are not
        // in lockstep after the reductions below (independent thread scheduling).
        const float xyF = __bfloat162float(row[y]);
        // max and first argmax across the warp
        float best = -INFINITY;
        int bestIdx = 0x7fffffff;
        for (int j = lane; j < vocab; j += 32) {
            float v = __bfloat162float(row[j]);
            if (v > best) { best = v; bestIdx = j; }
        }
        for (int offset = 16; offset > 0; offset >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, best, offset);
            int oi = __shfl_xor_sync(0xffffffffu, bestIdx, offset);
            if (ov > best || (ov == best && oi < bestIdx)) { best = ov; bestIdx = oi; }
        }
        float ce;
        if (stablemax) {
            double sum = 0.0;
            for (int j = lane; j < vocab; j += 32) sum += stablemaxS((double)__bfloat162float(row[j]));
            sum = warpReduceSumD(sum);
            double xy = (double)xyF;
            double sy = stablemaxS(xy);
            ce = (float)(-log(sy / sum));
            for (int j = lane; j < vocab; j += 32) {
                double xj = (double)__bfloat162float(row[j]);
                double g = stablemaxDs(xj) / sum - (j == y ? stablemaxDs(xy) / sy : 0.0);
                drow[j] = __float2bfloat16((float)(g * gradScale * inv));
            }
        } else {
            float sum = 0.0f;
            for (int j = lane; j < vocab; j += 32) sum += expf(__bfloat162float(row[j]) - best);
            sum = warpReduceSum(sum);
            ce = logf(sum) + best - xyF;
            for (int j = lane; j < vocab; j += 32) {
                float p = expf(__bfloat162float(row[j]) - best) / sum;
                drow[j] = __float2bfloat16((p - (j == y ? 1.0f : 0.0f)) * gradScale * inv);
            }
        }
        if (lane == 0) {
            lossAcc += ce;
            if (bestIdx != y) wrong = 1;
            else rightAcc += 1.0f;
        }
    }
    float total = blockReduceSum(lane == 0 ? lossAcc : 0.0f, scratch);  // its barriers also publish `wrong`
    float right = blockReduceSum(lane == 0 ? rightAcc : 0.0f, scratch);
    if (threadIdx.x == 0) {
        perSeqLoss[b] = total * inv;
        seqCorrect[b] = wrong ? 0 : 1;
        if (tokensCorrect != nullptr) tokensCorrect[b] = (int)right;
    }
}
TRM_EXPORT(token_loss, TRM_BLOCK)

// One slot's halting BCE with logits x = q_halt and target t in {0, 1}: the loss (the stable form of BCE with logits)
// and gradScale * dloss/dx. halting_bce and q_head.cu's q_head_backward share it, so the two paths agree bit for bit.
__device__ __forceinline__ void haltingBceOne(float x, float t, float gradScale, float* loss, float* dx) {
    *loss = fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x)));
    *dx = gradScale * (1.0f / (1.0f + expf(-x)) - t);
}

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    halting_bce(const float* q, int qStride, const int* target, float* loss, float* dq, int batch,
                float gradScale) {
    trm_pdl_begin();
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= batch) return;
    haltingBceOne(q[(long)b * qStride], (float)target[b], gradScale, &loss[b], &dq[(long)b * qStride]);
    for (int j = 1; j < qStride; j++) dq[(long)b * qStride + j] = 0.0f;
}
TRM_EXPORT(halting_bce, TRM_BLOCK)
