package dev.trm.backend.cpu;

import dev.trm.backend.Argmax;

/**
 * The token loss and the halting loss with their gradients, in one pass each (reference: RefOps.crossEntropy,
 * RefOps.haltingBce; GPU: kernels/loss.cu). The cross-entropy runs in double as the official code does (stablemax
 * upcasts to float64); its work is B * L * V, negligible beside the network.
 */
final class Loss {
    private Loss() {}

    static final int IGNORE = -100;

    /**
     * logits [B, L, V], labels [B, L]; perSeq [B] = mean CE over valid tokens, correct [B] = all valid tokens right,
     * dlogits [B, L, V] = gradScale * d perSeq[b] / d logits (may alias logits).
     */
    static void crossEntropy(boolean stablemax, float[] logits, int[] labels, float[] perSeq, int[] correct,
                             float[] dlogits, int batch, int len, int vocab, double gradScale) {
        CpuParallel.shared().parallelFor(batch, b -> {
            int valid = 0;
            for (int t = 0; t < len; t++) if (labels[b * len + t] != IGNORE) valid++;
            double inv = 1.0 / Math.max(1, valid), sum = 0;
            boolean all = true;
            double[] s = new double[vocab];
            for (int t = 0; t < len; t++) {
                int row = (b * len + t) * vocab, y = labels[b * len + t];
                if (y == IGNORE) {
                    java.util.Arrays.fill(dlogits, row, row + vocab, 0f);
                    continue;
                }
                if (y < 0 || y >= vocab) {
                    throw new IllegalArgumentException("label " + y + " at batch row " + b + ", position " + t
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
                int arg = Argmax.firstMax(logits, row, vocab);
                all &= arg == y;
                double total = 0;
                if (stablemax) {
                    // s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0); dCE/dx_j = s'(x_j)/S - [j = y] s'(x_y)/s(x_y)
                    for (int j = 0; j < vocab; j++) {
                        double x = logits[row + j];
                        s[j] = x >= 0 ? x + 1 : 1 / (1 - x);
                        total += s[j];
                    }
                    sum += Math.log(total) - Math.log(s[y]);
                    for (int j = 0; j < vocab; j++) {
                        double x = logits[row + j];
                        double ds = x >= 0 ? 1 : 1 / ((1 - x) * (1 - x));
                        double g = ds / total - (j == y ? ds / s[j] : 0);
                        dlogits[row + j] = (float) (gradScale * inv * g);
                    }
                } else {
                    double max = logits[row + arg];
                    for (int j = 0; j < vocab; j++) {
                        s[j] = Math.exp(logits[row + j] - max);
                        total += s[j];
                    }
                    sum += Math.log(total) + max - logits[row + y];
                    for (int j = 0; j < vocab; j++) {
                        dlogits[row + j] = (float) (gradScale * inv * (s[j] / total - (j == y ? 1 : 0)));
                    }
                }
            }
            perSeq[b] = (float) (sum * inv);
            correct[b] = all ? 1 : 0;
        });
    }

    /** q [B, 2] (column 0 q_halt): loss[b] = BCEWithLogits(q_halt, target); dq[b,0] = scale (sigma - t), dq[b,1] = 0. */
    static void haltingBce(float[] q, int[] target, double gradScale, float[] loss, float[] dq, int batch) {
        for (int b = 0; b < batch; b++) {
            double x = q[2 * b], t = target[b];
            loss[b] = (float) (Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))));
            dq[2 * b] = (float) (gradScale * (1 / (1 + Math.exp(-x)) - t));
            dq[2 * b + 1] = 0f;
        }
    }
}
