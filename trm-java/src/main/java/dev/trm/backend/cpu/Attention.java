package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
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

    /**
     * The scores of four query rows at once, through {@link #project4} over K^T with the rows' q * scale as weights:
     * each key chunk is loaded once for the four rows and the sums stay in registers over d. Per row the arithmetic is
     * the same sequence of fmas as {@link #scores}, so the results are bit-identical to four calls of it (backward
     * recomputes the probabilities either way).
     */
    private static void scores4(Head hd_, int i0, int seq, int hd, float scale, float[][] qs, float[] s0, float[] s1,
                                float[] s2, float[] s3) {
        for (int r = 0; r < 4; r++) for (int d = 0; d < hd; d++) qs[r][d] = hd_.q[(i0 + r) * hd + d] * scale;
        project4(hd_.kt, seq, hd, qs[0], qs[1], qs[2], qs[3], s0, s1, s2, s3);
    }

    /**
     * acc_r[0..hd) = sum_j w_r[j] v_j for four rows at once (each V row chunk loaded once for the four), hd a multiple of
     * the vector length. Per row the same fma sequence as repeated {@link #axpy} calls from zero.
     */
    private static void weightedSum4(float[] v, int seq, int hd, float[] w0, float[] w1, float[] w2, float[] w3,
                                     float[] acc0, float[] acc1, float[] acc2, float[] acc3) {
        for (int c = 0; c < hd; c += F.length()) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int j = 0; j < seq; j++) {
                FloatVector row = FloatVector.fromArray(F, v, j * hd + c);
                a0 = row.fma(FloatVector.broadcast(F, w0[j]), a0);
                a1 = row.fma(FloatVector.broadcast(F, w1[j]), a1);
                a2 = row.fma(FloatVector.broadcast(F, w2[j]), a2);
                a3 = row.fma(FloatVector.broadcast(F, w3[j]), a3);
            }
            a0.intoArray(acc0, c);
            a1.intoArray(acc1, c);
            a2.intoArray(acc2, c);
            a3.intoArray(acc3, c);
        }
    }

    /** s_r[j] = sum_d w_r[d] m[d * seq + j] for four weight rows, over a transposed [hd, seq] matrix (dP = dO V^T). */
    private static void project4(float[] m, int seq, int hd, float[] w0, float[] w1, float[] w2, float[] w3,
                                 float[] s0, float[] s1, float[] s2, float[] s3) {
        int bound = F.loopBound(seq);
        for (int j = 0; j < bound; j += F.length()) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int d = 0; d < hd; d++) {
                FloatVector k = FloatVector.fromArray(F, m, d * seq + j);
                a0 = k.fma(FloatVector.broadcast(F, w0[d]), a0);
                a1 = k.fma(FloatVector.broadcast(F, w1[d]), a1);
                a2 = k.fma(FloatVector.broadcast(F, w2[d]), a2);
                a3 = k.fma(FloatVector.broadcast(F, w3[d]), a3);
            }
            a0.intoArray(s0, j);
            a1.intoArray(s1, j);
            a2.intoArray(s2, j);
            a3.intoArray(s3, j);
        }
        float[][] rows = {s0, s1, s2, s3}, ws = {w0, w1, w2, w3};
        for (int r = 0; r < 4; r++) {
            for (int j = bound; j < seq; j++) rows[r][j] = 0f;
            for (int d = 0; d < hd; d++) {
                for (int j = bound; j < seq; j++) rows[r][j] += ws[r][d] * m[d * seq + j];
            }
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
            // Four query rows at a time where the head size allows (it is 64 in every preset), one at a time after.
            boolean blocked = hd % F.length() == 0;
            float[][] sb = new float[4][seq], accb = new float[4][hd], qs = new float[4][hd];
            int i = 0;
            for (; blocked && i + 4 <= seq; i += 4) {
                scores4(x, i, seq, hd, scale, qs, sb[0], sb[1], sb[2], sb[3]);
                double[] total = new double[4];
                float[] max = new float[4];
                for (int r = 0; r < 4; r++) {
                    max[r] = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < seq; j++) max[r] = Math.max(max[r], sb[r][j]);
                    total[r] = expInPlace(sb[r], max[r], seq);
                }
                weightedSum4(x.v, seq, hd, sb[0], sb[1], sb[2], sb[3], accb[0], accb[1], accb[2], accb[3]);
                for (int r = 0; r < 4; r++) {
                    float inv = (float) (1.0 / total[r]);
                    int o = (b * seq + i + r) * dim + h * hd;
                    for (int d = 0; d < hd; d++) out[o + d] = accb[r][d] * inv;
                    lse[(b * heads + h) * seq + i + r] = (float) (max[r] + Math.log(total[r]));
                }
            }
            for (; i < seq; i++) {
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
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, s, j).sub(shift));
            e.intoArray(s, j);
            sum = sum.add(e);
        }
        double total = VectorMath.sum(sum);
        for (; j < n; j++) {
            s[j] = VectorMath.exp(s[j] - shift);
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
            int i = 0;
            if (hd % F.length() == 0) {
                // Four query rows at a time: K^T and V^T chunks loaded once for the four rows (scores, dP), K rows once
                // for their dQ sums, dK and dV rows updated once with the four rows' terms in row order.
                float[][] pb = new float[4][seq], dpb = new float[4][seq], dOb = new float[4][hd], dqb = new float[4][hd];
                float[][] qs = new float[4][hd];
                float[] dif = new float[4];
                for (; i + 4 <= seq; i += 4) {
                    for (int r = 0; r < 4; r++) {
                        int o = (b * seq + i + r) * dim + h * hd;
                        System.arraycopy(dout, o, dOb[r], 0, hd);
                        double di = 0;
                        for (int d = 0; d < hd; d++) di += (double) dOb[r][d] * out[o + d];
                        dif[r] = (float) di;
                    }
                    scores4(x, i, seq, hd, scale, qs, pb[0], pb[1], pb[2], pb[3]);
                    for (int r = 0; r < 4; r++) expInPlace(pb[r], lse[(b * heads + h) * seq + i + r], seq);
                    project4(vt, seq, hd, dOb[0], dOb[1], dOb[2], dOb[3], dpb[0], dpb[1], dpb[2], dpb[3]);
                    for (int r = 0; r < 4; r++) {
                        for (int j = 0; j < seq; j++) dpb[r][j] = pb[r][j] * (dpb[r][j] - dif[r]) * scale;  // dS
                    }
                    weightedSum4(x.k, seq, hd, dpb[0], dpb[1], dpb[2], dpb[3], dqb[0], dqb[1], dqb[2], dqb[3]);
                    for (int r = 0; r < 4; r++) System.arraycopy(dqb[r], 0, dq, (i + r) * hd, hd);
                    for (int j = 0; j < seq; j++) {
                        for (int c = 0; c < hd; c += F.length()) {
                            int kj = j * hd + c;
                            FloatVector gk = FloatVector.fromArray(F, dk, kj), gv = FloatVector.fromArray(F, dv, kj);
                            for (int r = 0; r < 4; r++) {
                                gk = FloatVector.fromArray(F, x.q, (i + r) * hd + c).fma(FloatVector.broadcast(F, dpb[r][j]), gk);
                                gv = FloatVector.fromArray(F, dOb[r], c).fma(FloatVector.broadcast(F, pb[r][j]), gv);
                            }
                            gk.intoArray(dk, kj);
                            gv.intoArray(dv, kj);
                        }
                    }
                }
            }
            for (; i < seq; i++) {
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
