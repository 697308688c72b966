// infer.cu: a solve's per-puzzle bookkeeping on the device (TrmSolver, spec 2.1 and its early-halt option), so that
// every supervision step of a batch runs in one graph launch and nothing is read back before the end.
//
// solve_record, after supervision step `step` (0-based) of `steps`, for each slot b still running (stepsUsed[b] == 0):
//   qHalts[b, step] = q[b, 0] (the host turns them into confidences: sigmoid, as it always did);
//   when step is the last one, or earlyHalt and q[b, 0] > 0, the slot ends: answers[b, t] = argmax over V of
//   logits[b, t, :] (bf16 [rows, L, V]; the first maximum, as the host's Predictions.argmax and torch.argmax),
//   stepsUsed[b] = step + 1, halted[b] = q[b, 0] > 0.
// A slot that ended is never touched again, so its answer is that of its own last step even though later steps keep
// running for the others (or for nobody, when no conditional graph node skips them).
// Grid: one block per slot, threads over its L tokens. Every thread reads stepsUsed[b] before the barrier, and only
// after it may thread 0 write it: without the barrier a thread could see the slot already ended and skip its tokens.
#include "common.cuh"

#define INFER_THREADS 128  // solve_record's block (GpuKernels.solveRecord)

TRM_KERNEL void __launch_bounds__(INFER_THREADS)
    solve_record(const bf16* logits, const float* q, int qStride, int step, int steps, int earlyHalt,
                 int* answers, float* qHalts, int* stepsUsed, int* halted, int len, int vocab) {
    trm_pdl_begin();
    int b = blockIdx.x;
    int used = stepsUsed[b];
    __syncthreads();
    if (used != 0) return;  // the whole block leaves together: `used` is the same for all its threads
    float qh = q[(long)b * qStride];
    if (threadIdx.x == 0) qHalts[(long)b * steps + step] = qh;
    bool ends = step == steps - 1 || (earlyHalt != 0 && qh > 0.0f);
    if (!ends) return;
    for (int t = threadIdx.x; t < len; t += blockDim.x) {
        const bf16* row = logits + ((long)b * len + t) * vocab;
        int best = 0;
        float bestV = __bfloat162float(row[0]);
        for (int j = 1; j < vocab; j++) {
            float v = __bfloat162float(row[j]);
            if (v > bestV) { bestV = v; best = j; }
        }
        answers[(long)b * len + t] = best;
    }
    if (threadIdx.x == 0) {
        stepsUsed[b] = step + 1;
        halted[b] = qh > 0.0f ? 1 : 0;
    }
}
TRM_EXPORT(solve_record, INFER_THREADS)
