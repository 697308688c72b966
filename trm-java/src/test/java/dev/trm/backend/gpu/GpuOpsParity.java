package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Backend;
import dev.trm.backend.IntTensor;
import dev.trm.backend.RopeTables;
import dev.trm.backend.Tensor;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.gpu.Bf16;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Each op of the GPU backend against the fp32 CPU backend through the {@link Backend} interface, one at a time, on
 * bf16-exact random inputs (so both see the same values and the error is the GPU op's own: bf16 output rounding,
 * fp32 accumulation order). Tolerance per output: max |gpu - cpu| / max |cpu| under 1e-2 (half a bf16 ulp is 2e-3
 * relative; a GEMM output sums many rounded products). Where a whole step drifts further, these localise it.
 */
final class GpuOpsParity {
    static final double TOL = 1e-2;

    private final GpuBackend gpu;
    private final CpuBackend cpu = new CpuBackend();
    private final Random rnd = new Random(5);
    final List<String> report = new ArrayList<>();

    GpuOpsParity(GpuBackend gpu) {
        this.gpu = gpu;
    }

    /** The same values on both backends; the GPU tensor is an activation (bf16) or fp32. */
    private record Pair(Tensor c, Tensor g) {}

    private Pair random(boolean activation, double std, int... shape) {
        Pair p = new Pair(cpu.tensor(shape), activation ? gpu.activation(shape) : gpu.tensor(shape));
        float[] v = new float[Math.toIntExact(p.c().size())];
        for (int i = 0; i < v.length; i++) v[i] = Bf16.toFloat(Bf16.fromFloat((float) (rnd.nextGaussian() * std)));
        cpu.write(p.c(), v);
        gpu.write(p.g(), v);
        return p;
    }

    private Pair act(double std, int... shape) {
        return random(true, std, shape);
    }

    private Pair f32(double std, int... shape) {
        return random(false, std, shape);
    }

    private void close(String what, Pair p) {
        close(what, cpu.read(p.c()), gpu.read(p.g()));
    }

