package dev.trm.backend.ref;

import dev.trm.backend.Backend;
import dev.trm.backend.IntTensor;
import dev.trm.backend.MemoryLedger;
import dev.trm.backend.RopeTables;
import dev.trm.backend.Tensor;
import java.util.Arrays;

/**
 * The double-precision reference backend: {@link RefOps} behind the {@link Backend} interface. Slow and exact; the
 * model runs on it for finite-difference gradient checks and as the oracle of the fp32 and GPU backends.
 */
public final class RefBackend implements Backend {
    private final MemoryLedger memory = new MemoryLedger();

    @Override
    public String name() {
        return "reference";
    }

    static double[] d(Tensor t) {
        return ((RefTensor) t).data();
    }

    static int[] d(IntTensor t) {
        return ((RefIntTensor) t).data();
    }

    private static double[] dn(Tensor t) {
        return t == null ? null : d(t);
    }

    @Override
    public MemoryLedger memory() {
        return memory;
    }

    @Override
    public RefTensor tensor(int... shape) {
        RefTensor t = new RefTensor(shape);
        memory.allocated(t, 8L * t.data().length);
        return t;
    }

    @Override
    public RefIntTensor intTensor(int... shape) {
        RefIntTensor t = new RefIntTensor(shape);
        memory.allocated(t, 4L * t.data().length);
        return t;
    }

    @Override
    public void free(Tensor t) {
        memory.released(t);
    }

    @Override
    public void free(IntTensor t) {
        memory.released(t);
    }

    @Override
    public void write(Tensor dst, float[] src) {
        double[] a = d(dst);
        checkLength(a.length, src.length);
        for (int i = 0; i < a.length; i++) a[i] = src[i];
    }

    /** Writes double values without rounding to float (gradient checks, formula weights). */
    public void writeDouble(Tensor dst, double[] src) {
        double[] a = d(dst);
        checkLength(a.length, src.length);
        System.arraycopy(src, 0, a, 0, a.length);
    }

