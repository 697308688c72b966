package dev.trm.backend.gpu;

import dev.trm.backend.Argmax;
import dev.trm.backend.Backend;
import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Bf16;
import dev.trm.gpu.Blas;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GemmEngine;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Runs every standalone kernel, forward and backward, and the GEMM on random inputs and compares each output with the
 * double-precision reference {@link RefOps}. Inputs a kernel reads as bf16 are drawn bf16-exact, so the reference
 * sees the very values the device sees and the error measured is the kernel's own (fp32 math, bf16 output rounding).
 *
 * <p>Error measure, per output tensor: max_i |got_i - ref_i| / max(|ref_i|, 1e-2 max_j |ref_j|): relative where
 * values are large, relative to the tensor's scale where they pass near zero. Tolerances: 1e-2 for bf16 outputs
 * (bf16 keeps 8 bits: half an ulp is 2^-9 = 2e-3 relative), 1e-4 for fp32 outputs, 2e-3 for GEMMs with fp32 output.
 */
public final class KernelSelftest {
    static final double TOL_BF16 = 1e-2, TOL_F32 = 1e-4, TOL_GEMM = 2e-3;

    // Small shapes: the emulated device runs every thread as a fiber; they still cross warp and block boundaries.
    private static final int B = 3, L = 21, P = 4, D = 72, V = 11, ROWS = 37, INTER = 50;

    private final GpuDevice dev;
    private final GpuKernels kernels;
    private final Stream s;
    private final Random rnd;

    public KernelSelftest(GpuDevice dev, long seed) {
        this.dev = dev;
        this.kernels = new GpuKernels(dev);
        this.s = dev.defaultStream();
        this.rnd = new Random(seed);
    }

    /** Every check, in order; a check that throws is reported as failed (infinite error) and its error kept. */
    public List<KernelCheck> runAll() {
        List<KernelCheck> out = new ArrayList<>();
        Map<String, Supplier<List<KernelCheck>>> checks = new LinkedHashMap<>();
        checks.put("embedding", this::embedding);
        checks.put("rmsnorm", this::rmsNorm);
        checks.put("rmsnorm_seq", this::rmsNormSeq);
        checks.put("swiglu", this::swiglu);
        checks.put("gemm_swiglu", this::gemmSwiglu);
        checks.put("gemm_mix_swiglu", this::gemmMixSwiglu);
        checks.put("gemm_mix_norm", this::gemmMixNorm);
        checks.put("token_loss stablemax", () -> tokenLoss(true));
        checks.put("token_loss softmax", () -> tokenLoss(false));
        checks.put("halting_bce", this::haltingBce);
        checks.put("q_head", this::qHead);
        checks.put("adam_atan2", this::adamAtan2);
        checks.put("ema", this::ema);
        checks.put("puzzle_sign_sgd", this::puzzleSignSgd);
        checks.put("casts", this::casts);
        checks.put("attention", this::attention);
        checks.put("rmsnorm inject", this::rmsNormInject);
        checks.put("elementwise", this::elementwise);
        checks.put("supervision state", this::supervisionState);
        checks.put("solve state", this::solveState);
        checks.put("gemm", this::gemm);
        for (Map.Entry<String, Supplier<List<KernelCheck>>> c : checks.entrySet()) {
            current = c.getKey();
            try {
                out.addAll(c.getValue().get());
            } catch (RuntimeException e) {
                errors.add(c.getKey() + ": " + e.getMessage());
                out.add(check(c.getKey(), Double.POSITIVE_INFINITY, 0));
            }
        }
        return out;
    }

    /** The messages of checks that threw, "check: message". */
    public List<String> errors() {
        return errors;
    }

    private final List<String> errors = new ArrayList<>();

    /**
     * Every float output each check measured against its reference, in the order measured, by check (runAll's
     * names): two runs with the same seed on a deterministic device give the same bits, so comparing them finds
     * kernels whose results depend on the order the threads ran in (KernelSchedulesEmulatedTest, which runs the
     * emulated device under its other schedules).
     */
    public Map<String, List<float[]>> outputs() {
        return outputs;
    }

    private final Map<String, List<float[]>> outputs = new LinkedHashMap<>();
    private String current = "";

    /** {@link #err}, keeping the output for {@link #outputs()}. */
    private double measured(float[] got, double[] ref) {
        outputs.computeIfAbsent(current, k -> new ArrayList<>()).add(got.clone());
        return err(got, ref);
    }

    private KernelCheck check(String name, double err, double tol) {
        return new KernelCheck(name, dev.backend(), err, tol);
    }

    // ---- embedding ----

    List<KernelCheck> embedding() {
        int seq = P + L;
        int[] tokens = ints(B * L, V), pids = ints(B, 5);
        float[] embed = floats(V * D, 0.05), table = floats(5 * D, 0.05), dx = floats(B * seq * D, 1.0);
        float[] dEmbed0 = floats(V * D, 0.1);
        float scale = (float) Math.sqrt(D);
        double[] xRef = new double[B * seq * D], dEmbedRef = d(dEmbed0), dPuzzleRef = new double[B * D];
        RefOps.embedForward(tokens, pids, d(embed), d(table), xRef, B, L, D, P, scale);
        RefOps.embedBackward(tokens, d(dx), dEmbedRef, dPuzzleRef, B, L, D, P, scale);
        // the injected variant: next = (a + b) + x, the step's first recursion input z + y + x, from x as stored
        // (bf16: as add3 reads it after embedding_forward), so that only next's own rounding is left to measure
        float[] a = bf(B * seq * D, 2.0), bb = bf(B * seq * D, 2.0);
        double[] nextRef = new double[B * seq * D];
        for (int i = 0; i < nextRef.length; i++) nextRef[i] = a[i] + bb[i] + Bf16.round((float) xRef[i]);
        try (DeviceBuffer tk = i32(tokens); DeviceBuffer pd = i32(pids); DeviceBuffer em = f32(embed);
             DeviceBuffer tb = f32(table); DeviceBuffer x = dev.alloc(DType.BF16, B * seq * D);
             DeviceBuffer gx = f32(dx); DeviceBuffer gE = f32(dEmbed0); DeviceBuffer gP = dev.alloc(DType.F32, B * D);
             DeviceBuffer ga = bf16(a); DeviceBuffer gb = bf16(bb); DeviceBuffer x2 = dev.alloc(DType.BF16, B * seq * D);
             DeviceBuffer next = dev.alloc(DType.BF16, B * seq * D)) {
            kernels.embeddingForward(s, tk, pd, em, tb, x, B, L, D, P, scale);
            kernels.embeddingForward(s, tk, pd, em, tb, x2, B, L, D, P, scale, ga, gb, next);
            try (DeviceBuffer partial = dev.alloc(DType.F32, GpuKernels.embeddingPartialFloats(B, L, V, D))) {
                kernels.embeddingBackward(s, tk, gx, gE, gP, partial, B, L, D, P, V, scale);
                s.synchronize();  // before the scratch is freed
            }
            return List.of(check("embedding_forward", measured(x.downloadBf16(), xRef), TOL_BF16),
                    check("embedding_forward inject", Math.max(measured(x2.downloadBf16(), xRef),
                            measured(next.downloadBf16(), nextRef)), TOL_BF16),
                    check("embedding_backward", Math.max(measured(gE.downloadFloats(), dEmbedRef),
                            measured(gP.downloadFloats(), dPuzzleRef)), TOL_F32));
        }
    }

