package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * SwiGLU activation, forward and backward (reference: RefOps.swiglu*; GPU: kernels/swiglu.cu). Each row of gu holds
 * (gate | up), each {@code inter} long; out = silu(gate) * up with silu(g) = g sigma(g).
 */
final class SwiGlu {
    private SwiGlu() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    static void forward(float[] gu, float[] out, int rows, int inter) {
        CpuParallel.shared().parallelForRange(rows * inter, Elementwise.PARALLEL_GRAIN, (lo, hi) -> {
            // flat output index k = row * inter + j reads gate at row * 2 inter + j, up at + inter
            int k = lo;
            while (k < hi) {
                int row = k / inter, j = k - row * inter, end = Math.min(hi - k, inter - j);
                int g0 = row * 2 * inter + j, u0 = g0 + inter, o0 = k;
                int t = 0, bound = F.loopBound(end);
                for (; t < bound; t += F.length()) {
                    FloatVector g = FloatVector.fromArray(F, gu, g0 + t);
                    FloatVector sig = sigmoid(g);
                    g.mul(sig).mul(FloatVector.fromArray(F, gu, u0 + t)).intoArray(out, o0 + t);
                }
                for (; t < end; t++) {
                    float g = gu[g0 + t];
                    out[o0 + t] = g * VectorMath.sigmoid(g) * gu[u0 + t];
                }
                k += end;
            }
        });
    }

    /**
     * d gate = dout up silu'(g), silu'(g) = sigma(g) (1 + g (1 - sigma(g))); d up = dout silu(g). out (may be null)
     * gets silu(g) up again, bit for bit what {@link #forward} writes: same operations in the same order, and each
     * element takes the same (vector or scalar) path, since both loops split the index range the same way.
     */
    static void backward(float[] gu, float[] dout, float[] dgu, float[] out, int rows, int inter) {
        CpuParallel.shared().parallelForRange(rows * inter, Elementwise.PARALLEL_GRAIN, (lo, hi) -> {
            int k = lo;
            while (k < hi) {
                int row = k / inter, j = k - row * inter, end = Math.min(hi - k, inter - j);
                int g0 = row * 2 * inter + j, u0 = g0 + inter;
                int t = 0, bound = F.loopBound(end);
                for (; t < bound; t += F.length()) {
                    FloatVector g = FloatVector.fromArray(F, gu, g0 + t);
                    FloatVector u = FloatVector.fromArray(F, gu, u0 + t);
                    FloatVector dy = FloatVector.fromArray(F, dout, k + t);
                    FloatVector sig = sigmoid(g);
                    FloatVector dsilu = sig.mul(g.mul(sig.neg().add(1f)).add(1f));
                    dy.mul(u).mul(dsilu).intoArray(dgu, g0 + t);
                    dy.mul(g).mul(sig).intoArray(dgu, u0 + t);
                    if (out != null) g.mul(sig).mul(u).intoArray(out, k + t);
                }
                for (; t < end; t++) {
                    float g = gu[g0 + t], u = gu[u0 + t], dy = dout[k + t];
                    float sig = VectorMath.sigmoid(g);
                    dgu[g0 + t] = dy * u * sig * (1 + g * (1 - sig));
                    dgu[u0 + t] = dy * g * sig;
                    if (out != null) out[k + t] = g * sig * u;
                }
                k += end;
            }
        });
    }

    private static FloatVector sigmoid(FloatVector g) {
        return VectorMath.sigmoid(g);
    }
}
