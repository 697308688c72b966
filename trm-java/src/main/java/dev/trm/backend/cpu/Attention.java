package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Non-causal multi-head attention with RoPE fused, forward and backward (reference: RefOps.attention*; GPU:
 * kernels/attention.cu). qkv [B, S, 3D] holds Q | K | V, head h owning columns h*hd .. h*hd+hd-1 of each third.
 *
 * <p>One task per (batch, head). The S x S score matrix is never stored: each query row's scores are computed,
 * used and dropped (flash style), and backward recomputes them from the saved log-sum-exp lse [B, H, S].
 * Scores are vectorised over keys (K is kept transposed, [hd, S]), outputs over the head dimension.
 */
final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** One head's Q, K (also transposed) and V, with RoPE applied to Q and K. */
    private static final class Head {
        final float[] q, k, kt, v;

        Head(float[] qkv, int b, int h, int seq, int dim, int hd, float[] cos, float[] sin) {
            q = new float[seq * hd];
            k = new float[seq * hd];
            kt = new float[hd * seq];
            v = new float[seq * hd];
            for (int s = 0; s < seq; s++) {
                int row = (b * seq + s) * 3 * dim + h * hd;
                System.arraycopy(qkv, row, q, s * hd, hd);
                System.arraycopy(qkv, row + dim, k, s * hd, hd);
                System.arraycopy(qkv, row + 2 * dim, v, s * hd, hd);
                if (cos != null) {
                    rotate(q, s * hd, cos, sin, s, hd);
                    rotate(k, s * hd, cos, sin, s, hd);
                }
                for (int d = 0; d < hd; d++) kt[d * seq + s] = k[s * hd + d];
            }
        }
    }

    /** v' = v cos + rotate_half(v) sin, in place (rotate_half(v) = (-v[half:], v[:half])). */
    static void rotate(float[] v, int off, float[] cos, float[] sin, int pos, int hd) {
        int half = hd / 2, t = pos * hd;
        for (int j = 0; j < half; j++) {
            float a = v[off + j], b = v[off + j + half];
            v[off + j] = a * cos[t + j] - b * sin[t + j];
            v[off + j + half] = b * cos[t + j + half] + a * sin[t + j + half];
        }
    }

    /** The transpose of {@link #rotate}: gradient w.r.t. the rotated vector to the un-rotated one. */
    static void rotateBackward(float[] g, int off, float[] cos, float[] sin, int pos, int hd) {
        int half = hd / 2, t = pos * hd;
        for (int j = 0; j < half; j++) {
            float ga = g[off + j], gb = g[off + j + half];
            g[off + j] = ga * cos[t + j] + gb * sin[t + j + half];
            g[off + j + half] = gb * cos[t + j + half] - ga * sin[t + j];
        }
    }

    /** scores[j] = scale * q_i . k_j for all keys j, vectorised over j. */
    private static void scores(Head hd_, int i, int seq, int hd, float scale, float[] scores) {
        java.util.Arrays.fill(scores, 0f);
        int bound = F.loopBound(seq);
        for (int d = 0; d < hd; d++) {
            float qd = hd_.q[i * hd + d] * scale;
            int base = d * seq, j = 0;
            FloatVector qv = FloatVector.broadcast(F, qd);
            for (; j < bound; j += F.length()) {
                FloatVector.fromArray(F, hd_.kt, base + j).fma(qv, FloatVector.fromArray(F, scores, j)).intoArray(scores, j);
            }
            for (; j < seq; j++) scores[j] += qd * hd_.kt[base + j];
        }
    }

    /** acc[0..hd) += w * row[off .. off+hd). */
    private static void axpy(float[] acc, int accOff, float w, float[] row, int off, int n) {
        int d = 0, bound = F.loopBound(n);
        FloatVector wv = FloatVector.broadcast(F, w);
        for (; d < bound; d += F.length()) {
            FloatVector.fromArray(F, row, off + d).fma(wv, FloatVector.fromArray(F, acc, accOff + d)).intoArray(acc, accOff + d);
        }
        for (; d < n; d++) acc[accOff + d] += w * row[off + d];
    }

    static void forward(float[] qkv, float[] out, float[] lse, float[] cos, float[] sin,
                        int batch, int seq, int heads, int hd) {
        int dim = heads * hd;
        float scale = (float) (1.0 / Math.sqrt(hd));
        CpuParallel.shared().parallelFor(batch * heads, bh -> {
            int b = bh / heads, h = bh % heads;
            Head x = new Head(qkv, b, h, seq, dim, hd, cos, sin);
            float[] s = new float[seq], acc = new float[hd];
            for (int i = 0; i < seq; i++) {
                scores(x, i, seq, hd, scale, s);
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < seq; j++) max = Math.max(max, s[j]);
                double total = expInPlace(s, max, seq);
                java.util.Arrays.fill(acc, 0f);
                for (int j = 0; j < seq; j++) axpy(acc, 0, s[j], x.v, j * hd, hd);
                float inv = (float) (1.0 / total);
                int o = (b * seq + i) * dim + h * hd;
                for (int d = 0; d < hd; d++) out[o + d] = acc[d] * inv;
                lse[(b * heads + h) * seq + i] = (float) (max + Math.log(total));
            }
        });
    }

    /** s[j] = exp(s[j] - shift), returns the sum (in double). */
    private static double expInPlace(float[] s, float shift, int n) {
        int j = 0, bound = F.loopBound(n);
        FloatVector sum = FloatVector.zero(F);
        for (; j < bound; j += F.length()) {
            FloatVector e = FloatVector.fromArray(F, s, j).sub(shift).lanewise(VectorOperators.EXP);
            e.intoArray(s, j);
            sum = sum.add(e);
        }
        double total = sum.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            s[j] = (float) Math.exp(s[j] - shift);
            total += s[j];
        }
        return total;
    }

    static void backward(float[] qkv, float[] out, float[] lse, float[] dout, float[] dqkv, float[] cos, float[] sin,
                         int batch, int seq, int heads, int hd) {
        int dim = heads * hd;
        float scale = (float) (1.0 / Math.sqrt(hd));
        CpuParallel.shared().parallelFor(batch * heads, bh -> {
            int b = bh / heads, h = bh % heads;
            Head x = new Head(qkv, b, h, seq, dim, hd, cos, sin);
            float[] vt = new float[hd * seq];
            for (int s = 0; s < seq; s++) for (int d = 0; d < hd; d++) vt[d * seq + s] = x.v[s * hd + d];
            float[] dq = new float[seq * hd], dk = new float[seq * hd], dv = new float[seq * hd];
            float[] p = new float[seq], dp = new float[seq], dO = new float[hd];
            int bound = F.loopBound(seq);
            for (int i = 0; i < seq; i++) {
                int o = (b * seq + i) * dim + h * hd;
                System.arraycopy(dout, o, dO, 0, hd);
                double di = 0;
                for (int d = 0; d < hd; d++) di += (double) dO[d] * out[o + d];
                // P_ij = exp(score - lse_i), recomputed
                scores(x, i, seq, hd, scale, p);
                expInPlace(p, lse[(b * heads + h) * seq + i], seq);
                // dP_ij = dO_i . v_j, vectorised over j through V^T
                java.util.Arrays.fill(dp, 0f);
                for (int d = 0; d < hd; d++) {
                    FloatVector g = FloatVector.broadcast(F, dO[d]);
                    int base = d * seq, j = 0;
                    for (; j < bound; j += F.length()) {
                        FloatVector.fromArray(F, vt, base + j).fma(g, FloatVector.fromArray(F, dp, j)).intoArray(dp, j);
                    }
                    for (; j < seq; j++) dp[j] += dO[d] * vt[base + j];
                }
                float dif = (float) di;
                for (int j = 0; j < seq; j++) {
                    float ds = p[j] * (dp[j] - dif) * scale;   // dS_ij, already times the score scale
                    axpy(dq, i * hd, ds, x.k, j * hd, hd);     // dQ_i += dS_ij k_j
                    axpy(dk, j * hd, ds, x.q, i * hd, hd);     // dK_j += dS_ij q_i
                    axpy(dv, j * hd, p[j], dO, 0, hd);         // dV_j += P_ij dO_i
                }
            }
            for (int s = 0; s < seq; s++) {
                if (cos != null) {
                    rotateBackward(dq, s * hd, cos, sin, s, hd);
                    rotateBackward(dk, s * hd, cos, sin, s, hd);
                }
                int row = (b * seq + s) * 3 * dim + h * hd;
                System.arraycopy(dq, s * hd, dqkv, row, hd);
                System.arraycopy(dk, s * hd, dqkv, row + dim, hd);
                System.arraycopy(dv, s * hd, dqkv, row + 2 * dim, hd);
            }
        });
    }
}
