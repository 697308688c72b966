package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Vectorised elementwise kernels of the CPU backend: the injection add and gradient accumulation. */
final class Elementwise {
    private Elementwise() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Below this many elements a loop runs on the calling thread: a task hand-off costs more than the work. */
    static final int PARALLEL_GRAIN = 1 << 15;

    /** out = a + b (+ c when non-null). */
    static void add(float[] a, float[] b, float[] c, float[] out) {
        CpuParallel.shared().parallelForRange(out.length, PARALLEL_GRAIN, (lo, hi) -> {
            int i = lo, bound = lo + F.loopBound(hi - lo);
            if (c == null) {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i)).intoArray(out, i);
                }
                for (; i < hi; i++) out[i] = a[i] + b[i];
            } else {
                for (; i < bound; i += F.length()) {
                    FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i))
                            .add(FloatVector.fromArray(F, c, i)).intoArray(out, i);
                }
                for (; i < hi; i++) out[i] = a[i] + b[i] + c[i];
            }
        });
    }

    /** acc += x. */
    static void accumulate(float[] acc, float[] x) {
        CpuParallel.shared().parallelForRange(acc.length, PARALLEL_GRAIN, (lo, hi) -> {
            int i = lo, bound = lo + F.loopBound(hi - lo);
            for (; i < bound; i += F.length()) {
                FloatVector.fromArray(F, acc, i).add(FloatVector.fromArray(F, x, i)).intoArray(acc, i);
            }
            for (; i < hi; i++) acc[i] += x[i];
        });
    }
}