    // ---- RMSNorm along D ----

    List<KernelCheck> rmsNorm() {
        float[] x = bf(ROWS * D, 2.0), r = bf(ROWS * D, 2.0), dout = bf(ROWS * D, 1.0);
        double[] outRef = new double[ROWS * D], rstdRef = new double[ROWS];
        RefOps.rmsNormForward(d(x), d(r), outRef, rstdRef, ROWS, D, 1e-5);
        try (DeviceBuffer bx = bf16(x); DeviceBuffer br = bf16(r); DeviceBuffer out = dev.alloc(DType.BF16, ROWS * D);
             DeviceBuffer rstd = dev.alloc(DType.F32, ROWS); DeviceBuffer go = bf16(dout);
             DeviceBuffer dh = dev.alloc(DType.BF16, ROWS * D)) {
            kernels.rmsNormForward(s, bx, br, out, rstd, ROWS, D, 1e-5f);
            s.synchronize();
            float[] outGot = out.downloadBf16(), rstdGot = rstd.downloadFloats();
            double fwd = Math.max(measured(outGot, outRef) / TOL_BF16, measured(rstdGot, rstdRef) / TOL_F32) * TOL_BF16;
            // Backward from the device's own (bf16) out and rstd, as the backend does.
            double[] dhRef = new double[ROWS * D];
            RefOps.rmsNormBackward(d(outGot), d(rstdGot), d(dout), dhRef, ROWS, D);
            kernels.rmsNormBackward(s, out, rstd, go, dh, ROWS, D);
            s.synchronize();
            return List.of(check("rmsnorm_forward", fwd, TOL_BF16),
                    check("rmsnorm_backward", measured(dh.downloadBf16(), dhRef), TOL_BF16));
        }
    }

    // ---- RMSNorm along the sequence ----

    List<KernelCheck> rmsNormSeq() {
        int seq = P + L;
        float[] x = bf(B * seq * D, 2.0), r = bf(B * seq * D, 2.0), dout = bf(B * seq * D, 1.0);
        double[] outRef = new double[B * seq * D], rstdRef = new double[B * D];
        RefOps.rmsNormSeqForward(d(x), d(r), outRef, rstdRef, B, seq, D, 1e-5);
        try (DeviceBuffer bx = bf16(x); DeviceBuffer br = bf16(r); DeviceBuffer out = dev.alloc(DType.BF16, x.length);
             DeviceBuffer rstd = dev.alloc(DType.F32, B * D); DeviceBuffer go = bf16(dout);
             DeviceBuffer dh = dev.alloc(DType.BF16, x.length)) {
            kernels.rmsNormSeqForward(s, bx, br, out, rstd, B, seq, D, 1e-5f);
            s.synchronize();
            float[] outGot = out.downloadBf16(), rstdGot = rstd.downloadFloats();
            double fwd = Math.max(measured(outGot, outRef) / TOL_BF16, measured(rstdGot, rstdRef) / TOL_F32) * TOL_BF16;
            double[] dhRef = new double[x.length];
            RefOps.rmsNormSeqBackward(d(outGot), d(rstdGot), d(dout), dhRef, B, seq, D);
            kernels.rmsNormSeqBackward(s, out, rstd, go, dh, B, seq, D);
            s.synchronize();
            return List.of(check("rmsnorm_seq_forward", fwd, TOL_BF16),
                    check("rmsnorm_seq_backward", measured(dh.downloadBf16(), dhRef), TOL_BF16));
        }
    }

    // ---- SwiGLU ----

    List<KernelCheck> swiglu() {
        float[] gu = bf(ROWS * 2 * INTER, 3.0), dout = bf(ROWS * INTER, 1.0);
        double[] outRef = new double[ROWS * INTER], dguRef = new double[gu.length];
        RefOps.swigluForward(d(gu), outRef, ROWS, INTER);
        RefOps.swigluBackward(d(gu), d(dout), dguRef, ROWS, INTER);
        try (DeviceBuffer bgu = bf16(gu); DeviceBuffer out = dev.alloc(DType.BF16, ROWS * INTER);
             DeviceBuffer go = bf16(dout); DeviceBuffer dgu = dev.alloc(DType.BF16, gu.length);
             DeviceBuffer again = dev.alloc(DType.BF16, ROWS * INTER)) {
            kernels.swigluForward(s, bgu, out, ROWS, INTER);
            kernels.swigluBackward(s, bgu, go, dgu, again, ROWS, INTER);
            s.synchronize();
            // the backward's recomputed activation is the forward's, bit for bit (one formula, one rounding)
            float[] fwd = out.downloadBf16();
            double recompute = Arrays.equals(fwd, again.downloadBf16()) ? 0 : Double.POSITIVE_INFINITY;
            return List.of(check("swiglu_forward", measured(fwd, outRef), TOL_BF16),
                    check("swiglu_backward", measured(dgu.downloadBf16(), dguRef), TOL_BF16),
                    check("swiglu_backward recompute = forward", recompute, TOL_BF16));
        }
    }

    // ---- the channel MLP's gate_up GEMM with SwiGLU fused (tensor cores) ----

