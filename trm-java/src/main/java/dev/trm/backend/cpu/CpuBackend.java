package dev.trm.backend.cpu;

import dev.trm.backend.Backend;
import dev.trm.backend.IntTensor;
import dev.trm.backend.MemoryLedger;
import dev.trm.backend.RopeTables;
import dev.trm.backend.Tensor;
import dev.trm.backend.ref.RefOps;
import java.util.Arrays;

/**
 * The CPU backend: fp32 everywhere (the official model computes in bf16; fp32 is the reference precision), Java
 * Vector API kernels on all cores through {@link CpuParallel}, GEMMs through {@link Sgemm}. Each op lives in a class
 * of its own, forward beside backward: {@link Norm}, {@link SwiGlu}, {@link Attention}, {@link Loss},
 * {@link Embedding}, {@link Elementwise}. The embedded default wherever no GPU is.
 */
public final class CpuBackend implements Backend {
    private final MemoryLedger memory = new MemoryLedger();

    @Override
    public String name() {
        return "cpu";
    }

    static float[] d(Tensor t) {
        return ((CpuTensor) t).data();
    }

    static int[] d(IntTensor t) {
        return ((CpuIntTensor) t).data();
    }

    private static float[] dn(Tensor t) {
        return t == null ? null : d(t);
    }

    @Override
    public MemoryLedger memory() {
        return memory;
    }

    @Override
    public CpuTensor tensor(int... shape) {
        CpuTensor t = new CpuTensor(shape);
        memory.allocated(t, 4L * t.data().length);
        return t;
    }

    @Override
    public CpuIntTensor intTensor(int... shape) {
        CpuIntTensor t = new CpuIntTensor(shape);
        memory.allocated(t, 4L * t.data().length);
        return t;
    }

