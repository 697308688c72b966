package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Residual + RMSNorm without weight, forward and backward (reference: RefOps.rmsNorm*; GPU: kernels/norm.cu).
 * out = h * rstd with h = x + r, rstd = 1/sqrt(mean(h^2) + eps); backward dh = rstd (dout - out mean(dout out)).
 * Sums of squares accumulate in fp32 vector lanes and are reduced in double.
 */
final class Norm {
    private Norm() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** Along the last axis: x, r (nullable), out [rows, dim]; rstd [rows]. out may alias x. */
    static void forward(float[] x, float[] r, float[] out, float[] rstd, int rows, int dim, float eps) {
        CpuParallel.shared().parallelForRange(rows, Math.max(1, Elementwise.PARALLEL_GRAIN / dim), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int base = i * dim, j = 0, bound = F.loopBound(dim);
                FloatVector ss = FloatVector.zero(F);
                for (; j < bound; j += F.length()) {
                    FloatVector h = FloatVector.fromArray(F, x, base + j);
                    if (r != null) h = h.add(FloatVector.fromArray(F, r, base + j));
                    h.intoArray(out, base + j);
                    ss = h.fma(h, ss);
                }
                double sum = ss.reduceLanes(VectorOperators.ADD);
                for (; j < dim; j++) {
                    float h = x[base + j] + (r == null ? 0 : r[base + j]);
                    out[base + j] = h;
                    sum += (double) h * h;
                }
                float s = (float) (1.0 / Math.sqrt(sum / dim + eps));
                rstd[i] = s;
                scale(out, base, dim, s);
            }
        });
    }

    /** dh = rstd (dout - out mean(dout out)) along the last axis; dh may alias dout. */
    static void backward(float[] out, float[] rstd, float[] dout, float[] dh, int rows, int dim) {
        CpuParallel.shared().parallelForRange(rows, Math.max(1, Elementwise.PARALLEL_GRAIN / dim), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int base = i * dim, j = 0, bound = F.loopBound(dim);
                FloatVector acc = FloatVector.zero(F);
                for (; j < bound; j += F.length()) {
                    acc = FloatVector.fromArray(F, dout, base + j).fma(FloatVector.fromArray(F, out, base + j), acc);
                }
                double dot = acc.reduceLanes(VectorOperators.ADD);
                for (; j < dim; j++) dot += (double) dout[base + j] * out[base + j];
                float mean = (float) (dot / dim), s = rstd[i];
                for (j = 0; j < bound; j += F.length()) {
                    FloatVector o = FloatVector.fromArray(F, out, base + j);
                    FloatVector g = FloatVector.fromArray(F, dout, base + j);
                    g.sub(o.mul(mean)).mul(s).intoArray(dh, base + j);
                }
                for (; j < dim; j++) dh[base + j] = s * (dout[base + j] - out[base + j] * mean);
            }
        });
    }

    /** Over the sequence axis of [batch, seq, dim] for each (b, d); rstd [batch, dim]. Vectorised along d. */
    static void forwardSeq(float[] x, float[] r, float[] out, float[] rstd, int batch, int seq, int dim, float eps) {
        CpuParallel.shared().parallelFor(batch, b -> {
            double[] ss = new double[dim];
            float[] acc = new float[dim];
            for (int s = 0; s < seq; s++) {
                int base = (b * seq + s) * dim, j = 0, bound = F.loopBound(dim);
                for (; j < bound; j += F.length()) {
                    FloatVector h = FloatVector.fromArray(F, x, base + j);
                    if (r != null) h = h.add(FloatVector.fromArray(F, r, base + j));
                    h.intoArray(out, base + j);
                    h.mul(h).intoArray(acc, j);
                }
                for (; j < dim; j++) {
                    float h = x[base + j] + (r == null ? 0 : r[base + j]);
                    out[base + j] = h;
                    acc[j] = h * h;
                }
                for (j = 0; j < dim; j++) ss[j] += acc[j];
            }
            float[] sc = new float[dim];
            for (int j = 0; j < dim; j++) {
                sc[j] = (float) (1.0 / Math.sqrt(ss[j] / seq + eps));
                rstd[b * dim + j] = sc[j];
            }
            for (int s = 0; s < seq; s++) mulRow(out, (b * seq + s) * dim, sc, dim);
        });
    }

    static void backwardSeq(float[] out, float[] rstd, float[] dout, float[] dh, int batch, int seq, int dim) {
        CpuParallel.shared().parallelFor(batch, b -> {
            double[] dot = new double[dim];
            for (int s = 0; s < seq; s++) {
                int base = (b * seq + s) * dim;
                for (int j = 0; j < dim; j++) dot[j] += (double) dout[base + j] * out[base + j];
            }
            float[] mean = new float[dim], sc = new float[dim];
            for (int j = 0; j < dim; j++) {
                mean[j] = (float) (dot[j] / seq);
                sc[j] = rstd[b * dim + j];
            }
            for (int s = 0; s < seq; s++) {
                int base = (b * seq + s) * dim, j = 0, bound = F.loopBound(dim);
                for (; j < bound; j += F.length()) {
                    FloatVector o = FloatVector.fromArray(F, out, base + j);
                    FloatVector g = FloatVector.fromArray(F, dout, base + j);
                    g.sub(o.mul(FloatVector.fromArray(F, mean, j))).mul(FloatVector.fromArray(F, sc, j))
                            .intoArray(dh, base + j);
                }
                for (; j < dim; j++) dh[base + j] = sc[j] * (dout[base + j] - out[base + j] * mean[j]);
            }
        });
    }

    private static void scale(float[] a, int base, int n, float s) {
        int j = 0, bound = F.loopBound(n);
        for (; j < bound; j += F.length()) FloatVector.fromArray(F, a, base + j).mul(s).intoArray(a, base + j);
        for (; j < n; j++) a[base + j] *= s;
    }

    private static void mulRow(float[] a, int base, float[] s, int n) {
        int j = 0, bound = F.loopBound(n);
        for (; j < bound; j += F.length()) {
            FloatVector.fromArray(F, a, base + j).mul(FloatVector.fromArray(F, s, j)).intoArray(a, base + j);
        }
        for (; j < n; j++) a[base + j] *= s[j];
    }
}