    /**
     * gemm_swiglu at ROWS = 37 (one partial row tile), D = 72 (three k-tiles, the last partial), I = 80 (two column
     * tiles, the second partial), against the double reference from the same bf16 inputs: h is rounded once from the
     * fp32 accumulators, and so is the kept gu (at most 2^-8 relative each); without gu the same h, bit for
     * bit, and the gu buffer untouched.
     */
    List<KernelCheck> gemmSwiglu() {
        int d = 72, inter = 80;
        float[] x = bf(ROWS * d, 1.0), w = bf(2 * inter * d, 0.3);
        double[] guRef = new double[ROWS * 2 * inter], hRef = new double[ROWS * inter];
        RefOps.gemm(false, true, ROWS, 2 * inter, d, 1.0, d(x), d, d(w), d, 0.0, guRef, 2 * inter);
        RefOps.swigluForward(guRef, hRef, ROWS, inter);
        float[] sentinel = new float[ROWS * 2 * inter];
        Arrays.fill(sentinel, 7f);
        try (DeviceBuffer bx = bf16(x); DeviceBuffer bw = bf16(w); DeviceBuffer gu = dev.alloc(DType.BF16, guRef.length);
             DeviceBuffer h = dev.alloc(DType.BF16, hRef.length); DeviceBuffer untouched = bf16(sentinel);
             DeviceBuffer h2 = dev.alloc(DType.BF16, hRef.length)) {
            kernels.gemmSwiglu(s, bx, bw, gu, h, ROWS, d, inter);
            kernels.gemmSwiglu(s, bx, bw, null, h2, ROWS, d, inter);
            s.synchronize();
            float[] hGot = h.downloadBf16();
            boolean same = Arrays.equals(hGot, h2.downloadBf16())
                    && Arrays.equals(sentinel, untouched.downloadBf16());
            return List.of(check("gemm_swiglu h", measured(hGot, hRef), TOL_ONE_ROUNDING),
                    check("gemm_swiglu gu", measured(gu.downloadBf16(), guRef), TOL_ONE_ROUNDING),
                    check("gemm_swiglu h, no gu", same ? 0.0 : Double.POSITIVE_INFINITY, 0.0));
        }
    }

    // ---- the token mixer's gate_up GEMM with SwiGLU fused (tensor cores) ----

    /**
     * gemm_mix_swiglu at B = 2, S = 37 (odd: w's rows are not even 4-byte aligned; two k-tiles, the second partial and
     * not a multiple of 16), I = 80 (two row tiles, the second partial), D = 72 (two column tiles, the second 8 wide),
     * against the double reference from the same bf16 inputs: h and the kept gu are each rounded once from fp32; without
     * gu the same h, bit for bit.
     */
    List<KernelCheck> gemmMixSwiglu() {
        int batch = 2, seq = 37, d = 72, inter = 80;
        float[] w = bf(2 * inter * seq, 0.3), x = bf(batch * seq * d, 1.0);
        double[] wd = d(w), xd = d(x);
        double[] guRef = new double[batch * 2 * inter * d], hRef = new double[batch * inter * d];
        for (int b = 0; b < batch; b++) {
            double[] xb = Arrays.copyOfRange(xd, b * seq * d, (b + 1) * seq * d), gb = new double[2 * inter * d];
            RefOps.gemm(false, false, 2 * inter, d, seq, 1.0, wd, seq, xb, d, 0.0, gb, d);  // gu[b] = w x[b]
            System.arraycopy(gb, 0, guRef, b * 2 * inter * d, gb.length);
        }
        RefOps.swigluForward(guRef, hRef, batch, inter * d);  // per batch row: gate block | up block
        try (DeviceBuffer bw = bf16(w); DeviceBuffer bx = bf16(x); DeviceBuffer gu = dev.alloc(DType.BF16, guRef.length);
             DeviceBuffer h = dev.alloc(DType.BF16, hRef.length); DeviceBuffer h2 = dev.alloc(DType.BF16, hRef.length)) {
            kernels.gemmMixSwiglu(s, bw, bx, gu, h, batch, seq, d, inter);
            kernels.gemmMixSwiglu(s, bw, bx, null, h2, batch, seq, d, inter);
            s.synchronize();
            float[] hGot = h.downloadBf16();
            boolean same = Arrays.equals(hGot, h2.downloadBf16());
            return List.of(check("gemm_mix_swiglu h", measured(hGot, hRef), TOL_ONE_ROUNDING),
                    check("gemm_mix_swiglu gu", measured(gu.downloadBf16(), guRef), TOL_ONE_ROUNDING),
                    check("gemm_mix_swiglu h, no gu", same ? 0.0 : Double.POSITIVE_INFINITY, 0.0));
        }
    }

    // ---- the token mixer's down GEMM with the residual add and the sequence-axis RMSNorm fused (tensor cores) ----

    /**
     * gemm_mix_norm at B = 2, S = 37 (3 row tiles, the last 5 rows; w in one group of 64 rows), D = 72 (two column
     * tiles, the second 8 wide), I = 40 (two k-tiles, the second one k step of 8), against the double reference from
     * the same bf16 inputs: h = res + w x[b] stays fp32, so out is rounded once and rstd is an fp32 result.
     */
    List<KernelCheck> gemmMixNorm() {
        int batch = 2, seq = 37, d = 72, inter = 40;
        float eps = 1e-5f;
        float[] w = bf(seq * inter, 0.3), x = bf(batch * inter * d, 1.0), res = bf(batch * seq * d, 1.0);
        double[] wd = d(w), xd = d(x);
        double[] mix = new double[batch * seq * d], outRef = new double[mix.length], rstdRef = new double[batch * d];
        for (int b = 0; b < batch; b++) {
            double[] xb = Arrays.copyOfRange(xd, b * inter * d, (b + 1) * inter * d), mb = new double[seq * d];
            RefOps.gemm(false, false, seq, d, inter, 1.0, wd, inter, xb, d, 0.0, mb, d);  // mix[b] = w x[b]
            System.arraycopy(mb, 0, mix, b * seq * d, mb.length);
        }
        RefOps.rmsNormSeqForward(d(res), mix, outRef, rstdRef, batch, seq, d, eps);
        try (DeviceBuffer bw = bf16(w); DeviceBuffer bx = bf16(x); DeviceBuffer br = bf16(res);
             DeviceBuffer out = dev.alloc(DType.BF16, mix.length); DeviceBuffer rstd = dev.alloc(DType.F32, batch * d)) {
            kernels.gemmMixNorm(s, bw, bx, br, out, rstd, batch, seq, d, inter, eps);
            s.synchronize();
            return List.of(check("gemm_mix_norm out", measured(out.downloadBf16(), outRef), TOL_ONE_ROUNDING),
                    check("gemm_mix_norm rstd", measured(rstd.downloadFloats(), rstdRef), TOL_F32));
        }
    }

