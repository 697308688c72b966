package dev.trm.backend.ref;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks, in double precision, of every op's backward in the reference: for a random projection
 * w of the output, L = sum(w * op(inputs)); the analytic gradient (the op's backward with dout = w) must match the
 * central difference of L for every input element (the sizes are small enough to check all of them).
 */
class RefOpsGradientCheckTest {
    private final Random rnd = new Random(5);
    private static final double TOL = 1e-7;

    private double[] random(int n, double std) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = rnd.nextGaussian() * std;
        return a;
    }

    /** Checks d(w . f(x))/dx against the analytic gradient for every element of x. */
    private void check(String op, double[] x, Function<double[], double[]> f, double[] w, double[] analytic) {
        double h = 1e-6, worst = 0;
        for (int i = 0; i < x.length; i++) {
            double old = x[i];
            x[i] = old + h;
            double up = dot(w, f.apply(x));
            x[i] = old - h;
            double down = dot(w, f.apply(x));
            x[i] = old;
            double fd = (up - down) / (2 * h);
            double err = Math.abs(fd - analytic[i]) / Math.max(1, Math.abs(fd));
            worst = Math.max(worst, err);
            assertTrue(err < TOL, op + ": d/dx[" + i + "] analytic " + analytic[i] + " vs finite difference " + fd);
        }
        System.out.printf("%-28s %5d elements checked, worst error %.2e%n", op, x.length, worst);
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void rmsNorm() {
        int rows = 3, dim = 8;
        double[] x = random(rows * dim, 1), r = random(rows * dim, 1), w = random(rows * dim, 1);
        double[] out = new double[x.length], rstd = new double[rows], dh = new double[x.length];
        RefOps.rmsNormForward(x, r, out, rstd, rows, dim, 1e-5);
        RefOps.rmsNormBackward(out, rstd, w, dh, rows, dim);
        Function<double[], double[]> f = in -> {
            double[] o = new double[in.length];
            RefOps.rmsNormForward(in, r, o, new double[rows], rows, dim, 1e-5);
            return o;
        };
        check("rmsNorm (d x, = d r)", x, f, w, dh);
    }

    @Test
    void rmsNormSeq() {
        int b = 2, s = 5, dim = 4;
        double[] x = random(b * s * dim, 1), r = random(b * s * dim, 1), w = random(b * s * dim, 1);
        double[] out = new double[x.length], rstd = new double[b * dim], dh = new double[x.length];
        RefOps.rmsNormSeqForward(x, r, out, rstd, b, s, dim, 1e-5);
        RefOps.rmsNormSeqBackward(out, rstd, w, dh, b, s, dim);
        check("rmsNormSeq", x, in -> {
            double[] o = new double[in.length];
            RefOps.rmsNormSeqForward(in, r, o, new double[b * dim], b, s, dim, 1e-5);
            return o;
        }, w, dh);
    }

    @Test
    void swiglu() {
        int rows = 3, inter = 5;
        double[] gu = random(rows * 2 * inter, 1.5), w = random(rows * inter, 1), dgu = new double[gu.length];
        RefOps.swigluBackward(gu, w, dgu, rows, inter);
        check("swiglu", gu, in -> {
            double[] o = new double[rows * inter];
            RefOps.swigluForward(in, o, rows, inter);
            return o;
        }, w, dgu);
    }

    @Test
    void attentionWithAndWithoutRope() {
        int b = 2, s = 5, heads = 2, hd = 4, dim = heads * hd;
        for (boolean rope : new boolean[] {true, false}) {
            double[] cos = rope ? new double[s * hd] : null, sin = rope ? new double[s * hd] : null;
            if (rope) RefOps.ropeTables(s, hd, 10000, cos, sin);
            double[] qkv = random(b * s * 3 * dim, 1), w = random(b * s * dim, 1);
            double[] out = new double[b * s * dim], lse = new double[b * heads * s], dqkv = new double[qkv.length];
            RefOps.attentionForward(qkv, out, lse, cos, sin, b, s, heads, hd);
            RefOps.attentionBackward(qkv, out, lse, w, dqkv, cos, sin, b, s, heads, hd);
            check("attention" + (rope ? " + rope" : ""), qkv, in -> {
                double[] o = new double[b * s * dim];
                RefOps.attentionForward(in, o, new double[b * heads * s], cos, sin, b, s, heads, hd);
                return o;
            }, w, dqkv);
        }
    }

    @Test
    void crossEntropyStablemaxAndSoftmax() {
        int b = 2, len = 4, v = 5;
        int[] labels = {1, 4, -100, 0, 2, 2, 3, -100};
        for (boolean stablemax : new boolean[] {true, false}) {
            double[] logits = random(b * len * v, 2), d = new double[logits.length];
            double[] w = {0.7, -1.3};   // projection of the per-sequence losses
            double[] perSeq = new double[b];
            // d(w . perSeq)/d logits: the backward gives d perSeq[b]/d logits scaled by gradScale; weight per row
            double[] d0 = new double[logits.length];
            RefOps.crossEntropy(stablemax, logits, labels, perSeq, new int[b], d0, b, len, v, 1.0);
            for (int i = 0; i < d.length; i++) d[i] = d0[i] * w[i / (len * v)];
            check("crossEntropy " + (stablemax ? "stablemax" : "softmax"), logits, in -> {
                double[] o = new double[b];
                RefOps.crossEntropy(stablemax, in, labels, o, new int[b], new double[in.length], b, len, v, 1.0);
                return o;
            }, w, d);
        }
    }

    @Test
    void haltingBce() {
        double[] q = random(4, 3), dq = new double[4], w = {1};
        int[] t = {0, 1, 1, 0};
        RefOps.haltingBce(q, t, dq, 4, 1.0);
        check("haltingBce", q, in -> new double[] {RefOps.haltingBce(in, t, new double[4], 4, 1.0)}, w, dq);
    }

    @Test
    void embedding() {
        int b = 2, len = 3, dim = 4, prefix = 2, vocab = 5, ids = 3;
        int[] tokens = {1, 4, 1, 0, 2, 2}, pids = {2, 0};
        double[] embed = random(vocab * dim, 1), table = random(ids * dim, 1);
        double[] w = random(b * (prefix + len) * dim, 1), dEmbed = new double[embed.length], dPuzzle = new double[b * dim];
        RefOps.embedBackward(tokens, w, dEmbed, dPuzzle, b, len, dim, prefix, Math.sqrt(dim));
        check("embedding (token table)", embed, in -> {
            double[] x = new double[w.length];
            RefOps.embedForward(tokens, pids, in, table, x, b, len, dim, prefix, Math.sqrt(dim));
            return x;
        }, w, dEmbed);
        double[] dTable = new double[table.length];
        for (int s = 0; s < b; s++) for (int j = 0; j < dim; j++) dTable[pids[s] * dim + j] += dPuzzle[s * dim + j];
        check("embedding (puzzle table)", table, in -> {
            double[] x = new double[w.length];
            RefOps.embedForward(tokens, pids, embed, in, x, b, len, dim, prefix, Math.sqrt(dim));
            return x;
        }, w, dTable);
    }

    @Test
    void gemmAgainstDefinition() {
        // op(A) op(B) for all four transpose combinations against explicit sums, with beta accumulation.
        int m = 3, n = 4, k = 5;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                double[] a = random(m * k, 1), b = random(k * n, 1), c = random(m * n, 1), c0 = c.clone();
                RefOps.gemm(ta, tb, m, n, k, 0.5, a, ta ? m : k, b, tb ? k : n, 2.0, c, n);
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                        double want = 0.5 * s + 2.0 * c0[i * n + j];
                        assertTrue(Math.abs(c[i * n + j] - want) < 1e-12, "gemm ta=" + ta + " tb=" + tb);
                    }
                }
            }
        }
    }
}