    @Override
    public float[] read(Tensor src) {
        double[] a = d(src);
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    @Override
    public double[] readDouble(Tensor src) {
        return d(src).clone();
    }

    @Override
    public void writeInts(IntTensor dst, int[] src) {
        int[] a = d(dst);
        checkLength(a.length, src.length);
        System.arraycopy(src, 0, a, 0, a.length);
    }

    @Override
    public int[] readInts(IntTensor src) {
        return d(src).clone();
    }

    private static void checkLength(int have, int given) {
        if (have != given) throw new IllegalArgumentException("size mismatch: tensor has " + have + ", data " + given);
    }

    @Override
    public void zero(Tensor t) {
        Arrays.fill(d(t), 0);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        System.arraycopy(d(src), 0, d(dst), 0, d(dst).length);
    }

    @Override
    public void broadcastRow(Tensor row, Tensor dst) {
        double[] r = d(row), a = d(dst);
        for (int i = 0; i < a.length; i += r.length) System.arraycopy(r, 0, a, i, r.length);
    }

    @Override
    public void broadcastRowToSlots(Tensor row, Tensor dst, int[] slots) {
        double[] r = d(row), a = d(dst);
        int slot = a.length / dst.dim(0);
        for (int b : slots) for (int i = b * slot; i < (b + 1) * slot; i += r.length) System.arraycopy(r, 0, a, i, r.length);
    }

    @Override
    public RopeTables rope(int seq, int headDim, double theta) {
        RefTensor cos = tensor(seq, headDim), sin = tensor(seq, headDim);
        RefOps.ropeTables(seq, headDim, theta, cos.data(), sin.data());
        return new RopeTables(cos, sin, seq, headDim);
    }

    @Override
    public void embed(IntTensor tokens, IntTensor puzzleIds, Tensor embed, Tensor table, Tensor x, float scale) {
        int b = x.dim(0), s = x.dim(1), dim = x.dim(2), len = tokens.dim(1);
        RefOps.embedForward(d(tokens), d(puzzleIds), d(embed), d(table), d(x), b, len, dim, s - len, scaleOf(scale, dim));
    }

    @Override
    public void embedBackward(IntTensor tokens, Tensor dx, Tensor dEmbed, Tensor dPuzzleSlots, float scale) {
        int b = dx.dim(0), s = dx.dim(1), dim = dx.dim(2), len = tokens.dim(1);
        RefOps.embedBackward(d(tokens), d(dx), d(dEmbed), d(dPuzzleSlots), b, len, dim, s - len, scaleOf(scale, dim));
    }

    /** The model passes sqrt(D) rounded to float; the reference recomputes it in double when it is that value. */
    private static double scaleOf(float scale, int dim) {
        double exact = Math.sqrt(dim);
        return (float) exact == scale ? exact : scale;
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor c, Tensor out) {
        double[] x = d(a), y = d(b), z = dn(c), o = d(out);
        for (int i = 0; i < o.length; i++) o[i] = x[i] + y[i] + (z == null ? 0 : z[i]);
    }

    @Override
    public void accumulate(Tensor acc, Tensor x) {
        double[] a = d(acc), b = d(x);
        for (int i = 0; i < a.length; i++) a[i] += b[i];
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        int n = w.dim(0), k = w.dim(1), m = (int) (x.size() / k);
        double[] out = d(y);
        RefOps.gemm(false, true, m, n, k, 1, d(x), k, d(w), k, 0, out, n);
        if (bias != null) {
            double[] bb = d(bias);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) out[i * n + j] += bb[j];
        }
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw, Tensor dbias) {
        int n = w.dim(0), k = w.dim(1), m = (int) (x.size() / k);
        if (dx != null) RefOps.gemm(false, false, m, k, n, 1, d(dy), n, d(w), k, accumulateDx ? 1 : 0, d(dx), k);
        if (dw != null) RefOps.gemm(true, false, n, k, m, 1, d(dy), n, d(x), k, 1, d(dw), k);
        if (dbias != null) {
            double[] g = d(dy), db = d(dbias);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) db[j] += g[i * n + j];
        }
    }

    @Override
    public void tokenMix(Tensor w, Tensor x, Tensor y) {
        int n = w.dim(0), sin = w.dim(1), b = x.dim(0), dim = x.dim(2);
        double[] xs = d(x), ys = d(y);
        for (int i = 0; i < b; i++) {
            double[] xb = Arrays.copyOfRange(xs, i * sin * dim, (i + 1) * sin * dim);
            double[] yb = new double[n * dim];
            RefOps.gemm(false, false, n, dim, sin, 1, d(w), sin, xb, dim, 0, yb, dim);
            System.arraycopy(yb, 0, ys, i * n * dim, n * dim);
        }
    }

    @Override
    public void tokenMixBackward(Tensor w, Tensor x, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw) {
        int n = w.dim(0), sin = w.dim(1), b = x.dim(0), dim = x.dim(2);
        double[] xs = d(x), gs = d(dy);
        for (int i = 0; i < b; i++) {
            double[] xb = Arrays.copyOfRange(xs, i * sin * dim, (i + 1) * sin * dim);
            double[] gb = Arrays.copyOfRange(gs, i * n * dim, (i + 1) * n * dim);
            if (dx != null) {
                double[] dxb = accumulateDx ? Arrays.copyOfRange(d(dx), i * sin * dim, (i + 1) * sin * dim) : new double[sin * dim];
                RefOps.gemm(true, false, sin, dim, n, 1, d(w), sin, gb, dim, accumulateDx ? 1 : 0, dxb, dim);
                System.arraycopy(dxb, 0, d(dx), i * sin * dim, sin * dim);
            }
            if (dw != null) RefOps.gemm(false, true, n, sin, dim, 1, gb, dim, xb, dim, 1, d(dw), sin);
        }
    }

    @Override
    public void attention(Tensor qkv, Tensor out, Tensor lse, RopeTables rope) {
        int b = qkv.dim(0), s = qkv.dim(1), heads = lse.dim(1), hd = out.dim(2) / heads;
        RefOps.attentionForward(d(qkv), d(out), d(lse), rope == null ? null : d(rope.cos()),
                rope == null ? null : d(rope.sin()), b, s, heads, hd);
    }

    @Override
    public void attentionBackward(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, RopeTables rope) {
        int b = qkv.dim(0), s = qkv.dim(1), heads = lse.dim(1), hd = out.dim(2) / heads;
        RefOps.attentionBackward(d(qkv), d(out), d(lse), d(dout), d(dqkv), rope == null ? null : d(rope.cos()),
                rope == null ? null : d(rope.sin()), b, s, heads, hd);
    }

    @Override
    public void swiglu(Tensor gu, Tensor out, int inter) {
        RefOps.swigluForward(d(gu), d(out), (int) (out.size() / inter), inter);
    }

    @Override
    public void swigluBackward(Tensor gu, Tensor dout, Tensor dgu, Tensor out, int inter) {
        int rows = (int) (dout.size() / inter);
        RefOps.swigluBackward(d(gu), d(dout), d(dgu), rows, inter);
        if (out != null) RefOps.swigluForward(d(gu), d(out), rows, inter);   // the recompute is the forward itself
    }

    @Override
    public void rmsNorm(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps) {
        int dim = x.dim(-1);
        RefOps.rmsNormForward(d(x), dn(r), d(out), d(rstd), (int) (x.size() / dim), dim, eps);
    }

    @Override
    public void rmsNormBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh) {
        int dim = out.dim(-1);
        RefOps.rmsNormBackward(d(out), d(rstd), d(dout), d(dh), (int) (out.size() / dim), dim);
    }

    @Override
    public void rmsNormSeq(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps) {
        RefOps.rmsNormSeqForward(d(x), dn(r), d(out), d(rstd), x.dim(0), x.dim(1), x.dim(2), eps);
    }

    @Override
    public void rmsNormSeqBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh) {
        RefOps.rmsNormSeqBackward(d(out), d(rstd), d(dout), d(dh), out.dim(0), out.dim(1), out.dim(2));
    }

    @Override
    public void sliceSeq(Tensor src, int from, Tensor dst) {
        int b = src.dim(0), s = src.dim(1), dim = src.dim(2), n = dst.dim(1);
        for (int i = 0; i < b; i++) System.arraycopy(d(src), (i * s + from) * dim, d(dst), i * n * dim, n * dim);
    }

    @Override
    public void sliceSeqBackward(Tensor dsrc, int from, Tensor dst) {
        int b = dst.dim(0), s = dst.dim(1), dim = dst.dim(2), n = dsrc.dim(1);
        double[] g = d(dsrc), a = d(dst);
        for (int i = 0; i < b; i++) for (int j = 0; j < n * dim; j++) a[(i * s + from) * dim + j] += g[i * n * dim + j];
    }

    @Override
    public void crossEntropy(Tensor logits, IntTensor labels, boolean stablemax, double gradScale,
                             Tensor perSeqLoss, IntTensor seqCorrect, IntTensor tokensCorrect, Tensor dlogits) {
        int b = logits.dim(0), len = logits.dim(1), v = logits.dim(2);
        if (tokensCorrect != null) Backend.countCorrectTokens(read(logits), d(labels), d(tokensCorrect), b, len, v);
        double[] g = dlogits == logits ? new double[d(logits).length] : d(dlogits);
        RefOps.crossEntropy(stablemax, d(logits), d(labels), d(perSeqLoss), d(seqCorrect), g, b, len, v, gradScale);
        if (dlogits == logits) System.arraycopy(g, 0, d(dlogits), 0, g.length);
    }

    @Override
    public void haltingBce(Tensor q, IntTensor target, double gradScale, Tensor loss, Tensor dq) {
        int b = q.dim(0);
        double[] qs = d(q), halt = new double[b], dHalt = new double[b], l = d(loss), g = d(dq);
        int[] t = d(target);
        for (int i = 0; i < b; i++) halt[i] = qs[2 * i];
        // per-slot losses: one call per slot, since RefOps returns their sum
        for (int i = 0; i < b; i++) l[i] = RefOps.haltingBce(new double[] {halt[i]}, new int[] {t[i]}, new double[1], 1, gradScale);
        RefOps.haltingBce(halt, t, dHalt, b, gradScale);
        for (int i = 0; i < b; i++) {
            g[2 * i] = dHalt[i];
            g[2 * i + 1] = 0;
        }
    }

    @Override
    public void adamAtan2(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double wd, double beta1, double beta2, long t) {
        RefOps.adamAtan2(d(p), d(g), d(m), d(v), d(p).length, lr, wd, beta1, beta2, t);
    }

    @Override
    public void ema(Tensor shadow, Tensor p, double rate) {
        RefOps.ema(d(shadow), d(p), d(p).length, rate);
    }

    @Override
    public void puzzleSignSgd(Tensor table, IntTensor slotIds, Tensor slotGrads, double lr, double wd) {
        int dim = table.dim(1);
        int[] ids = d(slotIds);
        int[] rows = java.util.Arrays.stream(ids).distinct().sorted().toArray();
        double[] sums = new double[rows.length * dim], g = d(slotGrads);
        for (int b = 0; b < ids.length; b++) {
            int r = java.util.Arrays.binarySearch(rows, ids[b]);
            for (int j = 0; j < dim; j++) sums[r * dim + j] += g[b * dim + j];
        }
        RefOps.signSgdRows(d(table), dim, rows, sums, rows.length, lr, wd);
    }
}