    /**
     * One rounding to bf16: half an ulp is at most 2^-8 = 3.9e-3 relative (8 significant bits, just above a power of
     * two), plus slack for fp32 sums and another libm's exp.
     */
    static final double TOL_ONE_ROUNDING = 4e-3;

    // ---- token loss (stablemax or softmax CE) ----

    List<KernelCheck> tokenLoss(boolean stablemax) {
        int batch = 4;
        float[] logits = bf(batch * L * V, 4.0);
        int[] labels = ints(batch * L, V);
        for (int t = 0; t < L; t += 3) labels[t] = RefOps.IGNORE_LABEL;            // some ignored tokens
        for (int t = 0; t < L; t++) labels[3 * L + t] = RefOps.IGNORE_LABEL;       // a sequence with none valid
        // Make sequence 1 entirely correct, so seqCorrect has both values, and sequence 2 correct but for token 5:
        // its only wrong token is then another warp's than the one whose thread 0 resets the block's flag (one warp
        // per token, 8 warps), which a missing barrier after that reset would lose.
        for (int t = 0; t < L; t++) {
            for (int b = 1; b <= 2; b++) {
                int y = labels[b * L + t];
                if (y >= 0) logits[(b * L + t) * V + y] = 8.0f;
            }
        }
        int wrongY = labels[2 * L + 5];
        logits[(2 * L + 5) * V + (wrongY + 1) % V] = 9.0f;  // token 5 (not ignored: 5 % 3 != 0) argmax != label
        float gradScale = 1.0f / batch;
        double[] lossRef = new double[batch], dRef = new double[logits.length];
        int[] correctRef = new int[batch];
        RefOps.crossEntropy(stablemax, d(logits), labels, lossRef, correctRef, dRef, batch, L, V, gradScale);
        int[] tokensRef = new int[batch];
        Backend.countCorrectTokens(logits, labels, tokensRef, batch, L, V);
        try (DeviceBuffer bl = bf16(logits); DeviceBuffer lab = i32(labels); DeviceBuffer loss = dev.alloc(DType.F32, batch);
             DeviceBuffer correct = dev.alloc(DType.I32, batch); DeviceBuffer tokens = dev.alloc(DType.I32, batch);
             DeviceBuffer dl = dev.alloc(DType.BF16, logits.length)) {
            kernels.tokenLoss(s, stablemax, bl, lab, loss, correct, tokens, dl, batch, L, V, gradScale);
            s.synchronize();
            int[] c = correct.downloadInts(), tc = tokens.downloadInts();
            int mismatches = 0;
            for (int b = 0; b < batch; b++) if (c[b] != correctRef[b] || tc[b] != tokensRef[b]) mismatches++;
            double e = Math.max(measured(loss.downloadFloats(), lossRef) / TOL_F32,
                    measured(dl.downloadBf16(), dRef) / TOL_BF16) * TOL_BF16;
            if (mismatches > 0) e = Double.POSITIVE_INFINITY;  // seqCorrect and tokensCorrect must match exactly
            return List.of(check(stablemax ? "token_loss stablemax" : "token_loss softmax", e, TOL_BF16));
        }
    }

    // ---- halting BCE ----

    List<KernelCheck> haltingBce() {
        int batch = 300;  // more than one block's threads: exercises the strided loop
        float[] q = floats(batch, 6.0);
        int[] target = ints(batch, 2);
        // q [B, 2] as the q head writes it: column 0 q_halt, column 1 q_continue (no loss, zero gradient)
        float[] q2 = new float[2 * batch];
        double[] dq2Ref = new double[2 * batch], lossRef = new double[batch];
        for (int b = 0; b < batch; b++) {
            q2[2 * b] = q[b];
            q2[2 * b + 1] = -q[b];
            double[] one = new double[1];
            lossRef[b] = RefOps.haltingBce(new double[] {q[b]}, new int[] {target[b]}, one, 1, 0.5);
            dq2Ref[2 * b] = one[0];
        }
        try (DeviceBuffer bq = f32(q2); DeviceBuffer bt = i32(target); DeviceBuffer dq = dev.alloc(DType.F32, 2 * batch);
             DeviceBuffer loss = dev.alloc(DType.F32, batch)) {
            kernels.haltingBce(s, bq, 2, bt, loss, dq, batch, 0.5f);
            s.synchronize();
            double e = Math.max(measured(dq.downloadFloats(), dq2Ref), measured(loss.downloadFloats(), lossRef));
            return List.of(check("halting_bce", e, TOL_F32));
        }
    }

    // ---- the q head and its halting loss ----

    List<KernelCheck> qHead() {
        int seq = P + L, batch = 37;  // 37 slots: 5 blocks of the forward's 8 warps, 4 or 5 slots per backward warp
        float[] y = bf(batch * seq * D, 2.0), w = floats(2 * D, 0.3), bias = floats(2, 1.0);
        float[] q = floats(batch * 2, 6.0), dw0 = floats(2 * D, 0.1), dbias0 = floats(2, 0.1), g0 = bf(y.length, 0.1);
        int[] target = ints(batch, 2);
        QHeadReference ref = QHeadReference.of(y, w, bias, q, target, dw0, dbias0, g0, batch, seq, D, 0.5);
        try (DeviceBuffer by = bf16(y); DeviceBuffer bw = f32(w); DeviceBuffer bb = f32(bias);
             DeviceBuffer qOut = dev.alloc(DType.F32, batch * 2); DeviceBuffer bq = f32(q); DeviceBuffer bt = i32(target);
             DeviceBuffer loss = dev.alloc(DType.F32, batch); DeviceBuffer dq = dev.alloc(DType.F32, batch * 2);
             DeviceBuffer dw = f32(dw0); DeviceBuffer dbias = f32(dbias0); DeviceBuffer g = bf16(g0)) {
            kernels.qHeadForward(s, by, bw, bb, qOut, batch, seq, D);
            kernels.qHeadBackward(s, bq, bt, by, bw, loss, dq, dw, dbias, g, batch, seq, D, 0.5f);
            s.synchronize();
            // loss and dq: halting_bce's own arithmetic; dw, dbias: sums over the slots, as a GEMM's fp32 output
            double bwd = Math.max(Math.max(measured(loss.downloadFloats(), ref.loss()) / TOL_F32,
                    measured(dq.downloadFloats(), ref.dq()) / TOL_F32), Math.max(
                    measured(dw.downloadFloats(), ref.dw()) / TOL_GEMM,
                    measured(dbias.downloadFloats(), ref.dbias()) / TOL_GEMM)) * TOL_GEMM;
            return List.of(check("q_head_forward", measured(qOut.downloadFloats(), ref.q()), TOL_GEMM),
                    check("q_head_backward", bwd, TOL_GEMM),
                    // g's slot 0 rounded to bf16 once: within half a bf16 ulp, 2^-8 of the value
                    check("q_head_backward g", measured(g.downloadBf16(), ref.g()), TOL_ONE_ROUNDING));
        }
    }

