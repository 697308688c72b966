// act.cu: deep supervision's per-slot bookkeeping on the device (spec 2.2), so a training step needs no value
// from the host but the fresh batch it uploads ahead, and returns none.
//
// act_refill:    for each slot b with halted[b]: inputs/labels [B, L] and ids [B] take the fresh batch's row,
//                steps[b] = 0, carry y, z [B, S, D] (bf16) = hInit, lInit [D] (fp32). Grid-stride over B * S * D;
//                the threads with a small index also copy the rows (their work is tiny next to the carry's).
// act_halt:      one thread per slot: steps += 1; halted = steps >= maxSteps || (maxSteps > 1: q[b, 0] > 0), and
//                (maxSteps > 1) steps >= minSteps[b] (the host's exploration draw, 0 when not exploring).
// train_metrics: one block of 256 threads: the step's sums over the batch (losses) and over the slots that halted
//                with a valid label (count, token accuracy = tokensCorrect (token_loss's count) / valid labels,
//                exact, q accuracy, steps), written in double-free fixed
//                order (per-thread partial sums, then a block reduction) into ring row cursor % rows; cursor += 1.
#include "common.cuh"

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    act_refill(const int* halted, const int* freshInputs, const int* freshLabels, const int* freshIds,
               int* inputs, int* labels, int* ids, int* steps, const float* hInit, const float* lInit,
               bf16* y, bf16* z, int batch, int len, int seq, int dim) {
    trm_pdl_begin();
    long perSlot = (long)seq * dim;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (long)batch * perSlot;
         i += (long)gridDim.x * blockDim.x) {
        int b = (int)(i / perSlot);
        if (!halted[b]) continue;
        int d = (int)(i % dim);
        y[i] = __float2bfloat16(hInit[d]);
        z[i] = __float2bfloat16(lInit[d]);
        long r = i % perSlot;  // this slot's r-th element: also copy token r of its rows
        if (r < len) {
            inputs[(long)b * len + r] = freshInputs[(long)b * len + r];
            labels[(long)b * len + r] = freshLabels[(long)b * len + r];
        }
        if (r == 0) {
            ids[b] = freshIds[b];
            steps[b] = 0;
        }
    }
}
TRM_EXPORT(act_refill, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    act_halt(const float* q, int qStride, const int* minSteps, int* steps, int* halted, int batch,
             int maxSteps) {
    trm_pdl_begin();
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= batch) return;
    int s = steps[b] + 1;
    steps[b] = s;
    bool stop = s >= maxSteps;
    if (maxSteps > 1) {
        stop = stop || q[(long)b * qStride] > 0.0f;
        stop = stop && s >= minSteps[b];
    }
    halted[b] = stop ? 1 : 0;
}
TRM_EXPORT(act_halt, TRM_BLOCK)

TRM_KERNEL void __launch_bounds__(TRM_BLOCK)
    train_metrics(const int* tokensCorrect, const int* labels, const int* halted, const int* steps,
                  const int* seqCorrect, const float* q, int qStride, const float* perSeqLoss,
                  const float* qLoss, float* ring, int ringRows, int fields, int* cursor, int batch,
                  int len) {
    trm_pdl_begin();
    __shared__ float scratch[32];
    float lm = 0, qh = 0, count = 0, acc = 0, exact = 0, qAcc = 0, stepSum = 0;
    for (int b = threadIdx.x; b < batch; b += blockDim.x) {
        lm += perSeqLoss[b];
        qh += qLoss[b];
        if (!halted[b]) continue;
        int valid = 0;
        for (int t = 0; t < len; t++) valid += labels[(long)b * len + t] >= 0 ? 1 : 0;
        if (valid == 0) continue;
        count += 1;
        acc += (float)tokensCorrect[b] / valid;
        exact += seqCorrect[b];
        qAcc += ((q[(long)b * qStride] >= 0.0f) == (seqCorrect[b] == 1)) ? 1.0f : 0.0f;
        stepSum += steps[b];
    }
    float v[7] = {lm, qh, count, acc, exact, qAcc, stepSum};
    int row = cursor[0] % ringRows;
    for (int i = 0; i < 7; i++) {
        float total = blockReduceSum(v[i], scratch);
        if (threadIdx.x == 0) ring[(long)row * fields + i] = total;
    }
    __syncthreads();
    if (threadIdx.x == 0) cursor[0] = cursor[0] + 1;
}
TRM_EXPORT(train_metrics, TRM_BLOCK)