    /** The arrays go to the garbage collector; the ledger stops counting them now. */
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
        checkLength(d(dst).length, src.length);
        System.arraycopy(src, 0, d(dst), 0, src.length);
    }

    @Override
    public float[] read(Tensor src) {
        return d(src).clone();
    }

    @Override
    public void writeInts(IntTensor dst, int[] src) {
        checkLength(d(dst).length, src.length);
        System.arraycopy(src, 0, d(dst), 0, src.length);
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
        Arrays.fill(d(t), 0f);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        checkLength(d(dst).length, d(src).length);
        System.arraycopy(d(src), 0, d(dst), 0, d(dst).length);
    }

    @Override
    public void broadcastRow(Tensor row, Tensor dst) {
        float[] r = d(row), a = d(dst);
        for (int i = 0; i < a.length; i += r.length) System.arraycopy(r, 0, a, i, r.length);
    }

    @Override
    public void broadcastRowToSlots(Tensor row, Tensor dst, int[] slots) {
        float[] r = d(row), a = d(dst);
        int slot = a.length / dst.dim(0);
        for (int b : slots) for (int i = b * slot; i < (b + 1) * slot; i += r.length) System.arraycopy(r, 0, a, i, r.length);
    }

    @Override
    public RopeTables rope(int seq, int headDim, double theta) {
        double[] cos = new double[seq * headDim], sin = new double[seq * headDim];
        RefOps.ropeTables(seq, headDim, theta, cos, sin);   // angles in double, rounded once
        CpuTensor c = tensor(seq, headDim), s = tensor(seq, headDim);
        for (int i = 0; i < cos.length; i++) {
            c.data()[i] = (float) cos[i];
            s.data()[i] = (float) sin[i];
        }
        return new RopeTables(c, s, seq, headDim);
    }

    @Override
    public void embed(IntTensor tokens, IntTensor puzzleIds, Tensor embed, Tensor table, Tensor x, float scale) {
        int len = tokens.dim(1);
        Embedding.forward(d(tokens), d(puzzleIds), d(embed), d(table), d(x), x.dim(0), len, x.dim(2),
                x.dim(1) - len, scale, embed.dim(0), table.dim(0));
    }

    @Override
    public void embedBackward(IntTensor tokens, Tensor dx, Tensor dEmbed, Tensor dPuzzleSlots, float scale) {
        int len = tokens.dim(1);
        Embedding.backward(d(tokens), d(dx), d(dEmbed), d(dPuzzleSlots), dx.dim(0), len, dx.dim(2), dx.dim(1) - len, scale);
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor c, Tensor out) {
        Elementwise.add(d(a), d(b), dn(c), d(out));
    }

    @Override
    public void accumulate(Tensor acc, Tensor x) {
        Elementwise.accumulate(d(acc), d(x));
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        int n = w.dim(0), k = w.dim(1), m = (int) (x.size() / k);
        float[] out = d(y);
        Sgemm.sgemm(false, true, m, n, k, 1f, d(x), 0, k, d(w), 0, k, 0f, out, 0, n);
        if (bias != null) {
            float[] bb = d(bias);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) out[i * n + j] += bb[j];
        }
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw, Tensor dbias) {
        int n = w.dim(0), k = w.dim(1), m = (int) (x.size() / k);
        // dx [m, k] = dy [m, n] w [n, k];  dw [n, k] += dy^T [n, m] x [m, k]
        if (dx != null) Sgemm.sgemm(false, false, m, k, n, 1f, d(dy), 0, n, d(w), 0, k, accumulateDx ? 1f : 0f, d(dx), 0, k);
        if (dw != null) Sgemm.sgemm(true, false, n, k, m, 1f, d(dy), 0, n, d(x), 0, k, 1f, d(dw), 0, k);
        if (dbias != null) {
            float[] g = d(dy), db = d(dbias);
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int i = 0; i < m; i++) s += g[i * n + j];
                db[j] += (float) s;
            }
        }
    }

    /*
     * The token mixer multiplies every batch row by the same weight: y[b] = w x[b]. One GEMM over all rows at once,
     * W [N, Sin] times X' [Sin, B*D] where X'[s, b*D + d] = x[b, s, d], instead of B GEMMs of D columns each: as fast
     * at Sudoku-MLP's D = 512 (GemmReport on the 2-core machine: mixb-fwd-1 174 against mix-fwd-1 166 GFLOP/s) and
     * the thin GEMMs lose more the smaller D is (the demo's is 64). The two transposing copies cost one pass over x
     * and y each, spread over the cores (single-threaded, they took about a fifth of the token mixer's time at B 8).
     */

    /**
     * Per-thread scratch for the token mixer's sequence-major copies, grown once to the largest size seen: these run
     * inside the recursion loop, which must not allocate. (A backend may serve several threads, as the solver's pool.)
     */
    private static final ThreadLocal<float[][]> MIX_SCRATCH = ThreadLocal.withInitial(() -> new float[3][0]);

    private static float[] scratch(int slot, int size) {
        float[][] s = MIX_SCRATCH.get();
        if (s[slot].length < size) s[slot] = new float[size];
        return s[slot];
    }

    /** Rows copied per task of the transposing copies: a few hundred KiB, worth a hand-off to another core. */
    private static int copyChunkRows(int dim) {
        return Math.max(1, 65536 / dim);
    }

    /**
     * x [B, S, D] -> x' [S, B*D], into scratch slot {@code slot}. Spread over the cores: one pass over megabytes (the
     * gate_up output of Sudoku-MLP at batch 8 is 16 MiB), which one core would take longer over than the GEMM.
     */
    private static float[] toSeqMajor(float[] x, int b, int s, int dim, int slot) {
        float[] t = scratch(slot, b * s * dim);
        CpuParallel.shared().parallelForRange(b * s, copyChunkRows(dim), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {  // source row r = (i, j)
                int i = r / s, j = r % s;
                System.arraycopy(x, r * dim, t, (j * b + i) * dim, dim);
            }
        });
        return t;
    }

    /** y' [S, B*D] -> y [B, S, D], written (=) or added (+=); spread over the cores as {@link #toSeqMajor}. */
    private static void fromSeqMajor(float[] t, float[] y, int b, int s, int dim, boolean accumulate) {
        CpuParallel.shared().parallelForRange(b * s, copyChunkRows(dim), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {  // destination row r = (i, j)
                int i = r / s, j = r % s, src = (j * b + i) * dim, dst = r * dim;
                if (accumulate) {
                    for (int d = 0; d < dim; d++) y[dst + d] += t[src + d];
                } else {
                    System.arraycopy(t, src, y, dst, dim);
                }
            }
        });
    }

    @Override
    public void tokenMix(Tensor w, Tensor x, Tensor y) {
        int n = w.dim(0), sin = w.dim(1), b = x.dim(0), dim = x.dim(2);
        float[] xt = toSeqMajor(d(x), b, sin, dim, 0), yt = scratch(1, n * b * dim);
        Sgemm.sgemm(false, false, n, b * dim, sin, 1f, d(w), 0, sin, xt, 0, b * dim, 0f, yt, 0, b * dim);
        fromSeqMajor(yt, d(y), b, n, dim, false);
    }

    @Override
    public void tokenMixBackward(Tensor w, Tensor x, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw) {
        int n = w.dim(0), sin = w.dim(1), b = x.dim(0), dim = x.dim(2), cols = b * dim;
        float[] gt = toSeqMajor(d(dy), b, n, dim, 0);
        if (dx != null) {
            // dx' [Sin, B*D] = w^T [Sin, N] dy' [N, B*D]
            float[] dxt = scratch(1, sin * cols);
            Sgemm.sgemm(true, false, sin, cols, n, 1f, d(w), 0, sin, gt, 0, cols, 0f, dxt, 0, cols);
            fromSeqMajor(dxt, d(dx), b, sin, dim, accumulateDx);
        }
        if (dw != null) {
            // dw [N, Sin] += dy' [N, B*D] x'^T [B*D, Sin]
            float[] xt = toSeqMajor(d(x), b, sin, dim, 2);
            Sgemm.sgemm(false, true, n, sin, cols, 1f, gt, 0, cols, xt, 0, cols, 1f, d(dw), 0, sin);
        }
    }

    @Override
    public void attention(Tensor qkv, Tensor out, Tensor lse, RopeTables rope) {
        int heads = lse.dim(1);
        Attention.forward(d(qkv), d(out), d(lse), rope == null ? null : d(rope.cos()), rope == null ? null : d(rope.sin()),
                qkv.dim(0), qkv.dim(1), heads, out.dim(2) / heads);
    }

    @Override
    public void attentionBackward(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, RopeTables rope) {
        int heads = lse.dim(1);
        Attention.backward(d(qkv), d(out), d(lse), d(dout), d(dqkv), rope == null ? null : d(rope.cos()),
                rope == null ? null : d(rope.sin()), qkv.dim(0), qkv.dim(1), heads, out.dim(2) / heads);
    }

    @Override
    public void swiglu(Tensor gu, Tensor out, int inter) {
        SwiGlu.forward(d(gu), d(out), (int) (out.size() / inter), inter);
    }

    @Override
    public void swigluBackward(Tensor gu, Tensor dout, Tensor dgu, Tensor out, int inter) {
        SwiGlu.backward(d(gu), d(dout), d(dgu), dn(out), (int) (dout.size() / inter), inter);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps) {
        int dim = x.dim(-1);
        Norm.forward(d(x), dn(r), d(out), d(rstd), (int) (x.size() / dim), dim, eps);
    }

    @Override
    public void rmsNormBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh) {
        int dim = out.dim(-1);
        Norm.backward(d(out), d(rstd), d(dout), d(dh), (int) (out.size() / dim), dim);
    }

    @Override
    public void rmsNormSeq(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps) {
        Norm.forwardSeq(d(x), dn(r), d(out), d(rstd), x.dim(0), x.dim(1), x.dim(2), eps);
    }

    @Override
    public void rmsNormSeqBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh) {
        Norm.backwardSeq(d(out), d(rstd), d(dout), d(dh), out.dim(0), out.dim(1), out.dim(2));
    }

    @Override
    public void sliceSeq(Tensor src, int from, Tensor dst) {
        int b = src.dim(0), s = src.dim(1), dim = src.dim(2), n = dst.dim(1);
        for (int i = 0; i < b; i++) System.arraycopy(d(src), (i * s + from) * dim, d(dst), i * n * dim, n * dim);
    }

    @Override
    public void sliceSeqBackward(Tensor dsrc, int from, Tensor dst) {
        int b = dst.dim(0), s = dst.dim(1), dim = dst.dim(2), n = dsrc.dim(1);
        float[] g = d(dsrc), a = d(dst);
        for (int i = 0; i < b; i++) {
            int src = i * n * dim, to = (i * s + from) * dim;
            for (int j = 0; j < n * dim; j++) a[to + j] += g[src + j];
        }
    }

    @Override
    public void crossEntropy(Tensor logits, IntTensor labels, boolean stablemax, double gradScale,
                             Tensor perSeqLoss, IntTensor seqCorrect, IntTensor tokensCorrect, Tensor dlogits) {
        if (tokensCorrect != null) {  // before the gradient may overwrite the logits
            Backend.countCorrectTokens(d(logits), d(labels), d(tokensCorrect), logits.dim(0), logits.dim(1),
                    logits.dim(2));
        }
        Loss.crossEntropy(stablemax, d(logits), d(labels), d(perSeqLoss), d(seqCorrect), d(dlogits),
                logits.dim(0), logits.dim(1), logits.dim(2), gradScale);
    }

    @Override
    public void haltingBce(Tensor q, IntTensor target, double gradScale, Tensor loss, Tensor dq) {
        Loss.haltingBce(d(q), d(target), gradScale, d(loss), d(dq), q.dim(0));
    }

    @Override
    public void adamAtan2(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double wd, double beta1, double beta2, long t) {
        Optimizers.adamAtan2(d(p), d(g), d(m), d(v), lr, wd, beta1, beta2, t);
    }

    @Override
    public void ema(Tensor shadow, Tensor p, double rate) {
        Optimizers.ema(d(shadow), d(p), rate);
    }

    @Override
    public void puzzleSignSgd(Tensor table, IntTensor slotIds, Tensor slotGrads, double lr, double wd) {
        Optimizers.puzzleSignSgd(d(table), table.dim(1), d(slotIds), d(slotGrads), lr, wd);
    }
}