    /**
     * The q head and its halting loss in double (q_head.cu's contract), for the kernel checks: y [B, S, D] (slot 0
     * read), w [2, D] rounded to bf16 as the kernels read it, bias [2] give q [B, 2]; from a q [B, 2] of the caller's
     * and target [B], gradScale: loss [B], dq [B, 2] (column 1 zero), and dw [2, D], dbias [2], g [B, S, D] from their
     * starting values dw0, dbias0, g0 with the q head's gradient added (row 1 of dw, dbias[1] and g's slots past 0 as
     * they were).
     */
    record QHeadReference(double[] q, double[] loss, double[] dq, double[] dw, double[] dbias, double[] g) {
        static QHeadReference of(float[] y, float[] w, float[] bias, float[] qIn, int[] target, float[] dw0,
                                 float[] dbias0, float[] g0, int batch, int seq, int dim, double gradScale) {
            double[] q = new double[2 * batch], loss = new double[batch], dq = new double[2 * batch];
            double[] dw = d(dw0), dbias = d(dbias0), g = d(g0);
            for (int b = 0; b < batch; b++) {
                int y0 = b * seq * dim;
                for (int j = 0; j < 2; j++) {
                    double acc = bias[j];
                    for (int k = 0; k < dim; k++) acc += (double) Bf16.round(w[j * dim + k]) * y[y0 + k];
                    q[2 * b + j] = acc;
                }
                double[] one = new double[1];
                loss[b] = RefOps.haltingBce(new double[] {qIn[2 * b]}, new int[] {target[b]}, one, 1, gradScale);
                dq[2 * b] = one[0];
                dbias[0] += one[0];
                for (int k = 0; k < dim; k++) {
                    dw[k] += one[0] * y[y0 + k];
                    g[y0 + k] += one[0] * Bf16.round(w[k]);
                }
            }
            return new QHeadReference(q, loss, dq, dw, dbias, g);
        }
    }

    // ---- optimizers ----

    List<KernelCheck> adamAtan2() {
        int n = 3000;
        float[] p = floats(n, 1.0), g = floats(n, 0.1), m = floats(n, 0.05), v = floats(n, 0.01);
        for (int i = 0; i < n; i++) v[i] = Math.abs(v[i]);
        double lr = 1e-3, wd = 0.1, b1 = 0.9, b2 = 0.95;
        long t = 7;
        double[] pr = d(p), mr = d(m), vr = d(v);
        RefOps.adamAtan2(pr, d(g), mr, vr, n, lr, wd, b1, b2, t);
        try (DeviceBuffer bp = f32(p); DeviceBuffer bg = f32(g); DeviceBuffer bm = f32(m); DeviceBuffer bv = f32(v);
             DeviceBuffer sched = f32(GpuKernels.adamSchedule(lr, b1, b2, t))) {
            kernels.adamAtan2(s, bp, bg, bm, bv, n, sched, (float) wd, (float) b1, (float) b2);
            s.synchronize();
            double e = Math.max(measured(bp.downloadFloats(), pr), Math.max(measured(bm.downloadFloats(), mr),
                    measured(bv.downloadFloats(), vr)));
            return List.of(check("adam_atan2", e, TOL_F32));
        }
    }

    List<KernelCheck> ema() {
        int n = 1000;
        float[] shadow = floats(n, 1.0), p = floats(n, 1.0);
        double[] ref = d(shadow);
        RefOps.ema(ref, d(p), n, 0.999);
        try (DeviceBuffer bs = f32(shadow); DeviceBuffer bp = f32(p)) {
            kernels.ema(s, bs, bp, n, 0.999f);
            s.synchronize();
            return List.of(check("ema", measured(bs.downloadFloats(), ref), TOL_F32));
        }
    }

    /** Sign-SGD straight from the slots: repeated ids are summed per id on the device, as spec 4.3 asks. */
    List<KernelCheck> puzzleSignSgd() {
        int ids = 9, batch = 6;
        float[] table = floats(ids * D, 0.5), grads = floats(batch * D, 1.0);
        int[] slotIds = {7, 0, 3, 7, 5, 0};  // 7 and 0 repeat
        grads[2 * D + 3] = 0;  // a lone id's zero gradient: sign(0) = 0
        int[] rows = {7, 0, 3, 5};
        double[] summed = new double[rows.length * D];
        for (int r = 0; r < rows.length; r++) {
            for (int b = 0; b < batch; b++) {
                if (slotIds[b] != rows[r]) continue;
                for (int j = 0; j < D; j++) summed[r * D + j] += grads[b * D + j];
            }
        }
        double[] ref = d(table);
        RefOps.signSgdRows(ref, D, rows, summed, rows.length, 1e-2, 0.1);
        try (DeviceBuffer bt = f32(table); DeviceBuffer bi = i32(slotIds); DeviceBuffer bg = f32(grads)) {
            kernels.puzzleSignSgd(s, bt, D, bi, bg, batch, 1e-2f, null, 0, 0.1f);
            s.synchronize();
            return List.of(check("puzzle_sign_sgd", measured(bt.downloadFloats(), ref), TOL_F32));
        }
    }

    // ---- casts ----

