package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The optimizer updates of the CPU backend (reference: RefOps.adamAtan2, ema, signSgdRows; GPU:
 * kernels/optimizer.cu). fp32 math per element, as the official fused CUDA AdamATan2.
 */
final class Optimizers {
    private Optimizers() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    static void adamAtan2(float[] p, float[] g, float[] m, float[] v, double lr, double wd,
                          double beta1, double beta2, long t) {
        float decay = (float) (1 - lr * wd), b1 = (float) (1 - beta1), b2 = (float) (1 - beta2), step = (float) lr;
        float c1 = (float) (1 - Math.pow(beta1, t)), c2 = (float) Math.sqrt(1 - Math.pow(beta2, t));
        CpuParallel.shared().parallelForRange(p.length, Elementwise.PARALLEL_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                // atan2 has no vector form in the JDK that rounds like the scalar one; this loop is O(params), not hot
                float pi = p[i] * decay, gi = g[i];
                float mi = m[i] + b1 * (gi - m[i]);
                float vi = v[i] + b2 * (gi * gi - v[i]);
                m[i] = mi;
                v[i] = vi;
                p[i] = pi - step * (float) Math.atan2(mi / c1, Math.sqrt(vi) / c2);
            }
        });
    }

    static void ema(float[] shadow, float[] p, double rate) {
        float a = (float) rate, b = (float) (1 - rate);
        CpuParallel.shared().parallelForRange(p.length, Elementwise.PARALLEL_GRAIN, (lo, hi) -> {
            int i = lo, bound = lo + F.loopBound(hi - lo);
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, shadow, i).mul(a).add(FloatVector.fromArray(F, p, i).mul(b)).intoArray(shadow, i);
            }
            for (; i < hi; i++) shadow[i] = a * shadow[i] + b * p[i];
        });
    }

    /** Slots sharing an id are summed in slot order (deterministic), then one sign step per distinct row. */
    static void puzzleSignSgd(float[] table, int dim, int[] ids, float[] slotGrads, double lr, double wd) {
        int[] rows = java.util.Arrays.stream(ids).distinct().sorted().toArray();
        float decay = (float) (1 - lr * wd), step = (float) lr;
        float[] sum = new float[dim];
        for (int row : rows) {
            java.util.Arrays.fill(sum, 0f);
            for (int b = 0; b < ids.length; b++) {
                if (ids[b] != row) continue;
                for (int j = 0; j < dim; j++) sum[j] += slotGrads[b * dim + j];
            }
            for (int j = 0; j < dim; j++) table[row * dim + j] = table[row * dim + j] * decay - step * Math.signum(sum[j]);
        }
    }
}
