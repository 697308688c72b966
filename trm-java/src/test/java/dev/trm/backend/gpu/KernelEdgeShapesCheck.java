package dev.trm.backend.gpu;

import static dev.trm.backend.Backend.METRIC_FIELDS;
import static dev.trm.backend.Backend.SCHEDULE_FIELDS;
import static dev.trm.backend.Backend.countCorrectTokens;
import static dev.trm.backend.gpu.KernelSelftest.TOL_BF16;
import static dev.trm.backend.gpu.KernelSelftest.TOL_F32;
import static dev.trm.backend.gpu.KernelSelftest.TOL_ONE_ROUNDING;
import static dev.trm.backend.gpu.KernelSelftest.d;
import static dev.trm.gpu.DType.BF16;
import static dev.trm.gpu.DType.F32;
import static dev.trm.gpu.DType.I32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.IntTensor;
import dev.trm.backend.Tensor;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Bf16;
import dev.trm.gpu.Backend;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Every kernel family of {@link GpuKernels} at awkward shapes, to catch a missing bounds guard: batch 1, row counts
 * that are no multiple of a block, warp or tile (1, 97, 129, 257, ...), S at both ends of the spec's range (97 and
 * 916), odd S, I or V, D below a warp, n that is no multiple of 4, 8 or 256, and more elements than the grid-stride
 * kernels' 1024 x 256 threads.
 *
 * <p>Every buffer is exactly as large as its shape: on the emulated device an allocation has a red zone on either
 * side (dev.trm.gpu.EmulatedMemory), so a store past a buffer fails the launch with CUDA_ERROR_ILLEGAL_ADDRESS naming
 * the kernel. Every output the kernel writes with = starts as NaN (ints: -4194305), never zeros (the emulated device's
 * own poison, and filled explicitly here so a real GPU checks the same): an element the kernel forgets to write fails
 * the comparison. In-place and += outputs start from random values. Results are compared with the double reference
 * {@link RefOps} (as {@link KernelSelftest}) or, for the glue with no RefOps twin, the CPU backend's op (as
 * {@link GpuOpsParity}); the error measure and tolerances are {@link KernelSelftest}'s.
 *
 * <p>Each case runs on its own; a failing one (a wrong value, or the device's error) is collected, and the check
 * fails at the end listing them all.
 */
final class KernelEdgeShapesCheck {
    private static final float EPS = 1e-5f;
    /** What an output holds before the kernel runs: NaN as fp32 and as bf16, far out of range as an int. */
    private static final float POISON_F = Float.NaN;
    private static final int POISON_I = 0xFFBFFFFF;

    private final GpuDevice dev;
    private final GpuKernels k;
    private final Stream s;
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(97);
    private final List<String> failures = new ArrayList<>();
    private int cases;

    private KernelEdgeShapesCheck(GpuDevice dev) {
        this.dev = dev;
        this.k = new GpuKernels(dev);
        this.s = dev.defaultStream();
    }

    static void check(Backend kind) {
        try (GpuDevice dev = GpuDevice.open(kind)) {
            KernelEdgeShapesCheck c = new KernelEdgeShapesCheck(dev);
            c.runAll();
            assertTrue(c.failures.isEmpty(), c.failures.size() + " of " + c.cases + " edge-shape cases failed on "
                    + kind.label() + ":\n" + String.join("\n", c.failures));
        }
    }

    void runAll() {
        // RMSNorm along D: one warp per row, 8 rows per block
        rmsNorm(1, 8, true, 2);      // batch 1 of one position; D under a warp
        rmsNorm(97, 72, false, 1);   // 97 rows: 12 full blocks + 1 row; D = 2 warp passes + 8
        rmsNorm(2748, 24, true, 0);  // B 3 x S 916 rows
        rmsNorm(3, 520, false, 0);   // D = 16 warp passes + 8
        // RMSNorm along S: one thread per (b, d)
        rmsNormSeq(1, 97, 72, false);
        rmsNormSeq(2, 916, 5, true);
        swiglu(1, 1);
        swiglu(97, 13);
        // the fused GEMMs (64 x 64 tiles, k-tiles of 32); D and I multiples of 8 for gemm_swiglu, D for the mixer
        gemmSwiglu(1, 8, 8);
        gemmSwiglu(97, 72, 24);
        gemmSwiglu(129, 16, 72);
        gemmMixSwiglu(1, 97, 72, 37);
        gemmMixSwiglu(1, 916, 8, 9);
        gemmMixSwiglu(3, 131, 16, 65);
        gemmMixSwiglu(1, 97, 520, 8);  // 9 column tiles, the last 8 wide
        // the token mixer's down GEMM + residual + norm: all S rows per block, S <= 176; D and I multiples of 8
        gemmMixNorm(1, 1, 8, 8);       // one row, one k step half past I
        gemmMixNorm(1, 97, 520, 24);   // 9 column tiles, the last 8 wide
        gemmMixNorm(3, 64, 16, 72);    // exactly one group of w rows and 4 row tiles; 3 k-tiles, the last 8 wide
        gemmMixNorm(2, 176, 8, 8);     // the most rows: 11 row tiles, 3 groups, the last 48 rows
        tokenLoss(true, 3, 97, 11);
        tokenLoss(false, 3, 97, 11);
        tokenLoss(true, 1, 900, 37);  // one block: 900 tokens over 8 warps, V past a warp
        haltingBce(1, 2);
        haltingBce(257, 2);
        haltingBce(3, 1);
        // the q head: a warp per slot forward, 32 columns per backward block with 8 warps over the slots
        qHead(1, 97, 8);     // one slot; D a quarter of a block's columns
        qHead(3, 17, 64);    // two full column blocks; slots 3..7 of the warps idle
        qHead(37, 5, 512);   // 37 slots: 5 forward blocks, the last with 5 warps; 4 or 5 slots per backward warp
        qHead(37, 97, 72);   // D past 2 blocks by 8: the last block's lanes 8..31 own no column
        embedding(1, 81, 16, 24, 11, 3);
        embedding(3, 900, 16, 8, 12, 5);  // 2700 token rows: 11 chunks of 256, the last 140
        embedding(2, 96, 1, 24, 11, 3);   // P = 1 (the smallest prefix TrmConfig takes): S = 97
        attention(1, 97, 1, 64, true, true);    // tensor cores: query and key tiles of 64 and 32, both partial
        attention(1, 97, 1, 64, true, false);   // the CUDA-core kernels at the same shape
        attention(1, 129, 1, 64, false, true);  // tensor cores: the last query tile 1 row
        attention(2, 97, 3, 6, false, false);   // hd 6: a padding pair in the staged tiles
        attention(1, 97, 1, 62, true, false);   // hd 62: lanes 30, 31 own no second dimension (lane + 32 >= hd)
        attention(1, 916, 1, 2, true, false);   // S = 916: 29 tiles of 32, the last 20 rows
        elementwise();
        optimizers(1);
        optimizers(257);
        optimizersMulti(new int[] {1, 257, 13});
        puzzleSignSgd(3, 5, new int[] {2}, false);  // batch 1
        puzzleSignSgd(3, 37, new int[] {2, 0, 2, 1, 2, 0, 1}, true);  // 7 x 37 = 259 elements: one block and 3
        act(1, 81, 97, 8, true, 16);
        act(1, 81, 97, 8, false, 1);
        act(3, 9, 13, 5, true, 16);
        trainMetrics(1, 81, 11);
        trainMetrics(300, 9, 11);  // more slots than the block's 256 threads
        solveRecord(1, 900, 11);   // more tokens than the block's 128 threads
        solveRecord(3, 97, 11);
        bias(97, 2);
        bias(5, 257);
        // the token mixer's aligned GEMM operands: gate_up [2I_S, S] at S = 97 and 916, its weight-gradient products
        padAndCompact(1024, 97, 3);
        padAndCompact(1, 1, 1);
        padAndCompact(131, 916, 2);
        padAndCompact(300, 1001, 2);  // 300,300 compacted elements: past the grid stride's 1024 x 256 threads
    }

    // ---- one case: buffers, comparisons, failures ----

    /** Runs one case; a failed comparison or a device error is recorded under its name and the next case runs. */
    private void run(String name, Runnable body) {
        cases++;
        long t0 = System.nanoTime();
        try {
            body.run();
        } catch (AssertionError e) {
            failures.add(name + ": " + e.getMessage());
        } catch (RuntimeException e) {  // the device's (a store out of bounds: CUDA_ERROR_ILLEGAL_ADDRESS), or ours
            failures.add(name + ": " + e);
        }
        System.out.printf("[%s] %-60s %6.0f ms%n", dev.backend().label(), name, (System.nanoTime() - t0) / 1e6);
    }

    /** The buffers of one case, exactly sized, freed together at its end (after the stream has drained). */
    private final class Bufs implements AutoCloseable {
        private final List<DeviceBuffer> all = new ArrayList<>();

        private DeviceBuffer keep(DeviceBuffer b) {
            all.add(b);
            return b;
        }

        DeviceBuffer bf16(float[] v) {
            return keep(dev.alloc(BF16, v.length)).uploadBf16(v);
        }

        DeviceBuffer f32(float[] v) {
            return keep(dev.alloc(F32, v.length)).upload(v);
        }

        DeviceBuffer i32(int[] v) {
            return keep(dev.alloc(I32, v.length)).upload(v);
        }

        /** An output of n elements holding poison, not zeros: what the kernel leaves unwritten fails the check. */
        DeviceBuffer out(DType type, int n) {
            DeviceBuffer b = keep(dev.alloc(type, n));
            if (type == I32) {
                int[] v = new int[n];
                Arrays.fill(v, POISON_I);
                return b.upload(v);
            }
            float[] v = new float[n];
            Arrays.fill(v, POISON_F);
            return type == BF16 ? b.uploadBf16(v) : b.upload(v);
        }

        @Override
        public void close() {
            s.synchronize();
            for (DeviceBuffer b : all) b.close();
        }
    }

    /** got against ref with KernelSelftest's measure (NaN anywhere: infinite); on failure the first NaN's index. */
    private static void expect(String what, float[] got, double[] ref, double tol) {
        double e = KernelSelftest.err(got, ref);
        if (e <= tol) return;
        int nan = 0;
        while (nan < got.length && Float.isFinite(got[nan])) nan++;
        String where = nan == got.length ? ""
                : " (element " + nan + " of " + got.length + " is " + got[nan] + ": unwritten?)";
        throw new AssertionError(String.format("%s: error %.3e over %.0e%s", what, e, tol, where));
    }

    private static void expect(String what, float[] got, float[] ref, double tol) {
        expect(what, got, d(ref), tol);
    }

    private static void expectInts(String what, int[] got, int[] ref) {
        for (int i = 0; i < ref.length; i++) {
            if (got[i] != ref[i]) {
                throw new AssertionError(what + ": element " + i + " of " + ref.length + " is " + got[i] + ", expected "
                        + ref[i]);
            }
        }
    }

    // ---- inputs ----

    private float[] floats(int n, double range) {
        float[] o = new float[n];
        for (int i = 0; i < n; i++) o[i] = (float) ((rnd.nextDouble() * 2 - 1) * range);
        return o;
    }

    /** Rounded to bf16, so the reference sees the values the kernel reads. */
    private float[] bf(int n, double range) {
        return GemmSwigluCheck.bf(rnd, n, range);
    }

    private int[] ints(int n, int bound) {
        int[] o = new int[n];
        for (int i = 0; i < n; i++) o[i] = rnd.nextInt(bound);
        return o;
    }

    private Tensor ct(float[] v, int... shape) {
        Tensor t = cpu.tensor(shape);
        cpu.write(t, v);
        return t;
    }

    private IntTensor ci(int[] v, int... shape) {
        IntTensor t = cpu.intTensor(shape);
        cpu.writeInts(t, v);
        return t;
    }

    private static double[] ones(int n) {
        double[] o = new double[n];
        Arrays.fill(o, 1.0);
        return o;
    }

    // ---- norms and activations ----

    /** inject: 0 no next, 1 next = out + a, 2 next = out + a + b. Backward from the device's own out and rstd. */
    private void rmsNorm(int rows, int dim, boolean withR, int inject) {
        String at = "rmsnorm rows " + rows + ", D " + dim + (withR ? "" : ", r null") + (inject == 0 ? ""
                : inject == 1 ? ", next = out + a" : ", next = out + a + b");
        run(at, () -> {
            int n = rows * dim;
            float[] x = bf(n, 2), r = bf(n, 2), a = bf(n, 1), b = bf(n, 1), dout = bf(n, 1);
            double[] outRef = new double[n], rstdRef = new double[rows], dhRef = new double[n];
            RefOps.rmsNormForward(d(x), withR ? d(r) : null, outRef, rstdRef, rows, dim, EPS);
            try (Bufs m = new Bufs()) {
                DeviceBuffer out = m.out(BF16, n), rstd = m.out(F32, rows), dh = m.out(BF16, n);
                DeviceBuffer next = inject > 0 ? m.out(BF16, n) : null;
                k.rmsNormForward(s, m.bf16(x), withR ? m.bf16(r) : null, out, rstd, rows, dim, EPS,
                        inject > 0 ? m.bf16(a) : null, inject > 1 ? m.bf16(b) : null, next);
                s.synchronize();
                float[] o = out.downloadBf16(), rs = rstd.downloadFloats();
                expect("out", o, outRef, TOL_BF16);
                expect("rstd", rs, rstdRef, TOL_F32);
                if (inject > 0) {  // from out as stored, as the kernel does
                    Tensor nextRef = cpu.tensor(n);
                    cpu.add(ct(o, n), ct(a, n), inject > 1 ? ct(b, n) : null, nextRef);
                    expect("next", next.downloadBf16(), cpu.read(nextRef), TOL_BF16);
                }
                RefOps.rmsNormBackward(d(o), d(rs), d(dout), dhRef, rows, dim);
                k.rmsNormBackward(s, out, rstd, m.bf16(dout), dh, rows, dim);
                s.synchronize();
                expect("dh", dh.downloadBf16(), dhRef, TOL_BF16);
            }
        });
    }

    private void rmsNormSeq(int batch, int seq, int dim, boolean withR) {
        run("rmsnorm_seq B " + batch + ", S " + seq + ", D " + dim + (withR ? "" : ", r null"), () -> {
            int n = batch * seq * dim;
            float[] x = bf(n, 2), r = bf(n, 2), dout = bf(n, 1);
            double[] outRef = new double[n], rstdRef = new double[batch * dim], dhRef = new double[n];
            RefOps.rmsNormSeqForward(d(x), withR ? d(r) : null, outRef, rstdRef, batch, seq, dim, EPS);
            try (Bufs m = new Bufs()) {
                DeviceBuffer out = m.out(BF16, n), rstd = m.out(F32, batch * dim), dh = m.out(BF16, n);
                k.rmsNormSeqForward(s, m.bf16(x), withR ? m.bf16(r) : null, out, rstd, batch, seq, dim, EPS);
                s.synchronize();
                float[] o = out.downloadBf16(), rs = rstd.downloadFloats();
                expect("out", o, outRef, TOL_BF16);
                expect("rstd", rs, rstdRef, TOL_F32);
                RefOps.rmsNormSeqBackward(d(o), d(rs), d(dout), dhRef, batch, seq, dim);
                k.rmsNormSeqBackward(s, out, rstd, m.bf16(dout), dh, batch, seq, dim);
                s.synchronize();
                expect("dh", dh.downloadBf16(), dhRef, TOL_BF16);
            }
        });
    }

    private void swiglu(int rows, int inter) {
        run("swiglu rows " + rows + ", I " + inter, () -> {
            float[] gu = bf(rows * 2 * inter, 3), dout = bf(rows * inter, 1);
            double[] outRef = new double[rows * inter], dguRef = new double[gu.length];
            RefOps.swigluForward(d(gu), outRef, rows, inter);
            RefOps.swigluBackward(d(gu), d(dout), dguRef, rows, inter);
            try (Bufs m = new Bufs()) {
                DeviceBuffer g = m.bf16(gu), out = m.out(BF16, rows * inter), dgu = m.out(BF16, gu.length);
                DeviceBuffer again = m.out(BF16, rows * inter);
                k.swigluForward(s, g, out, rows, inter);
                k.swigluBackward(s, g, m.bf16(dout), dgu, again, rows, inter);
                s.synchronize();
                float[] o = out.downloadBf16();
                expect("out", o, outRef, TOL_BF16);
                expect("dgu", dgu.downloadBf16(), dguRef, TOL_BF16);
                assertArrayEquals(o, again.downloadBf16(), "the backward's recomputed out is the forward's");
                k.swigluBackward(s, g, m.bf16(dout), dgu, null, rows, inter);   // out not wanted: dgu alone
                s.synchronize();
                expect("dgu (no recompute)", dgu.downloadBf16(), dguRef, TOL_BF16);
            }
        });
    }

    // ---- the fused SwiGLU GEMMs ----

    /** With gu kept, then without (h bit for bit the same; gu then never written, so it stays poison). */
    private void gemmSwiglu(int rows, int dim, int inter) {
        run("gemm_swiglu rows " + rows + ", D " + dim + ", I " + inter, () -> {
            float[] x = bf(rows * dim, 1), w = bf(2 * inter * dim, 0.3);
            double[] guRef = new double[rows * 2 * inter], hRef = new double[rows * inter];
            RefOps.gemm(false, true, rows, 2 * inter, dim, 1.0, d(x), dim, d(w), dim, 0.0, guRef, 2 * inter);
            RefOps.swigluForward(guRef, hRef, rows, inter);
            try (Bufs m = new Bufs()) {
                DeviceBuffer bx = m.bf16(x), bw = m.bf16(w), gu = m.out(BF16, guRef.length);
                DeviceBuffer h = m.out(BF16, hRef.length), h2 = m.out(BF16, hRef.length);
                k.gemmSwiglu(s, bx, bw, gu, h, rows, dim, inter);
                k.gemmSwiglu(s, bx, bw, null, h2, rows, dim, inter);
                s.synchronize();
                float[] hGot = h.downloadBf16();
                expect("h", hGot, hRef, TOL_ONE_ROUNDING);
                expect("gu", gu.downloadBf16(), guRef, TOL_ONE_ROUNDING);
                expect("h without gu", h2.downloadBf16(), hGot, 0.0);
            }
        });
    }

    private void gemmMixSwiglu(int batch, int seq, int dim, int inter) {
        run("gemm_mix_swiglu B " + batch + ", S " + seq + ", D " + dim + ", I " + inter, () -> {
            float[] w = bf(2 * inter * seq, 0.3), x = bf(batch * seq * dim, 1);
            double[][] ref = GemmMixSwigluCheck.reference(w, x, batch, seq, dim, inter);
            try (Bufs m = new Bufs()) {
                DeviceBuffer bw = m.bf16(w), bx = m.bf16(x), gu = m.out(BF16, ref[0].length);
                DeviceBuffer h = m.out(BF16, ref[1].length), h2 = m.out(BF16, ref[1].length);
                k.gemmMixSwiglu(s, bw, bx, gu, h, batch, seq, dim, inter);
                k.gemmMixSwiglu(s, bw, bx, null, h2, batch, seq, dim, inter);
                s.synchronize();
                float[] hGot = h.downloadBf16();
                expect("h", hGot, ref[1], TOL_ONE_ROUNDING);
                expect("gu", gu.downloadBf16(), ref[0], TOL_ONE_ROUNDING);
                expect("h without gu", h2.downloadBf16(), hGot, 0.0);
            }
        });
    }

    /** out and rstd start as poison; the residual is exactly [B, S, D], so a row past S reads or writes a red zone. */
    private void gemmMixNorm(int batch, int seq, int dim, int inter) {
        run("gemm_mix_norm B " + batch + ", S " + seq + ", D " + dim + ", I " + inter, () -> {
            float[] w = bf(seq * inter, 0.3), x = bf(batch * inter * dim, 1), res = bf(batch * seq * dim, 1);
            double[][] ref = GemmMixNormCheck.reference(w, x, res, batch, seq, dim, inter);
            try (Bufs m = new Bufs()) {
                DeviceBuffer out = m.out(BF16, ref[0].length), rstd = m.out(F32, ref[1].length);
                k.gemmMixNorm(s, m.bf16(w), m.bf16(x), m.bf16(res), out, rstd, batch, seq, dim, inter,
                        GemmMixNormCheck.EPS);
                s.synchronize();
                expect("out", out.downloadBf16(), ref[0], TOL_ONE_ROUNDING);
                expect("rstd", rstd.downloadFloats(), ref[1], TOL_F32);
            }
        });
    }

    // ---- losses ----

    /** Every 7th label ignored; with B >= 3 sequence 1 has no valid label at all (its dlogits row must still be 0). */
    private void tokenLoss(boolean stablemax, int batch, int len, int vocab) {
        String kind = stablemax ? "stablemax" : "softmax";
        run("token_loss " + kind + " B " + batch + ", L " + len + ", V " + vocab, () -> {
            int rows = batch * len;
            float[] logits = bf(rows * vocab, 4);
            int[] labels = ints(rows, vocab);
            for (int i = 0; i < rows; i += 7) labels[i] = RefOps.IGNORE_LABEL;
            if (batch >= 3) Arrays.fill(labels, len, 2 * len, RefOps.IGNORE_LABEL);
            float gradScale = 1f / batch;
            double[] lossRef = new double[batch], dRef = new double[logits.length];
            int[] correctRef = new int[batch];
            RefOps.crossEntropy(stablemax, d(logits), labels, lossRef, correctRef, dRef, batch, len, vocab, gradScale);
            int[] tokensRef = new int[batch];
            countCorrectTokens(logits, labels, tokensRef, batch, len, vocab);
            try (Bufs m = new Bufs()) {
                DeviceBuffer loss = m.out(F32, batch), correct = m.out(I32, batch), tokens = m.out(I32, batch);
                DeviceBuffer dl = m.out(BF16, logits.length);
                k.tokenLoss(s, stablemax, m.bf16(logits), m.i32(labels), loss, correct, tokens, dl, batch, len, vocab,
                        gradScale);
                s.synchronize();
                expect("perSeqLoss", loss.downloadFloats(), lossRef, TOL_F32);
                expect("dlogits", dl.downloadBf16(), dRef, TOL_BF16);
                expectInts("seqCorrect", correct.downloadInts(), correctRef);
                expectInts("tokensCorrect", tokens.downloadInts(), tokensRef);
            }
        });
    }

    /** q [B, qStride] with q_halt in column 0; dq = 0 in the other columns. */
    private void haltingBce(int batch, int qStride) {
        run("halting_bce B " + batch + ", q stride " + qStride, () -> {
            float[] q = floats(batch * qStride, 6);
            int[] target = ints(batch, 2);
            double[] qHalt = new double[batch], dHalt = new double[batch], lossRef = new double[batch];
            double[] dqRef = new double[batch * qStride];
            for (int b = 0; b < batch; b++) qHalt[b] = q[b * qStride];
            RefOps.haltingBce(qHalt, target, dHalt, batch, 0.5);
            for (int b = 0; b < batch; b++) {  // per-slot losses: the reference returns their sum
                lossRef[b] = RefOps.haltingBce(new double[] {qHalt[b]}, new int[] {target[b]}, new double[1], 1, 0.5);
                dqRef[b * qStride] = dHalt[b];
            }
            try (Bufs m = new Bufs()) {
                DeviceBuffer loss = m.out(F32, batch), dq = m.out(F32, batch * qStride);
                k.haltingBce(s, m.f32(q), qStride, m.i32(target), loss, dq, batch, 0.5f);
                s.synchronize();
                expect("loss", loss.downloadFloats(), lossRef, TOL_F32);
                expect("dq", dq.downloadFloats(), dqRef, TOL_F32);
            }
        });
    }

    /**
     * q_head_forward and q_head_backward (q_head.cu) against {@link KernelSelftest.QHeadReference}: q, loss and dq
     * start as poison; dw, dbias and g (+=) from random values, and g's slots past 0 must keep theirs. q in [-6, 6]
     * (both signs), targets 0 and 1.
     */
    private void qHead(int batch, int seq, int dim) {
        run("q_head B " + batch + ", S " + seq + ", D " + dim, () -> {
            float[] y = bf(batch * seq * dim, 2), w = floats(2 * dim, 0.3), bias = floats(2, 1);
            float[] q = floats(batch * 2, 6), dw0 = floats(2 * dim, 0.1), dbias0 = floats(2, 0.1);
            float[] g0 = bf(batch * seq * dim, 0.1);
            int[] target = ints(batch, 2);
            KernelSelftest.QHeadReference ref = KernelSelftest.QHeadReference.of(y, w, bias, q, target, dw0, dbias0,
                    g0, batch, seq, dim, 0.5);
            try (Bufs m = new Bufs()) {
                DeviceBuffer by = m.bf16(y), bw = m.f32(w), qOut = m.out(F32, batch * 2);
                DeviceBuffer loss = m.out(F32, batch), dq = m.out(F32, batch * 2);
                DeviceBuffer dw = m.f32(dw0), dbias = m.f32(dbias0), g = m.bf16(g0);
                k.qHeadForward(s, by, bw, m.f32(bias), qOut, batch, seq, dim);
                k.qHeadBackward(s, m.f32(q), m.i32(target), by, bw, loss, dq, dw, dbias, g, batch, seq, dim, 0.5f);
                s.synchronize();
                expect("q", qOut.downloadFloats(), ref.q(), KernelSelftest.TOL_GEMM);
                expect("loss", loss.downloadFloats(), ref.loss(), TOL_F32);
                expect("dq", dq.downloadFloats(), ref.dq(), TOL_F32);
                expect("dw (+=)", dw.downloadFloats(), ref.dw(), KernelSelftest.TOL_GEMM);
                expect("dbias (+=)", dbias.downloadFloats(), ref.dbias(), KernelSelftest.TOL_GEMM);
                float[] gGot = g.downloadBf16();
                expect("g (+= into slot 0)", gGot, ref.g(), TOL_ONE_ROUNDING);
                for (int i = 0; i < gGot.length; i++) {
                    if (i % (seq * dim) >= dim && Float.floatToIntBits(gGot[i]) != Float.floatToIntBits(g0[i])) {
                        throw new AssertionError("g: element " + i + " (slot " + i % (seq * dim) / dim + ") changed from "
                                + g0[i] + " to " + gGot[i]);
                    }
                }
            }
        });
    }

    // ---- embedding ----

    private void embedding(int batch, int len, int prefix, int dim, int vocab, int ids) {
        run("embedding B " + batch + ", L " + len + ", P " + prefix + ", D " + dim + ", V " + vocab, () -> {
            int seq = prefix + len;
            int[] tokens = ints(batch * len, vocab), pids = ints(batch, ids);
            float[] embed = floats(vocab * dim, 0.05), table = floats(ids * dim, 0.05);
            float[] dx = floats(batch * seq * dim, 1), dEmbed0 = floats(vocab * dim, 0.1);
            float scale = (float) Math.sqrt(dim);
            double[] xRef = new double[batch * seq * dim], dEmbedRef = d(dEmbed0), dPuzzleRef = new double[batch * dim];
            RefOps.embedForward(tokens, pids, d(embed), d(table), xRef, batch, len, dim, prefix, scale);
            RefOps.embedBackward(tokens, d(dx), dEmbedRef, dPuzzleRef, batch, len, dim, prefix, scale);
            try (Bufs m = new Bufs()) {
                DeviceBuffer tk = m.i32(tokens), x = m.out(BF16, xRef.length), dE = m.f32(dEmbed0);
                DeviceBuffer dP = m.out(F32, batch * dim);
                DeviceBuffer partial = m.out(F32, (int) GpuKernels.embeddingPartialFloats(batch, len, vocab, dim));
                float[] a = bf(xRef.length, 2), b = bf(xRef.length, 2);
                double[] nextRef = new double[xRef.length];
                // from x as stored (bf16), as add3 would read it: only next's own rounding is measured
                for (int i = 0; i < nextRef.length; i++) nextRef[i] = a[i] + b[i] + Bf16.round((float) xRef[i]);
                DeviceBuffer next = m.out(BF16, xRef.length);
                k.embeddingForward(s, tk, m.i32(pids), m.f32(embed), m.f32(table), x, batch, len, dim, prefix, scale,
                        m.bf16(a), m.bf16(b), next);
                k.embeddingBackward(s, tk, m.f32(dx), dE, dP, partial, batch, len, dim, prefix, vocab, scale);
                s.synchronize();
                expect("x", x.downloadBf16(), xRef, TOL_BF16);
                expect("next = a + b + x", next.downloadBf16(), nextRef, TOL_BF16);
                expect("dEmbed", dE.downloadFloats(), dEmbedRef, TOL_F32);
                expect("dPuzzle", dP.downloadFloats(), dPuzzleRef, TOL_F32);
            }
        });
    }

    // ---- attention ----

    /**
     * Forward, then the backward from the device's own out and lse (as training does), each of dq, dk, dv measured on
     * its own (the three thirds of a dqkv row). tensorCores takes effect at hd = 64 only.
     */
    private void attention(int batch, int seq, int heads, int hd, boolean rope, boolean tensorCores) {
        String at = "attention B " + batch + ", S " + seq + ", H " + heads + ", hd " + hd + (rope ? ", RoPE" : "")
                + (tensorCores && hd == 64 ? ", tensor cores" : ", CUDA cores");
        run(at, () -> {
            int dim = heads * hd, rows = batch * seq;
            float[] qkv = bf(rows * 3 * dim, 1.5), dout = bf(rows * dim, 1);
            float[] cos = null, sin = null;
            if (rope) {
                double[] c = new double[seq * hd], sn = new double[seq * hd];
                RefOps.ropeTables(seq, hd, 10000, c, sn);
                cos = new float[c.length];
                sin = new float[sn.length];
                for (int i = 0; i < c.length; i++) {
                    cos[i] = (float) c[i];
                    sin[i] = (float) sn[i];
                }
            }
            double[] cosD = rope ? d(cos) : null, sinD = rope ? d(sin) : null;
            double[] outRef = new double[rows * dim], lseRef = new double[batch * heads * seq];
            double[] dqkvRef = new double[qkv.length];
            RefOps.attentionForward(d(qkv), outRef, lseRef, cosD, sinD, batch, seq, heads, hd);
            try (Bufs m = new Bufs()) {
                DeviceBuffer q = m.bf16(qkv), out = m.out(BF16, outRef.length), lse = m.out(F32, lseRef.length);
                DeviceBuffer gc = rope ? m.f32(cos) : null, gs = rope ? m.f32(sin) : null;
                DeviceBuffer dqkv = m.out(BF16, qkv.length);
                k.attentionForward(s, q, out, lse, gc, gs, batch, seq, heads, hd, tensorCores);
                s.synchronize();
                float[] o = out.downloadBf16(), l = lse.downloadFloats();
                expect("out", o, outRef, TOL_BF16);
                expect("lse", l, lseRef, TOL_BF16);
                RefOps.attentionBackward(d(qkv), d(o), d(l), d(dout), dqkvRef, cosD, sinD, batch, seq, heads, hd);
                k.attentionBackward(s, q, out, lse, m.bf16(dout), dqkv, gc, gs, batch, seq, heads, hd,
                        tensorCores);
                s.synchronize();
                float[] got = dqkv.downloadBf16();
                String[] parts = {"dq", "dk", "dv"};
                for (int part = 0; part < 3; part++) {
                    float[] g = new float[rows * dim];
                    double[] r = new double[rows * dim];
                    for (int row = 0; row < rows; row++) {
                        System.arraycopy(got, row * 3 * dim + part * dim, g, row * dim, dim);
                        System.arraycopy(dqkvRef, row * 3 * dim + part * dim, r, row * dim, dim);
                    }
                    expect(parts[part], g, r, TOL_BF16);
                }
            }
        });
    }

    // ---- elementwise glue, against the CPU backend's ops ----

    private void elementwise() {
        run("add3 bf16, n 1001", () -> {
            int n = 1001;
            float[] a = bf(n, 1), b = bf(n, 1), c = bf(n, 1);
            Tensor ref = cpu.tensor(n);
            cpu.add(ct(a, n), ct(b, n), ct(c, n), ref);
            try (Bufs m = new Bufs()) {
                DeviceBuffer out = m.out(BF16, n);
                k.add3(s, m.bf16(a), m.bf16(b), m.bf16(c), out, n);
                s.synchronize();
                expect("out", out.downloadBf16(), cpu.read(ref), TOL_BF16);
            }
        });
        run("add fp32 + bf16 -> fp32, c null, n 1", () -> {
            float[] a = floats(1, 1), b = bf(1, 1);
            Tensor ref = cpu.tensor(1);
            cpu.add(ct(a, 1), ct(b, 1), null, ref);
            try (Bufs m = new Bufs()) {
                DeviceBuffer out = m.out(F32, 1);
                k.add3(s, m.f32(a), m.bf16(b), null, out, 1);
                s.synchronize();
                expect("out", out.downloadFloats(), cpu.read(ref), TOL_F32);
            }
        });
        run("accumulate fp32 += bf16, n 7", () -> {
            float[] acc = floats(7, 1), x = bf(7, 1);
            Tensor ref = ct(acc, 7);
            cpu.accumulate(ref, ct(x, 7));
            try (Bufs m = new Bufs()) {
                DeviceBuffer gacc = m.f32(acc);
                k.accumulate(s, gacc, m.bf16(x), 7);
                s.synchronize();
                expect("acc", gacc.downloadFloats(), cpu.read(ref), TOL_F32);
            }
        });
        // past the grid-stride kernels' 1024 blocks of 256 threads: each thread takes a second element, some not
        int big = 1024 * 256 + 1001;
        run("convert fp32 -> bf16 -> fp32, n " + big, () -> {
            float[] x = floats(big, 100);
            try (Bufs m = new Bufs()) {
                DeviceBuffer mid = m.out(BF16, big), back = m.out(F32, big);
                k.convert(s, m.f32(x), mid, big);
                k.convert(s, mid, back, big);
                s.synchronize();
                expect("fp32 -> bf16", mid.downloadBf16(), x, TOL_BF16);
                expect("bf16 -> fp32", back.downloadFloats(), mid.downloadBf16(), 0.0);
            }
        });
        run("broadcast_row rows 97, D 5", () -> {
            float[] row = floats(5, 1);
            Tensor ref = cpu.tensor(97, 5);
            cpu.broadcastRow(ct(row, 5), ref);
            try (Bufs m = new Bufs()) {
                DeviceBuffer dst = m.out(BF16, 97 * 5);
                k.broadcastRow(s, m.f32(row), dst, 97, 5);
                s.synchronize();
                expect("dst", dst.downloadBf16(), cpu.read(ref), TOL_BF16);
            }
        });
        run("broadcast_row_slots B 3, S 97, D 5, slot 2", () -> {
            int per = 97 * 5;
            float[] row = floats(5, 1), dst0 = bf(3 * per, 1);
            Tensor ref = ct(dst0, 3, 97, 5);
            cpu.broadcastRowToSlots(ct(row, 5), ref, new int[] {2});
            try (Bufs m = new Bufs()) {
                DeviceBuffer dst = m.bf16(dst0);
                k.broadcastRowSlots(s, m.f32(row), dst, m.i32(new int[] {2}), 1, per, 5);
                s.synchronize();
                expect("dst", dst.downloadBf16(), cpu.read(ref), TOL_BF16);
            }
        });
        // the model's slice: the L token rows after the P = 16 puzzle rows of S = 97
        run("slice_seq B 2, S 97, rows 16..97, D 5, and its backward", () -> {
            int batch = 2, seq = 97, from = 16, n = 81, dim = 5;
            float[] src = bf(batch * seq * dim, 1), g = bf(batch * n * dim, 1);
            Tensor tail = cpu.tensor(batch, n, dim), back = ct(src, batch, seq, dim);
            cpu.sliceSeq(ct(src, batch, seq, dim), from, tail);
            cpu.sliceSeqBackward(ct(g, batch, n, dim), from, back);
            try (Bufs m = new Bufs()) {
                DeviceBuffer full = m.bf16(src), dst = m.out(BF16, batch * n * dim);
                k.sliceSeq(s, full, dst, batch, seq, n, dim, from, false);
                s.synchronize();
                expect("slice", dst.downloadBf16(), cpu.read(tail), TOL_BF16);
                k.sliceSeq(s, m.bf16(g), full, batch, seq, n, dim, from, true);
                s.synchronize();
                expect("backward (+=)", full.downloadBf16(), cpu.read(back), TOL_BF16);
            }
        });
    }

    // ---- optimizers ----

    private static final double LR = 1e-3, WD = 0.1, B1 = 0.9, B2 = 0.95, RATE = 0.999;
    private static final long STEP = 7;

    /** adam_atan2 and ema with their bf16 copies (outputs with =) at n elements. */
    private void optimizers(int n) {
        run("adam_atan2 + ema with bf16 copies, n " + n, () -> {
            float[] p = floats(n, 1), g = floats(n, 0.1), mo = floats(n, 0.05), v = floats(n, 0.01), sh = floats(n, 1);
            for (int i = 0; i < n; i++) v[i] = Math.abs(v[i]);
            double[] pr = d(p), mr = d(mo), vr = d(v), shr = d(sh);
            RefOps.adamAtan2(pr, d(g), mr, vr, n, LR, WD, B1, B2, STEP);
            RefOps.ema(shr, pr, n, RATE);
            try (Bufs m = new Bufs()) {
                DeviceBuffer bp = m.f32(p), bm = m.f32(mo), bv = m.f32(v), bs = m.f32(sh);
                DeviceBuffer pHalf = m.out(BF16, n), sHalf = m.out(BF16, n);
                k.adamAtan2(s, bp, pHalf, m.f32(g), bm, bv, n, m.f32(GpuKernels.adamSchedule(LR, B1, B2, STEP)),
                        (float) WD, (float) B1, (float) B2);
                k.ema(s, bs, sHalf, bp, n, (float) RATE);
                s.synchronize();
                expect("p", bp.downloadFloats(), pr, TOL_F32);
                expect("m", bm.downloadFloats(), mr, TOL_F32);
                expect("v", bv.downloadFloats(), vr, TOL_F32);
                expect("p bf16", pHalf.downloadBf16(), pr, TOL_BF16);
                expect("shadow", bs.downloadFloats(), shr, TOL_F32);
                expect("shadow bf16", sHalf.downloadBf16(), shr, TOL_BF16);
            }
        });
    }

    /**
     * adam_atan2_multi and ema_multi over tensors of the given sizes; every tensor but the first has a bf16 copy. The
     * table as GpuBackend builds it (optimizer.cu): F addresses per tensor (0: no copy), then the prefix sums of the
     * counts, as little-endian int pairs.
     */
    private void optimizersMulti(int[] sizes) {
        run("adam_atan2_multi + ema_multi, sizes " + Arrays.toString(sizes), () -> {
            int tensors = sizes.length;
            try (Bufs m = new Bufs()) {
                DeviceBuffer[][] adam = new DeviceBuffer[tensors][], ema = new DeviceBuffer[tensors][];
                double[][][] ref = new double[tensors][][];
                long total = 0;
                for (int t = 0; t < tensors; t++) {
                    int n = sizes[t];
                    float[] p = floats(n, 1), g = floats(n, 0.1), mo = floats(n, 0.05), v = floats(n, 0.01);
                    float[] sh = floats(n, 1);
                    for (int i = 0; i < n; i++) v[i] = Math.abs(v[i]);
                    double[] pr = d(p), mr = d(mo), vr = d(v), shr = d(sh);
                    RefOps.adamAtan2(pr, d(g), mr, vr, n, LR, WD, B1, B2, STEP);
                    RefOps.ema(shr, pr, n, RATE);
                    ref[t] = new double[][] {pr, mr, vr, shr};
                    DeviceBuffer bp = m.f32(p), pHalf = t == 0 ? null : m.out(BF16, n);
                    adam[t] = new DeviceBuffer[] {bp, pHalf, m.f32(g), m.f32(mo), m.f32(v)};
                    ema[t] = new DeviceBuffer[] {m.f32(sh), t == 0 ? null : m.out(BF16, n), bp};
                    total += n;
                }
                k.adamAtan2Multi(s, table(m, adam, sizes), tensors, total,
                        m.f32(GpuKernels.adamSchedule(LR, B1, B2, STEP)), (float) WD, (float) B1, (float) B2);
                k.emaMulti(s, table(m, ema, sizes), tensors, total, (float) RATE);
                s.synchronize();
                for (int t = 0; t < tensors; t++) {
                    String at = "tensor " + t + " ";
                    expect(at + "p", adam[t][0].downloadFloats(), ref[t][0], TOL_F32);
                    expect(at + "m", adam[t][3].downloadFloats(), ref[t][1], TOL_F32);
                    expect(at + "v", adam[t][4].downloadFloats(), ref[t][2], TOL_F32);
                    expect(at + "shadow", ema[t][0].downloadFloats(), ref[t][3], TOL_F32);
                    if (t > 0) {
                        expect(at + "p bf16", adam[t][1].downloadBf16(), ref[t][0], TOL_BF16);
                        expect(at + "shadow bf16", ema[t][1].downloadBf16(), ref[t][3], TOL_BF16);
                    }
                }
            }
        });
    }

    private static DeviceBuffer table(Bufs m, DeviceBuffer[][] fields, int[] sizes) {
        long[][] addresses = new long[fields.length][];
        long[] counts = new long[fields.length];
        for (int t = 0; t < fields.length; t++) {
            addresses[t] = Arrays.stream(fields[t]).mapToLong(b -> b == null ? 0 : b.address()).toArray();
            counts[t] = sizes[t];
        }
        return m.i32(GpuKernels.multiTensorTable(addresses, counts));
    }

    /** fromSchedule: lr read from a schedule row [SCHEDULE_FIELDS] at its field 3, as the captured training step. */
    private void puzzleSignSgd(int rows, int dim, int[] slotIds, boolean fromSchedule) {
        run("puzzle_sign_sgd ids " + rows + ", D " + dim + ", slots " + slotIds.length
                + (fromSchedule ? ", lr from a schedule row" : ""), () -> {
            int batch = slotIds.length;
            float[] table = floats(rows * dim, 0.5), grads = floats(batch * dim, 1);
            Tensor ref = ct(table, rows, dim);
            cpu.puzzleSignSgd(ref, ci(slotIds, batch), ct(grads, batch, dim), 1e-2, 0.1);
            try (Bufs m = new Bufs()) {
                DeviceBuffer bt = m.f32(table);
                float[] sched = new float[SCHEDULE_FIELDS];
                sched[3] = 1e-2f;
                k.puzzleSignSgd(s, bt, dim, m.i32(slotIds), m.f32(grads), batch, fromSchedule ? 0f : 1e-2f,
                        fromSchedule ? m.f32(sched) : null, fromSchedule ? 3L * Float.BYTES : 0, 0.1f);
                s.synchronize();
                expect("table", bt.downloadFloats(), cpu.read(ref), TOL_F32);
            }
        });
    }

    // ---- deep supervision and solve state, against the CPU backend's host versions ----

    /** act_refill (slots halted or not), then act_halt into a halted buffer that starts as poison. */
    private void act(int batch, int len, int seq, int dim, boolean halt, int maxSteps) {
        run("act_refill + act_halt B " + batch + ", L " + len + ", S " + seq + ", D " + dim + ", "
                + (halt ? "halted" : "running") + ", max steps " + maxSteps, () -> {
            int[] halted = new int[batch], steps = new int[batch], min = new int[batch];
            for (int b = 0; b < batch; b++) {
                halted[b] = halt || b % 2 == 1 ? 1 : 0;
                steps[b] = rnd.nextInt(maxSteps);
                min[b] = rnd.nextInt(3);
            }
            int[] fIn = ints(batch * len, 11), fLab = ints(batch * len, 11), fIds = ints(batch, 7);
            int[] in = ints(batch * len, 11), lab = ints(batch * len, 11), ids = ints(batch, 7);
            float[] hInit = bf(dim, 1), lInit = bf(dim, 1), y = bf(batch * seq * dim, 1), z = bf(batch * seq * dim, 1);
            float[] q = floats(batch * 2, 2);
            IntTensor[] c = {ci(halted, batch), ci(in, batch, len), ci(lab, batch, len), ci(ids, batch),
                    ci(steps, batch)};
            Tensor cy = ct(y, batch, seq, dim), cz = ct(z, batch, seq, dim);
            cpu.actRefill(c[0], ci(fIn, batch, len), ci(fLab, batch, len), ci(fIds, batch), c[1], c[2], c[3], c[4],
                    ct(hInit, dim), ct(lInit, dim), cy, cz);
            IntTensor haltedAfter = cpu.intTensor(batch);
            cpu.actHalt(ct(q, batch, 2), ci(min, batch), c[4], haltedAfter, maxSteps);
            try (Bufs m = new Bufs()) {
                DeviceBuffer gh = m.i32(halted), gi = m.i32(in), gl = m.i32(lab), gid = m.i32(ids), gs = m.i32(steps);
                DeviceBuffer gy = m.bf16(y), gz = m.bf16(z), gHalted = m.out(I32, batch);
                k.actRefill(s, gh, m.i32(fIn), m.i32(fLab), m.i32(fIds), gi, gl, gid, gs, m.f32(hInit), m.f32(lInit),
                        gy, gz, batch, len, seq, dim);
                k.actHalt(s, m.f32(q), 2, m.i32(min), gs, gHalted, batch, maxSteps);
                s.synchronize();
                expect("y", gy.downloadBf16(), cpu.read(cy), TOL_BF16);
                expect("z", gz.downloadBf16(), cpu.read(cz), TOL_BF16);
                expectInts("inputs", gi.downloadInts(), cpu.readInts(c[1]));
                expectInts("labels", gl.downloadInts(), cpu.readInts(c[2]));
                expectInts("ids", gid.downloadInts(), cpu.readInts(c[3]));
                expectInts("steps", gs.downloadInts(), cpu.readInts(c[4]));
                expectInts("halted", gHalted.downloadInts(), cpu.readInts(haltedAfter));
            }
        });
    }

    /** One step's metrics into row 5 % 3 of a 3-row ring (the other rows must stay as they were). */
    private void trainMetrics(int batch, int len, int vocab) {
        run("train_metrics B " + batch + ", L " + len + ", V " + vocab, () -> {
            int rows = 3, fields = METRIC_FIELDS;
            float[] q = floats(batch * 2, 1), per = floats(batch, 1);
            float[] qLoss = floats(batch, 1), ring = floats(rows * fields, 1);
            for (int r = 0; r < rows; r++) ring[r * fields + fields - 1] = 0;  // the unused field, as the CPU writes it
            int[] labels = ints(batch * len, vocab), halted = ints(batch, 2), steps = ints(batch, 16);
            int[] correct = ints(batch, 2), cursor = {5}, tokens = ints(batch, len + 1);
            for (int i = 0; i < labels.length; i += 5) labels[i] = RefOps.IGNORE_LABEL;
            halted[0] = 1;
            Tensor cRing = ct(ring, rows, fields);
            IntTensor cCursor = ci(cursor, 1);
            cpu.trainMetrics(ci(tokens, batch), ci(labels, batch, len), ci(halted, batch),
                    ci(steps, batch), ci(correct, batch), ct(q, batch, 2), ct(per, batch), ct(qLoss, batch), cRing,
                    cCursor);
            try (Bufs m = new Bufs()) {
                DeviceBuffer gRing = m.f32(ring), gCursor = m.i32(cursor);
                k.trainMetrics(s, m.i32(tokens), m.i32(labels), m.i32(halted), m.i32(steps), m.i32(correct),
                        m.f32(q), 2, m.f32(per), m.f32(qLoss), gRing, rows, fields, gCursor, batch, len);
                s.synchronize();
                expect("ring", gRing.downloadFloats(), cpu.read(cRing), TOL_F32);
                expectInts("cursor", gCursor.downloadInts(), cpu.readInts(cCursor));
            }
        });
    }

    /** Two steps of a 2-step solve with early halting, from zeroed state as TrmSolver starts it. */
    private void solveRecord(int batch, int len, int vocab) {
        run("solve_record B " + batch + ", L " + len + ", V " + vocab, () -> {
            int steps = 2;
            IntTensor cAns = ci(new int[batch * len], batch, len), cUsed = ci(new int[batch], batch);
            IntTensor cHalted = ci(new int[batch], batch);
            Tensor cq = ct(new float[batch * steps], batch, steps);
            try (Bufs m = new Bufs()) {
                DeviceBuffer ans = m.i32(new int[batch * len]), used = m.i32(new int[batch]);
                DeviceBuffer halted = m.i32(new int[batch]), qHalts = m.f32(new float[batch * steps]);
                for (int step = 0; step < steps; step++) {
                    float[] logits = bf(batch * len * vocab, 1), q = floats(batch * 2, 1);
                    if (step == 0) q[0] = 1;  // slot 0 halts early
                    cpu.solveRecord(ct(logits, batch, len, vocab), ct(q, batch, 2), step, steps, true, cAns, cq, cUsed,
                            cHalted);
                    k.solveRecord(s, m.bf16(logits), m.f32(q), 2, step, steps, true, ans, qHalts, used, halted, batch,
                            len, vocab);
                }
                s.synchronize();
                expectInts("answers", ans.downloadInts(), cpu.readInts(cAns));
                expectInts("stepsUsed", used.downloadInts(), cpu.readInts(cUsed));
                expectInts("halted", halted.downloadInts(), cpu.readInts(cHalted));
                expect("qHalts", qHalts.downloadFloats(), cpu.read(cq), 0.0);
            }
        });
    }

    // ---- linear.cu: the bias and batch sums around cuBLAS ----

    /**
     * bias_add (y fp32 and bf16), bias_grad and sum_batches at [rows, n]; references from RefOps.gemm with a ones
     * vector: y + ones bias^T, dbias + dy^T ones, dst + src^T ones.
     */
    private void bias(int rows, int n) {
        run("bias_add, bias_grad, sum_batches rows " + rows + ", n " + n, () -> {
            float[] y = floats(rows * n, 1), yb = bf(rows * n, 1), bias = floats(n, 1), dy = bf(rows * n, 1);
            float[] db = floats(n, 1), src = floats(rows * n, 1), dst = floats(n, 1);
            double[] yRef = d(y), ybRef = d(yb), dbRef = d(db), dstRef = d(dst), one = ones(rows);
            RefOps.gemm(false, false, rows, n, 1, 1.0, one, 1, d(bias), n, 1.0, yRef, n);
            RefOps.gemm(false, false, rows, n, 1, 1.0, one, 1, d(bias), n, 1.0, ybRef, n);
            RefOps.gemm(true, false, n, 1, rows, 1.0, d(dy), n, one, 1, 1.0, dbRef, 1);
            RefOps.gemm(true, false, n, 1, rows, 1.0, d(src), n, one, 1, 1.0, dstRef, 1);
            try (Bufs m = new Bufs()) {
                DeviceBuffer gy = m.f32(y), gyb = m.bf16(yb), gb = m.f32(bias), gdb = m.f32(db), gdst = m.f32(dst);
                k.biasAdd(s, gy, gb, rows, n);
                k.biasAdd(s, gyb, gb, rows, n);
                k.biasGrad(s, m.bf16(dy), gdb, rows, n);
                k.sumBatches(s, m.f32(src), gdst, rows, n);
                s.synchronize();
                expect("y fp32", gy.downloadFloats(), yRef, TOL_F32);
                expect("y bf16", gyb.downloadBf16(), ybRef, TOL_BF16);
                expect("dbias", gdb.downloadFloats(), dbRef, TOL_F32);
                expect("sum_batches", gdst.downloadFloats(), dstRef, TOL_F32);
            }
        });
    }

    /**
     * pad_cols: w [rows, cols] bf16 onto the bf16 pitch ld (cols rounded up to 8), which must hold w exactly and zeros
     * in the padding (compared exactly: a copy); sum_batches on a pitch: dst [rows, cols] += the sum of batch products
     * [batch, rows, ld'] on the fp32 pitch ld' (cols rounded up to 4, plus 4 so that every case has padding), whose
     * padding columns hold NaN: a sum that reads one fails. Reference: the sums in double.
     */
    private void padAndCompact(int rows, int cols, int batch) {
        int ld = GpuBackend.alignedLd(cols, BF16), ldf = GpuBackend.alignedLd(cols, F32) + 4;
        run("pad_cols, sum_batches on a pitch, rows " + rows + ", cols " + cols + " (ld " + ld + ", " + ldf + "), batch "
                + batch, () -> {
            float[] w = bf(rows * cols, 1), src = floats(batch * rows * ldf, 1), dst = floats(rows * cols, 1);
            double[] padRef = new double[rows * ld], dstRef = d(dst);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) padRef[r * ld + c] = w[r * cols + c];
                for (int c = cols; c < ldf; c++) {
                    for (int b = 0; b < batch; b++) src[(b * rows + r) * ldf + c] = Float.NaN;
                }
                for (int c = 0; c < cols; c++) {
                    for (int b = 0; b < batch; b++) dstRef[r * cols + c] += src[(b * rows + r) * ldf + c];
                }
            }
            try (Bufs m = new Bufs()) {
                DeviceBuffer padded = m.out(BF16, rows * ld), gdst = m.f32(dst);
                k.padCols(s, m.bf16(w), padded, rows, cols, ld);
                k.sumBatches(s, m.f32(src), gdst, batch, rows, cols, ldf);
                s.synchronize();
                expect("pad_cols", padded.downloadBf16(), padRef, 0.0);
                expect("sum_batches (pitch)", gdst.downloadFloats(), dstRef, TOL_F32);
            }
        });
    }
}