    List<KernelCheck> casts() {
        int n = 777;
        float[] x = floats(n, 100.0);
        double[] rounded = new double[n];
        for (int i = 0; i < n; i++) rounded[i] = Bf16.round(x[i]);
        try (DeviceBuffer in = f32(x); DeviceBuffer mid = dev.alloc(DType.BF16, n); DeviceBuffer back = dev.alloc(DType.F32, n)) {
            kernels.convert(s, in, mid, n);
            kernels.convert(s, mid, back, n);
            s.synchronize();
            // Both directions are exact given round-to-nearest-even: compare bit for bit (tolerance 0).
            return List.of(check("convert f32 -> bf16", measured(mid.downloadBf16(), rounded), 0.0),
                    check("convert bf16 -> f32", measured(back.downloadFloats(), rounded), 0.0));
        }
    }

    // ---- GEMM (cuBLAS and cuBLASLt, or the emulated reference) ----

    List<KernelCheck> gemm() {
        List<KernelCheck> out = new ArrayList<>();
        try (Blas blas = dev.newBlas(s)) {
            out.add(gemmCase(blas, "gemm bf16 NN batched", false, false, 33, 40, 72, 3, DType.F32, 0.5f));
            out.add(gemmCase(blas, "gemm bf16 TT -> bf16", true, true, 24, 17, 64, 1, DType.BF16, 0.0f));
            out.add(gemmCase(blas, "gemm bf16 NT batched", false, true, 20, 36, 48, 2, DType.F32, 1.0f));
        }
        try (Blas lt = dev.newBlas(s, GemmEngine.CUBLASLT)) {
            out.add(gemmCase(lt, "gemmLt bf16 NT -> bf16", false, true, 40, 24, 64, 1, DType.BF16, 0.0f));
            out.add(gemmCase(lt, "gemmLt bf16 TN batched", true, false, 16, 32, 80, 3, DType.F32, 1.0f));
        }
        return out;
    }

    // ---- attention (RoPE fused), forward and backward ----

    List<KernelCheck> attention() {
        int b = 2, seq = 37, heads = 2, hd = 64, dim = heads * hd;  // seq not a multiple of any tile
        float[] qkv = bf(b * seq * 3 * dim, 1.0), dout = bf(b * seq * dim, 1.0);
        double[] cos = new double[seq * hd], sin = new double[seq * hd];
        RefOps.ropeTables(seq, hd, 10000, cos, sin);
        float[] cosF = new float[cos.length], sinF = new float[sin.length];
        for (int i = 0; i < cos.length; i++) {
            cosF[i] = (float) cos[i];
            sinF[i] = (float) sin[i];
        }
        double[] outRef = new double[b * seq * dim], lseRef = new double[b * heads * seq],
                dqkvRef = new double[qkv.length];
        RefOps.attentionForward(d(qkv), outRef, lseRef, d(cosF), d(sinF), b, seq, heads, hd);
        try (DeviceBuffer gq = bf16(qkv); DeviceBuffer out = dev.alloc(DType.BF16, outRef.length);
             DeviceBuffer lse = dev.alloc(DType.F32, lseRef.length); DeviceBuffer gc = f32(cosF);
             DeviceBuffer gs = f32(sinF); DeviceBuffer gd = bf16(dout);
             DeviceBuffer dqkv = dev.alloc(DType.BF16, qkv.length)) {
            kernels.attentionForward(s, gq, out, lse, gc, gs, b, seq, heads, hd);
            s.synchronize();
            float[] outGot = out.downloadBf16();
            // backward from the device's own out (bf16) and lse, as training does
            RefOps.attentionBackward(d(qkv), d(outGot), d(lse.downloadFloats()), d(dout), dqkvRef, d(cosF), d(sinF),
                    b, seq, heads, hd);
            List<KernelCheck> checks = new ArrayList<>(List.of(check("attention_forward"
                    + (GpuKernels.ATT_TENSOR_CORES ? " (tensor cores)" : ""), Math.max(measured(outGot, outRef),
                    measured(lse.downloadFloats(), lseRef)), TOL_BF16)));
            // both backwards from the same out and lse (at hd = 64 the tensor-core one is the backend's default), each
            // of dq, dk, dv checked on its own: they are the three thirds of each dqkv row
            float[] nan = new float[qkv.length];
            Arrays.fill(nan, Float.NaN);
            for (boolean tc : GpuKernels.ATT_TENSOR_CORES ? new boolean[] {true, false} : new boolean[] {false}) {
                // over NaN, so that an element one backward leaves unwritten (a role's block that never ran) fails
                // its check rather than showing the other backward's value
                dqkv.uploadBf16(nan);
                kernels.attentionBackward(s, gq, out, lse, gd, dqkv, gc, gs, b, seq, heads, hd, tc);
                s.synchronize();
                float[] got = dqkv.downloadBf16();
                String[] parts = {"dq", "dk", "dv"};
                for (int part = 0; part < 3; part++) {
                    float[] g = new float[b * seq * dim];
                    double[] r = new double[b * seq * dim];
                    for (int row = 0; row < b * seq; row++) {
                        for (int c = 0; c < dim; c++) {
                            g[row * dim + c] = got[row * 3 * dim + part * dim + c];
                            r[row * dim + c] = dqkvRef[row * 3 * dim + part * dim + c];
                        }
                    }
                    checks.add(check("attention_backward " + parts[part] + (tc ? " (tensor cores)" : " (CUDA cores)"),
                            measured(g, r), TOL_BF16));
                }
            }
            if (GpuKernels.ATT_TENSOR_CORES) {  // hd = 64 took the tensor-core forward: the CUDA-core one as well
                kernels.attentionForward(s, gq, out, lse, gc, gs, b, seq, heads, hd, false);
                s.synchronize();
                checks.add(check("attention_forward (CUDA cores)", Math.max(measured(out.downloadBf16(), outRef),
                        measured(lse.downloadFloats(), lseRef)), TOL_BF16));
            }
            return checks;
        }
    }

    // ---- residual + RMSNorm writing the next injected input ----