    private void close(String what, float[] a, float[] b) {
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(Float.isFinite(b[i]), what + ": " + b[i] + " at " + i);
            maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs(a[i]));
        }
        double rel = maxRef == 0 ? maxAbs : maxAbs / maxRef;
        report.add(String.format("%-28s rel %.2e", what, rel));
        System.out.println(report.getLast());
        assertTrue(rel < TOL, what + ": relative error " + rel + " (max abs " + maxAbs + ")");
    }

    void runAll() {
        elementwise();
        linear();
        tokenMix();
        swiglu();
        linearSwiglu();
        tokenMixSwiglu();
        norms();
        slices();
        losses();
        embedding();
        optimizers();
        supervisionState();
        solveState();
        attention();  // last: its draws from rnd leave the other checks' inputs as they were
    }

    void elementwise() {
        Pair a = act(1, 3, 5, 33), b = act(1, 3, 5, 33), c = act(1, 3, 5, 33), out = act(0, 3, 5, 33);
        cpu.add(a.c(), b.c(), c.c(), out.c());
        gpu.add(a.g(), b.g(), c.g(), out.g());
        close("add3", out);
        cpu.add(a.c(), b.c(), null, a.c());
        gpu.add(a.g(), b.g(), null, a.g());
        close("add (in place)", a);
        Pair acc = f32(1, 3, 5, 33);
        cpu.accumulate(acc.c(), b.c());
        gpu.accumulate(acc.g(), b.g());
        close("accumulate f32 += bf16", acc);
        Pair row = f32(1, 33), dst = act(0, 4, 5, 33);
        cpu.broadcastRow(row.c(), dst.c());
        gpu.broadcastRow(row.g(), dst.g());
        close("broadcastRow", dst);
        Pair row2 = f32(1, 33);
        cpu.broadcastRowToSlots(row2.c(), dst.c(), new int[] {3, 1});
        gpu.broadcastRowToSlots(row2.g(), dst.g(), new int[] {3, 1});
        close("broadcastRowToSlots", dst);
        Pair cp = act(0, 4, 5, 33);
        cpu.copy(dst.c(), cp.c());
        gpu.copy(dst.g(), cp.g());
        close("copy", cp);
    }

    void linear() {
        Pair x = act(1, 3, 7, 37), w = f32(0.2, 19, 37), bias = f32(1, 19), y = act(0, 3, 7, 19);
        cpu.linear(x.c(), w.c(), null, y.c());
        gpu.linear(x.g(), w.g(), null, y.g());
        close("linear", y);
        Pair q = f32(0, 3, 7, 19);
        cpu.linear(x.c(), w.c(), bias.c(), q.c());
        gpu.linear(x.g(), w.g(), bias.g(), q.g());
        close("linear + bias, fp32 out", q);
        Pair dy = act(1, 3, 7, 19), dx = act(1, 3, 7, 37), dw = f32(1, 19, 37), db = f32(1, 19);
        cpu.linearBackward(x.c(), w.c(), dy.c(), dx.c(), true, dw.c(), db.c());
        gpu.linearBackward(x.g(), w.g(), dy.g(), dx.g(), true, dw.g(), db.g());
        close("linearBackward dx (+=)", dx);
        close("linearBackward dw", dw);
        close("linearBackward dbias", db);
        Pair dq = f32(1, 3, 7, 19), dx2 = act(0, 3, 7, 37);
        cpu.linearBackward(x.c(), w.c(), dq.c(), dx2.c(), false, dw.c(), null);
        gpu.linearBackward(x.g(), w.g(), dq.g(), dx2.g(), false, dw.g(), null);
        close("linearBackward fp32 dy", dx2);
        close("linearBackward fp32 dy dw", dw);
        // the weight's bf16 copy follows a write of the weight
        float[] nw = cpu.read(f32(0.2, 19, 37).c());
        cpu.write(w.c(), nw);
        gpu.write(w.g(), nw);
        cpu.linear(x.c(), w.c(), null, y.c());
        gpu.linear(x.g(), w.g(), null, y.g());
        close("linear after weight write", y);
    }

    void tokenMix() {
        int b = 3, sin = 13, n = 22, d = 10;
        Pair w = f32(0.3, n, sin), x = act(1, b, sin, d), y = act(0, b, n, d);
        cpu.tokenMix(w.c(), x.c(), y.c());
        gpu.tokenMix(w.g(), x.g(), y.g());
        close("tokenMix", y);
        Pair dy = act(1, b, n, d), dx = act(1, b, sin, d), dw = f32(1, n, sin);
        cpu.tokenMixBackward(w.c(), x.c(), dy.c(), dx.c(), true, dw.c());
        gpu.tokenMixBackward(w.g(), x.g(), dy.g(), dx.g(), true, dw.g());
        close("tokenMixBackward dx (+=)", dx);
        close("tokenMixBackward dw", dw);
    }

    void swiglu() {
        Pair gu = act(1, 4, 5, 2 * 17), out = act(0, 4, 5, 17), dout = act(1, 4, 5, 17), dgu = act(0, 4, 5, 34);
        cpu.swiglu(gu.c(), out.c(), 17);
        gpu.swiglu(gu.g(), out.g(), 17);
        close("swiglu", out);
        cpu.swigluBackward(gu.c(), dout.c(), dgu.c(), 17);
        gpu.swigluBackward(gu.g(), dout.g(), dgu.g(), 17);
        close("swigluBackward", dgu);
    }

    /**
     * The channel MLP's gate_up GEMM + SwiGLU through the backend's dispatch (on the emulated device under auto: the
     * fused gemm_swiglu; -Dtrm.swiglu.fused=false: cuBLAS + swiglu_forward), keeping gu and not: M = 21 (a partial
     * row tile), D = 40 (a partial k-tile), I = 48 (a partial column tile). Not keeping gu, only h is compared.
     */
    void linearSwiglu() {
        int inter = 48;
        Pair x = act(1, 3, 7, 40), w = f32(0.3, 2 * inter, 40);
        Pair gu = act(0, 3, 7, 2 * inter), h = act(0, 3, 7, inter);
        cpu.linearSwiglu(x.c(), w.c(), gu.c(), true, h.c(), inter);
        gpu.linearSwiglu(x.g(), w.g(), gu.g(), true, h.g(), inter);
        close("linearSwiglu gu (kept)", gu);
        close("linearSwiglu h", h);
        Pair h2 = act(0, 3, 7, inter);
        cpu.linearSwiglu(x.c(), w.c(), gu.c(), false, h2.c(), inter);
        gpu.linearSwiglu(x.g(), w.g(), gu.g(), false, h2.g(), inter);
        close("linearSwiglu h (gu not kept)", h2);
    }

    /**
     * The token mixer's gate_up GEMM + SwiGLU through the backend's dispatch (on the emulated device under auto: the
     * fused gemm_mix_swiglu; -Dtrm.swiglu.fused=false: cuBLAS + swiglu_forward), keeping gu and not: B = 3, S = 13
     * (odd, under one WMMA k step), D = 40 (a partial column tile), I = 24 (a partial row tile).
     */
    void tokenMixSwiglu() {
        int inter = 24;
        Pair w = f32(0.3, 2 * inter, 13), x = act(1, 3, 13, 40);
        Pair gu = act(0, 3, 2 * inter, 40), h = act(0, 3, inter, 40);
        cpu.tokenMixSwiglu(w.c(), x.c(), gu.c(), true, h.c(), inter);
        gpu.tokenMixSwiglu(w.g(), x.g(), gu.g(), true, h.g(), inter);
        close("tokenMixSwiglu gu (kept)", gu);
        close("tokenMixSwiglu h", h);
        Pair h2 = act(0, 3, inter, 40);
        cpu.tokenMixSwiglu(w.c(), x.c(), gu.c(), false, h2.c(), inter);
        gpu.tokenMixSwiglu(w.g(), x.g(), gu.g(), false, h2.g(), inter);
        close("tokenMixSwiglu h (gu not kept)", h2);
    }

    /**
     * Attention at head size 64, through the backend's dispatch: the tensor-core kernels (attention_tc.cu) unless
     * -Dtrm.attention.tc=false. S = 70: two 64-row tiles (the second partial), three 32-row tiles; with and without
     * RoPE. Each backend runs the backward from its own out and lse, as training does.
     */
    void attention() {
        int b = 1, seq = 70, heads = 2, hd = 64, dim = heads * hd;
        for (boolean withRope : new boolean[] {true, false}) {
            Pair qkv = act(1, b, seq, 3 * dim), out = act(0, b, seq, dim), lse = f32(0, b, heads, seq);
            Pair dout = act(1, b, seq, dim), dqkv = act(0, b, seq, 3 * dim);
            RopeTables rc = withRope ? cpu.rope(seq, hd, 10000) : null;
            RopeTables rg = withRope ? gpu.rope(seq, hd, 10000) : null;
            String tag = withRope ? " hd 64, RoPE" : " hd 64";
            cpu.attention(qkv.c(), out.c(), lse.c(), rc);
            gpu.attention(qkv.g(), out.g(), lse.g(), rg);
            close("attention" + tag, out);
            close("attention lse" + tag, lse);
            cpu.attentionBackward(qkv.c(), out.c(), lse.c(), dout.c(), dqkv.c(), rc);
            gpu.attentionBackward(qkv.g(), out.g(), lse.g(), dout.g(), dqkv.g(), rg);
            close("attentionBackward" + tag, dqkv);
        }
    }

    void norms() {
        Pair x = act(1, 3, 6, 40), r = act(1, 3, 6, 40), out = act(0, 3, 6, 40), rstd = f32(0, 18);
        cpu.rmsNorm(x.c(), r.c(), out.c(), rstd.c(), 1e-5f);
        gpu.rmsNorm(x.g(), r.g(), out.g(), rstd.g(), 1e-5f);
        close("rmsNorm", out);
        close("rmsNorm rstd", rstd);
        for (boolean withB : new boolean[] {true, false}) {
            Pair a = act(1, 3, 6, 40), bb = act(1, 3, 6, 40), o2 = act(0, 3, 6, 40), r2 = f32(0, 18), next = act(0, 3, 6, 40);
            cpu.rmsNormInject(x.c(), r.c(), o2.c(), r2.c(), 1e-5f, a.c(), withB ? bb.c() : null, next.c());
            gpu.rmsNormInject(x.g(), r.g(), o2.g(), r2.g(), 1e-5f, a.g(), withB ? bb.g() : null, next.g());
            close("rmsNormInject out", o2);
            close("rmsNormInject next" + (withB ? " (+a+b)" : " (+a)"), next);
        }
        Pair dout = act(1, 3, 6, 40), dh = act(0, 3, 6, 40);
        // backward from the GPU's own saved output (bf16) on both sides
        cpu.write(out.c(), gpu.read(out.g()));
        cpu.rmsNormBackward(out.c(), rstd.c(), dout.c(), dh.c());
        gpu.rmsNormBackward(out.g(), rstd.g(), dout.g(), dh.g());
        close("rmsNormBackward", dh);
        Pair rs = f32(0, 3, 40), os = act(0, 3, 6, 40);
        cpu.rmsNormSeq(x.c(), r.c(), os.c(), rs.c(), 1e-5f);
        gpu.rmsNormSeq(x.g(), r.g(), os.g(), rs.g(), 1e-5f);
        close("rmsNormSeq", os);
        cpu.write(os.c(), gpu.read(os.g()));
        cpu.rmsNormSeqBackward(os.c(), rs.c(), dout.c(), dh.c());
        gpu.rmsNormSeqBackward(os.g(), rs.g(), dout.g(), dh.g());
        close("rmsNormSeqBackward", dh);
    }

    void slices() {
        Pair y = act(1, 3, 9, 16), tail = act(0, 3, 7, 16);
        cpu.sliceSeq(y.c(), 2, tail.c());
        gpu.sliceSeq(y.g(), 2, tail.g());
        close("sliceSeq", tail);
        Pair g = act(1, 3, 9, 16);
        cpu.sliceSeqBackward(tail.c(), 2, g.c());
        gpu.sliceSeqBackward(tail.g(), 2, g.g());
        close("sliceSeqBackward", g);
    }

    void losses() {
        int b = 3, len = 9, v = 11;
        int[] labels = new int[b * len];
        for (int i = 0; i < labels.length; i++) labels[i] = i % 5 == 0 ? -100 : rnd.nextInt(v);
        IntTensor lc = cpu.intTensor(b, len), lg = gpu.intTensor(b, len);
        cpu.writeInts(lc, labels);
        gpu.writeInts(lg, labels);
        for (boolean stablemax : new boolean[] {true, false}) {
            Pair logits = act(2, b, len, v), per = f32(0, b), dl = act(0, b, len, v);
            IntTensor cc = cpu.intTensor(b), cg = gpu.intTensor(b);
            cpu.crossEntropy(logits.c(), lc, stablemax, 0.5, per.c(), cc, dl.c());
            gpu.crossEntropy(logits.g(), lg, stablemax, 0.5, per.g(), cg, dl.g());
            String name = stablemax ? "stablemax" : "softmax";
            close(name + " loss", per);
            close(name + " dlogits", dl);
            assertTrue(java.util.Arrays.equals(cpu.readInts(cc), gpu.readInts(cg)), name + ": seqCorrect differs");
        }
        Pair q = f32(3, b, 1, 2), loss = f32(0, b), dq = f32(1, b, 1, 2);
        IntTensor tc = cpu.intTensor(b), tg = gpu.intTensor(b);
        cpu.writeInts(tc, new int[] {1, 0, 1});
        gpu.writeInts(tg, new int[] {1, 0, 1});
        cpu.haltingBce(q.c(), tc, 0.25, loss.c(), dq.c());
        gpu.haltingBce(q.g(), tg, 0.25, loss.g(), dq.g());
        close("haltingBce loss", loss);
        close("haltingBce dq", dq);
    }

    void embedding() {
        embedding(3, 7);
        embedding(40, 9);  // 360 token rows: the backward sums in two chunks
    }

    void embedding(int b, int len) {
        int p = 2, d = 12, v = 6, ids = 4;
        int[] tokens = new int[b * len];
        for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(v);
        IntTensor tc = cpu.intTensor(b, len), tg = gpu.intTensor(b, len), ic = cpu.intTensor(b), ig = gpu.intTensor(b);
        cpu.writeInts(tc, tokens);
        gpu.writeInts(tg, tokens);
        int[] pid = new int[b];
        for (int i = 0; i < b; i++) pid[i] = i % 2 == 0 ? 3 : rnd.nextInt(ids);
        cpu.writeInts(ic, pid);
        gpu.writeInts(ig, pid);
        Pair embed = f32(0.3, v, d), table = f32(0.3, ids, d), x = act(0, b, len + p, d);
        cpu.embed(tc, ic, embed.c(), table.c(), x.c(), 3.5f);
        gpu.embed(tg, ig, embed.g(), table.g(), x.g(), 3.5f);
        close("embed B=" + b, x);
        Pair dx = f32(1, b, len + p, d), de = f32(1, v, d), dp = f32(0, b, d);
        cpu.embedBackward(tc, dx.c(), de.c(), dp.c(), 3.5f);
        gpu.embedBackward(tg, dx.g(), de.g(), dp.g(), 3.5f);
        close("embedBackward dEmbed B=" + b, de);
        close("embedBackward dPuzzle", dp);
        cpu.puzzleSignSgd(table.c(), ic, dp.c(), 0.01, 0.1);
        gpu.puzzleSignSgd(table.g(), ig, dp.g(), 0.01, 0.1);
        close("puzzleSignSgd", table);
    }

    void optimizers() {
        Pair p = f32(0.5, 1000), g = f32(1, 1000), m = f32(0.1, 1000), v = f32(0, 1000), x = act(1, 2, 1000),
                y = act(0, 2, 1);
        // p also serves as a GEMM weight, so the optimizer must refresh its bf16 copy
        Pair w = new Pair(cpu.tensor(1, 1000), gpu.tensor(1, 1000));
        cpu.linear(x.c(), w.c(), null, y.c());
        gpu.linear(x.g(), w.g(), null, y.g());
        cpu.write(v.c(), abs(cpu.read(v.c())));
        gpu.write(v.g(), cpu.read(v.c()));
        for (long t = 1; t <= 3; t++) {
            cpu.adamAtan2(p.c(), g.c(), m.c(), v.c(), 1e-3, 0.1, 0.9, 0.95, t);
            gpu.adamAtan2(p.g(), g.g(), m.g(), v.g(), 1e-3, 0.1, 0.9, 0.95, t);
            cpu.adamAtan2(w.c(), g.c(), m.c(), v.c(), 1e-3, 0.1, 0.9, 0.95, t);
            gpu.adamAtan2(w.g(), g.g(), m.g(), v.g(), 1e-3, 0.1, 0.9, 0.95, t);
        }
        close("adamAtan2", p);
        close("adamAtan2 m", m);
        cpu.linear(x.c(), w.c(), null, y.c());
        gpu.linear(x.g(), w.g(), null, y.g());
        close("linear after adamAtan2", y);
        Pair shadow = f32(0.5, 1000);
        cpu.ema(shadow.c(), p.c(), 0.999);
        gpu.ema(shadow.g(), p.g(), 0.999);
        close("ema", shadow);
    }

    /** Slot refill, halting and the metrics ring: the GPU kernels against the CPU backend's host versions. */
    void supervisionState() {
        int b = 5, len = 6, seq = 8, d = 12, v = 7, maxSteps = 4;
        int[] halted = {1, 0, 1, 0, 1}, steps = {3, 1, 2, 4, 0}, min = {0, 3, 0, 2, 4};
        int[][] ints = new int[6][];
        for (int k = 0; k < 6; k++) {
            ints[k] = new int[k < 4 ? b * len : b];
            for (int i = 0; i < ints[k].length; i++) ints[k][i] = rnd.nextInt(v) - (k == 1 || k == 3 ? 1 : 0);
        }
        IntTensor[] c = new IntTensor[12], g = new IntTensor[12];
        int[][] init = {halted, ints[0], ints[1], ints[4], ints[2], ints[3], ints[5], steps, min, new int[b],
                new int[] {7}, new int[b]};
        for (int k = 0; k < init.length; k++) {
            int[] shape = init[k].length == b * len ? new int[] {b, len} : new int[] {init[k].length};
            c[k] = cpu.intTensor(shape);
            g[k] = gpu.intTensor(shape);
            cpu.writeInts(c[k], init[k]);
            gpu.writeInts(g[k], init[k]);
        }
        Pair hInit = f32(1, d), lInit = f32(1, d), y = act(1, b, seq, d), z = act(1, b, seq, d);
        cpu.actRefill(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], hInit.c(), lInit.c(), y.c(), z.c());
        gpu.actRefill(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], hInit.g(), lInit.g(), y.g(), z.g());
        close("actRefill carry y", y);
        close("actRefill carry z", z);
        for (int k : new int[] {4, 5, 6, 7}) {
            assertTrue(java.util.Arrays.equals(cpu.readInts(c[k]), gpu.readInts(g[k])), "actRefill int tensor " + k);
        }
        Pair q = f32(1, b, 1, 2);
        cpu.actHalt(q.c(), c[8], c[7], c[0], maxSteps);
        gpu.actHalt(q.g(), g[8], g[7], g[0], maxSteps);
        assertTrue(java.util.Arrays.equals(cpu.readInts(c[7]), gpu.readInts(g[7])), "actHalt steps");
        assertTrue(java.util.Arrays.equals(cpu.readInts(c[0]), gpu.readInts(g[0])), "actHalt halted");
        Pair logits = act(2, b, len, v), per = f32(1, b), ql = f32(1, b), ring = f32(0, 3, dev.trm.backend.Backend.METRIC_FIELDS);
        int[] correct = {1, 0, 1, 1, 0};
        cpu.writeInts(c[11], correct);
        gpu.writeInts(g[11], correct);
        for (int k = 0; k < 4; k++) {  // wraps around the 3-row ring
            cpu.trainMetrics(logits.c(), c[5], c[0], c[7], c[11], q.c(), per.c(), ql.c(), ring.c(), c[10]);
            gpu.trainMetrics(logits.g(), g[5], g[0], g[7], g[11], q.g(), per.g(), ql.g(), ring.g(), g[10]);
        }
        close("trainMetrics ring", ring);
        assertTrue(cpu.readInts(c[10])[0] == 11 && gpu.readInts(g[10])[0] == 11, "metrics cursor");
    }

    /**
     * A solve's bookkeeping, the GPU kernel against the CPU backend's host version, over every step of a 4-step
     * solve with and without early halting: answers, recorded q_halt values, step counts and halted flags all equal.
     * q_halt is drawn per step with both signs, so with early halting some slots end at each step and some run to the
     * last; the logits are bf16-exact, so both argmaxes see the same values.
     */
    void solveState() {
        int b = 6, len = 5, v = 7, steps = 4;
        for (boolean early : new boolean[] {false, true}) {
            IntTensor[] c = {cpu.intTensor(b, len), cpu.intTensor(b), cpu.intTensor(b)};
            IntTensor[] g = {gpu.intTensor(b, len), gpu.intTensor(b), gpu.intTensor(b)};
            for (int k = 0; k < 3; k++) {
                cpu.zero(c[k]);
                int[] junk = new int[Math.toIntExact(g[k].size())];
                java.util.Arrays.fill(junk, -1);
                gpu.writeInts(g[k], junk);  // not zero before: the op must set it
                gpu.zero(g[k]);
            }
            Pair qHalts = f32(0, b, steps);
            for (int s = 0; s < steps; s++) {
                Pair logits = act(1, b, len, v), q = f32(1, b, 1, 2);
                cpu.solveRecord(logits.c(), q.c(), s, steps, early, c[0], qHalts.c(), c[1], c[2]);
                gpu.solveRecord(logits.g(), q.g(), s, steps, early, g[0], qHalts.g(), g[1], g[2]);
            }
            String[] names = {"answers", "stepsUsed", "halted"};
            for (int k = 0; k < 3; k++) {
                assertTrue(java.util.Arrays.equals(cpu.readInts(c[k]), gpu.readInts(g[k])),
                        "solveRecord " + names[k] + " (early halt " + early + ")");
            }
            int[] used = cpu.readInts(c[1]);
            float[] qc = cpu.read(qHalts.c()), qg = gpu.read(qHalts.g());
            for (int i = 0; i < b; i++) {
                assertTrue(used[i] >= 1 && used[i] <= steps, "slot " + i + " ended after " + used[i] + " steps");
                for (int s = 0; s < used[i]; s++) {
                    assertTrue(qc[i * steps + s] == qg[i * steps + s], "solveRecord qHalts slot " + i + " step " + s);
                }
            }
            if (!early) assertTrue(java.util.Arrays.stream(used).allMatch(u -> u == steps), "without early halt all run");
            else assertTrue(java.util.Arrays.stream(used).anyMatch(u -> u < steps), "no slot halted early: a weak check");
        }
    }

    private static float[] abs(float[] v) {
        for (int i = 0; i < v.length; i++) v[i] = Math.abs(v[i]);
        return v;
    }
}