    List<KernelCheck> rmsNormInject() {
        float[] x = bf(ROWS * D, 2.0), r = bf(ROWS * D, 2.0), a = bf(ROWS * D, 1.0), b = bf(ROWS * D, 1.0);
        try (DeviceBuffer gx = bf16(x); DeviceBuffer gr = bf16(r); DeviceBuffer ga = bf16(a); DeviceBuffer gb = bf16(b);
             DeviceBuffer out = dev.alloc(DType.BF16, ROWS * D); DeviceBuffer rstd = dev.alloc(DType.F32, ROWS);
             DeviceBuffer next = dev.alloc(DType.BF16, ROWS * D)) {
            kernels.rmsNormForward(s, gx, gr, out, rstd, ROWS, D, 1e-5f, ga, gb, next);
            s.synchronize();
            float[] o = out.downloadBf16();
            double[] outRef = new double[ROWS * D], rstdRef = new double[ROWS], nextRef = new double[ROWS * D];
            RefOps.rmsNormForward(d(x), d(r), outRef, rstdRef, ROWS, D, 1e-5);
            for (int i = 0; i < nextRef.length; i++) nextRef[i] = (double) o[i] + a[i] + b[i];  // from out as stored
            return List.of(check("rmsnorm_forward inject", Math.max(measured(o, outRef),
                    measured(next.downloadBf16(), nextRef)), TOL_BF16));
        }
    }

    // ---- elementwise glue: add3, accumulate, convert, broadcast, slice ----

    List<KernelCheck> elementwise() {
        int n = ROWS * D;
        float[] a = bf(n, 1.0), b = bf(n, 1.0), c = bf(n, 1.0), acc = floats(n, 1.0), row = floats(D, 1.0);
        double[] addRef = new double[n], accRef = new double[n], rowRef = new double[n];
        for (int i = 0; i < n; i++) {
            addRef[i] = (double) a[i] + b[i] + c[i];
            accRef[i] = (double) acc[i] + a[i];
            rowRef[i] = row[i % D];
        }
        int seq = ROWS, from = 5, len = 20;  // slice rows [5, 25) of [1, ROWS, D]
        double[] sliceRef = new double[len * D];
        for (int i = 0; i < len * D; i++) sliceRef[i] = a[from * D + i];
        try (DeviceBuffer ga = bf16(a); DeviceBuffer gb = bf16(b); DeviceBuffer gc = bf16(c);
             DeviceBuffer sum = dev.alloc(DType.BF16, n); DeviceBuffer gacc = f32(acc); DeviceBuffer grow = f32(row);
             DeviceBuffer bcast = dev.alloc(DType.BF16, n); DeviceBuffer sl = dev.alloc(DType.BF16, len * D);
             DeviceBuffer conv = dev.alloc(DType.F32, n)) {
            kernels.add3(s, ga, gb, gc, sum, n);
            kernels.accumulate(s, gacc, ga, n);
            kernels.broadcastRow(s, grow, bcast, ROWS, D);
            kernels.sliceSeq(s, ga, sl, 1, seq, len, D, from, false);
            kernels.convert(s, ga, conv, n);
            s.synchronize();
            double e = Math.max(measured(sum.downloadBf16(), addRef), measured(bcast.downloadBf16(), rowRef));
            e = Math.max(e, measured(sl.downloadBf16(), sliceRef));
            double f = Math.max(measured(gacc.downloadFloats(), accRef), measured(conv.downloadFloats(), d(a)));
            return List.of(check("add3, broadcast, slice", e, TOL_BF16), check("accumulate, convert", f, TOL_F32));
        }
    }

    // ---- deep supervision's slot state: refill, halting, metrics ----

    List<KernelCheck> supervisionState() {
        int batch = 5, len = 6, seq = 8, dim = 16, maxSteps = 4, vocab = V;
        int[] halted = {1, 0, 1, 0, 1}, steps = {3, 1, 2, 4, 0}, minSteps = {0, 3, 0, 2, 4};
        int[] freshIn = ints(batch * len, vocab), freshLab = ints(batch * len, vocab), freshIds = ints(batch, 7);
        int[] in = ints(batch * len, vocab), lab = ints(batch * len, vocab), ids = ints(batch, 7);
        float[] hInit = floats(dim, 1.0), lInit = floats(dim, 1.0), q = floats(batch * 2, 2.0);
        int[] inRef = in.clone(), labRef = lab.clone(), idsRef = ids.clone(), stepsRef = steps.clone(),
                haltedRef = new int[batch];
        double[] yRef = new double[batch * seq * dim];
        for (int b = 0; b < batch; b++) {
            if (halted[b] != 0) {
                System.arraycopy(freshIn, b * len, inRef, b * len, len);
                System.arraycopy(freshLab, b * len, labRef, b * len, len);
                idsRef[b] = freshIds[b];
                stepsRef[b] = 0;
            }
            for (int i = 0; i < seq * dim; i++) {
                yRef[b * seq * dim + i] = halted[b] != 0 ? Bf16.toFloat(Bf16.fromFloat(hInit[i % dim])) : 0.25;
            }
            stepsRef[b]++;
            boolean stop = stepsRef[b] >= maxSteps || q[2 * b] > 0;
            haltedRef[b] = stop && stepsRef[b] >= minSteps[b] ? 1 : 0;
        }
        float[] y0 = new float[batch * seq * dim];
        Arrays.fill(y0, 0.25f);
        try (DeviceBuffer h = i32(halted); DeviceBuffer fi = i32(freshIn); DeviceBuffer fl = i32(freshLab);
             DeviceBuffer fid = i32(freshIds); DeviceBuffer gi = i32(in); DeviceBuffer gl = i32(lab);
             DeviceBuffer gid = i32(ids); DeviceBuffer gs = i32(steps); DeviceBuffer gh = f32(hInit);
             DeviceBuffer gL = f32(lInit); DeviceBuffer y = bf16(y0); DeviceBuffer z = bf16(y0);
             DeviceBuffer gq = f32(q); DeviceBuffer gm = i32(minSteps)) {
            kernels.actRefill(s, h, fi, fl, fid, gi, gl, gid, gs, gh, gL, y, z, batch, len, seq, dim);
            kernels.actHalt(s, gq, 2, gm, gs, h, batch, maxSteps);
            s.synchronize();
            boolean ints = Arrays.equals(gi.downloadInts(), inRef)
                    && Arrays.equals(gl.downloadInts(), labRef)
                    && Arrays.equals(gid.downloadInts(), idsRef)
                    && Arrays.equals(gs.downloadInts(), stepsRef)
                    && Arrays.equals(h.downloadInts(), haltedRef);
            return List.of(check("act_refill, act_halt", ints ? measured(y.downloadBf16(), yRef)
                    : Double.POSITIVE_INFINITY,
                    TOL_F32));
        }
    }

    // ---- a solve's per-puzzle bookkeeping ----

    /** solve_record over a 3-step solve with early halting: every slot's answer, steps used and halted flag. */
    List<KernelCheck> solveState() {
        int batch = 4, len = 5, vocab = V, steps = 3;
        // q_halt per step and slot: slot 0 halts at step 1, slot 1 at step 2, slots 2 and 3 run to the end.
        float[][] q = {{-1, -2, -1, -3}, {-1, 2, -1, -3}, {-1, 1, 0, -3}};  // rows: steps; [b] = q_halt
        float[][] logits = new float[steps][];
        int[] answersRef = new int[batch * len], usedRef = new int[batch], haltedRef = new int[batch];
        float[] qHaltsRef = new float[batch * steps];
        for (int st = 0; st < steps; st++) {
            logits[st] = floats(batch * len * vocab, 1.0);
            for (int i = 0; i < logits[st].length; i++) logits[st][i] = Bf16.round(logits[st][i]);  // as stored
            for (int b = 0; b < batch; b++) {
                if (usedRef[b] != 0) continue;
                qHaltsRef[b * steps + st] = q[st][b];
                if (st != steps - 1 && !(q[st][b] > 0)) continue;
                for (int t = 0; t < len; t++) {
                    answersRef[b * len + t] = Argmax.firstMax(logits[st], (b * len + t) * vocab, vocab);
                }
                usedRef[b] = st + 1;
                haltedRef[b] = q[st][b] > 0 ? 1 : 0;
            }
        }
        try (DeviceBuffer answers = i32(new int[batch * len]); DeviceBuffer qHalts = f32(new float[batch * steps]);
             DeviceBuffer used = i32(new int[batch]); DeviceBuffer halted = i32(new int[batch])) {
            for (int st = 0; st < steps; st++) {
                float[] qRows = new float[batch * 2];
                for (int b = 0; b < batch; b++) qRows[2 * b] = q[st][b];
                try (DeviceBuffer lg = bf16(logits[st]); DeviceBuffer gq = f32(qRows)) {
                    kernels.solveRecord(s, lg, gq, 2, st, steps, true, answers, qHalts, used, halted, batch, len, vocab);
                    s.synchronize();
                }
            }
            boolean ok = Arrays.equals(answers.downloadInts(), answersRef)
                    && Arrays.equals(used.downloadInts(), usedRef)
                    && Arrays.equals(halted.downloadInts(), haltedRef);
            float[] qh = qHalts.downloadFloats();
            for (int b = 0; b < batch; b++) {
                for (int st = 0; st < usedRef[b]; st++) ok &= qh[b * steps + st] == qHaltsRef[b * steps + st];
            }
            return List.of(check("solve_record", ok ? 0.0 : Double.POSITIVE_INFINITY, 0.0));
        }
    }

    private KernelCheck gemmCase(Blas blas, String name, boolean ta, boolean tb, int m, int n, int k, int batch,
                                 DType cType, float beta) {
        int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
        int sa = m * k, sb = k * n, sc = m * n;
        float[] a = bf(sa * batch, 1.0), b = bf(sb * batch, 1.0);
        float[] c = cType == DType.BF16 ? bf(sc * batch, 1.0) : floats(sc * batch, 1.0);
        float alpha = 0.75f;
        double[] ref = d(c);
        for (int p = 0; p < batch; p++) {
            double[] ap = slice(a, p * sa, sa), bp = slice(b, p * sb, sb), cp = slice(ref, p * sc, sc);
            RefOps.gemm(ta, tb, m, n, k, alpha, ap, lda, bp, ldb, beta, cp, ldc);
            System.arraycopy(cp, 0, ref, p * sc, sc);
        }
        try (DeviceBuffer ba = bf16(a); DeviceBuffer bb = bf16(b);
             DeviceBuffer bc = cType == DType.BF16 ? bf16(c) : f32(c)) {
            blas.gemmStridedBatched(s, ta, tb, m, n, k, alpha, ba, lda, sa, bb, ldb, sb, beta, bc, ldc, sc, batch);
            s.synchronize();
            float[] got = cType == DType.BF16 ? bc.downloadBf16() : bc.downloadFloats();
            return check(name, measured(got, ref), cType == DType.BF16 ? TOL_BF16 : TOL_GEMM);
        }
    }

    // ---- helpers ----

    /** max_i |got_i - ref_i| / max(|ref_i|, 1e-2 max|ref|); NaN anywhere gives infinity. */
    static double err(float[] got, double[] ref) {
        if (got.length < ref.length) return Double.POSITIVE_INFINITY;
        double scale = 0;
        for (double r : ref) scale = Math.max(scale, Math.abs(r));
        double floor = Math.max(1e-2 * scale, 1e-30), worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs(got[i] - ref[i]) / Math.max(Math.abs(ref[i]), floor);
            if (!(e <= worst)) worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : Math.max(worst, e);
        }
        return worst;
    }

    /** f widened to double (the references compute in double). */
    static double[] d(float[] f) {
        double[] o = new double[f.length];
        for (int i = 0; i < f.length; i++) o[i] = f[i];
        return o;
    }

    private static double[] slice(float[] f, int from, int n) {
        double[] o = new double[n];
        for (int i = 0; i < n; i++) o[i] = f[from + i];
        return o;
    }

    private static double[] slice(double[] f, int from, int n) {
        double[] o = new double[n];
        System.arraycopy(f, from, o, 0, n);
        return o;
    }

    private float[] floats(int n, double range) {
        float[] o = new float[n];
        for (int i = 0; i < n; i++) o[i] = (float) ((rnd.nextDouble() * 2 - 1) * range);
        return o;
    }

    /** Uniform values rounded to bf16, so host reference and device read the same numbers. */
    private float[] bf(int n, double range) {
        float[] o = floats(n, range);
        for (int i = 0; i < n; i++) o[i] = Bf16.round(o[i]);
        return o;
    }

    private int[] ints(int n, int bound) {
        int[] o = new int[n];
        for (int i = 0; i < n; i++) o[i] = rnd.nextInt(bound);
        return o;
    }

    private DeviceBuffer f32(float[] v) {
        return dev.alloc(DType.F32, v.length).upload(v);
    }

    private DeviceBuffer bf16(float[] v) {
        return dev.alloc(DType.BF16, v.length).uploadBf16(v);
    }

    private DeviceBuffer i32(int[] v) {
        return dev.alloc(DType.I32, v.length).upload(v);
    }
}
