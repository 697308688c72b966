package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

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
 *
 * <p>{@link #runAll} takes moderate shapes ({@link GpuModelParityTests}); {@link #edgeShapes} the awkward ones of the
 * spec's range ({@link GpuOpsEdgeShapesEmulatedTest}, {@link GpuOpsEdgeShapesCudaTest}). In both, outputs written
 * with = start as NaN on the GPU.
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

    /**
     * An output the op writes with =: zeros on the CPU, NaN on the GPU (also as bf16), so that an element the GPU op
     * leaves unwritten fails {@link #close}. Draws from rnd as {@link #act} does, so the inputs after it stay the same.
     */
    private Pair outAct(int... shape) {
        return poisoned(act(0, shape));
    }

    private Pair outF32(int... shape) {
        return poisoned(f32(0, shape));
    }

    private Pair poisoned(Pair p) {
        float[] nan = new float[Math.toIntExact(p.c().size())];
        java.util.Arrays.fill(nan, Float.NaN);
        gpu.write(p.g(), nan);
        return p;
    }

    /** The same ints on both backends. */
    private record IntPair(IntTensor c, IntTensor g) {}

    private IntPair ints(int[] values, int... shape) {
        IntPair p = new IntPair(cpu.intTensor(shape), gpu.intTensor(shape));
        cpu.writeInts(p.c(), values);
        gpu.writeInts(p.g(), values);
        return p;
    }

    /** An int output: zeros on the CPU, the emulated device's poison (-4194305) on the GPU. */
    private IntPair intOut(int... shape) {
        IntPair p = new IntPair(cpu.intTensor(shape), gpu.intTensor(shape));
        int[] poison = new int[Math.toIntExact(p.g().size())];
        java.util.Arrays.fill(poison, 0xFFBFFFFF);
        gpu.writeInts(p.g(), poison);
        return p;
    }

    private void same(String what, IntPair p) {
        int[] a = cpu.readInts(p.c()), b = gpu.readInts(p.g());
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) fail(what + ": " + b[i] + " at " + i + ", expected " + a[i]);
        }
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
        report.add(String.format("%-60s rel %.2e", what, rel));
        System.out.println(report.getLast());
        assertTrue(rel < TOL, what + ": relative error " + rel + " (max abs " + maxAbs + ")");
    }

    /** The moderate shapes: each op once, a few tiles and rows off their multiples. */
    void runAll() {
        elementwise(3, 5, 33, new int[] {2, 0});
        linear(3, 7, 37, 19);
        tokenMix(3, 13, 22, 10);
        swiglu(20, 17);
        linearSwiglu(21, 40, 48);
        tokenMixSwiglu(3, 13, 40, 24);
        norms(3, 6, 40);
        slices(3, 2, 7, 16);
        losses(3, 9, 11);
        qHead(3, 2, 7, 16);
        embedding(3, 7, 2, 12, 6, 4);
        embedding(40, 9, 2, 12, 6, 4);  // 360 token rows: the backward sums in two chunks
        optimizers(1000);
        supervisionState(5, 6, 8, 12, 7);
        solveState(6, 5, 7, 4);
        attention(1, 70, 2, 64);  // its draws from rnd leave the other checks' inputs as they were
        tokenMixNorm(3, 13, 40, 24);  // after attention, for the same reason
    }

    /**
     * Every op again at the awkward shapes of the spec's range, so that GpuBackend's own sizing runs there (the
     * scratch and partial buffers it computes, the row counts and strides it passes): batch 1; S = 97 (Sudoku: 81 +
     * a 16-slot prefix), 916 (maze, ARC: 900 + 16) and others off every tile (129, 131, 13); odd V and token-mixer S
     * and I; puzzle prefixes of 1 and 16; D at or below a warp. Outputs written with = start as NaN on the GPU
     * ({@link #outAct}), so an element an op leaves unwritten fails its comparison; on the emulated device a store
     * past any buffer, a scratch GpuBackend sized too small included, fails the op naming the kernel (red zones,
     * docs/gpu.md "Memory checks"). For a fresh backend: the scratch buffers (mixScratch, embedPartial, the
     * slot list) grow on demand and are kept, so each op's cases run in increasing need and each case that needs
     * more allocates its own exact size. Full attention at hd 64 stays at S 97 and 129 (S 916 takes the emulator
     * half a minute).
     */
    void edgeShapes() {
        elementwise(1, 97, 24, new int[] {0});
        elementwise(1, 916, 287, new int[] {0});  // 262892 elements: past the grid-stride kernels' 1024 x 256 threads
        slotsPastTheSlotList();
        uploads();
        linear(1, 97, 24, 11);   // the lm head: S 97 rows, odd V
        linear(1, 1, 24, 2);     // the q head at batch 1: one row
        linear(2, 916, 16, 13);
        tokenMixShapes();
        swiglu(97, 37);
        swiglu(1, 13 * 24);  // the token mixer's: one batch row, gate and up blocks of I_S D
        // fused gemm_swiglu / gemm_mix_swiglu on the emulated device under auto, except where noted
        linearSwiglu(97, 24, 40);
        linearSwiglu(916, 16, 24);  // 14 row tiles of 64, then 20 rows
        linearSwiglu(97, 20, 36);   // D, I not multiples of 8: cuBLAS + swiglu_forward
        linearSwiglu(916, 64, 40);  // above the emulated fused limit: cuBLAS + swiglu_forward
        tokenMixSwiglu(1, 97, 16, 49);
        tokenMixSwiglu(1, 916, 8, 13);
        tokenMixSwiglu(1, 97, 12, 20);  // D not a multiple of 8: cuBLAS + swiglu_forward
        tokenMixSwiglu(2, 97, 64, 49);  // above the emulated fused limit: cuBLAS + swiglu_forward
        norms(1, 97, 24);
        norms(2, 916, 8);
        slices(1, 16, 81, 24);
        slices(1, 1, 96, 24);
        slices(2, 16, 900, 8);
        losses(1, 81, 11);
        losses(2, 900, 13);  // 900 tokens per row of 256 threads; row 1 has no valid label
        losses(2, 40, 37);   // V past a warp: each lane owns two logits, the gradient written over them too
        qHead(1, 16, 81, 24);
        qHead(37, 1, 96, 72);  // D past two column blocks of the backward; 37 slots over the forward's warps
        embedding(1, 96, 1, 8, 13, 2);
        embedding(1, 81, 16, 24, 11, 3);
        embedding(3, 900, 16, 8, 13, 5);   // 2700 token rows: 11 chunks of 256, the last one partial
        embedding(73, 900, 16, 8, 11, 7);  // 65700 token rows: 256 chunks of 257, the last one partial
        optimizers(1);
        optimizers(262147);
        groupOptimizers(1, 97, 262147);
        supervisionState(1, 81, 97, 24, 11);
        supervisionState(300, 9, 25, 8, 11);  // train_metrics is one block of 256 threads
        supervisionState(1, 900, 916, 8, 6);
        solveState(1, 900, 11, 1);
        solveState(300, 81, 11, 4);
        ropeTables(916, 64);
        // the attention backward keeps no scratch (delta is computed in the kernel)
        attention(1, 97, 1, 64);   // the tensor-core kernels (tiles of 64), unless -Dtrm.attention.tc=false
        attention(1, 129, 1, 64);  // two full tiles of 64, then one row
        attention(1, 97, 2, 6);    // the CUDA-core kernels (tiles of 32)
        attention(2, 129, 3, 16);
        attention(1, 916, 1, 8);   // the longest sequence, at a head size the emulator runs quickly
        // fused gemm_mix_norm on the emulated device under auto, except where noted (last: the draws before stay)
        tokenMixNorm(1, 97, 16, 48);
        tokenMixNorm(3, 176, 8, 8);    // the most rows gemm_mix_norm takes
        tokenMixNorm(1, 177, 8, 8);    // one row more: cuBLAS + rmsnorm_seq_forward
        tokenMixNorm(1, 97, 12, 16);   // D not a multiple of 8: cuBLAS + rmsnorm_seq_forward
        tokenMixNorm(1, 97, 16, 20);   // I not a multiple of 8: cuBLAS + rmsnorm_seq_forward
        tokenMixNorm(2, 97, 64, 48);   // above the emulated fused limit: cuBLAS + rmsnorm_seq_forward
    }

    /**
     * The token mixer's GEMMs at awkward S, in increasing need of the weight-gradient scratch. With GpuBackend's
     * alignment on (-Dtrm.gemm.align, the default) a weight of S = 97, 131 or 916 columns (rows of 194, 262, 1832
     * bytes) is read from its padded copy (pitch 104, 136, 920) and its gradient products land on a padded fp32 pitch
     * (100, 132; 916 is aligned) that sum_batches compacts; with it off, everything on the plain pitch.
     */
    void tokenMixShapes() {
        tokenMix(3, 16, 40, 8);     // S aligned: nothing padded
        tokenMix(1, 97, 131, 24);   // odd S in and out; one batch row in the weight-gradient scratch
        tokenMix(3, 131, 97, 8);
        tokenMix(2, 97, 1024, 16);  // Sudoku-MLP's gate_up weight [2I_S, S] = [1024, 97]
        tokenMix(20, 916, 916, 2);  // dw products of 916 x 916 per batch row: 19 fit the scratch, then 1 more
        tokenMix(165, 97, 1024, 2); // on the padded pitch 100: 163 batch rows fit the scratch, then 2 more, compacted
    }

    /**
     * {@link #tokenMixShapes} on a backend of the kind opened with -Dtrm.gemm.align=false (read at open): the
     * unpadded GEMMs and sum_batches still match the CPU backend, and no operand was padded.
     */
    static void tokenMixShapesUnaligned(dev.trm.gpu.Backend kind) {
        String before = System.getProperty(GpuBackend.GEMM_ALIGN);
        System.setProperty(GpuBackend.GEMM_ALIGN, "false");
        GpuBackend opened;
        try {
            opened = GpuBackend.open(kind);
        } finally {
            if (before == null) System.clearProperty(GpuBackend.GEMM_ALIGN);
            else System.setProperty(GpuBackend.GEMM_ALIGN, before);
        }
        try (GpuBackend gpu = opened) {
            new GpuOpsParity(gpu).tokenMixShapes();
            assertTrue(gpu.paddedGemmOperands == 0, gpu.paddedGemmOperands + " operands padded with the switch off");
        }
    }

    /** After {@link #tokenMixShapes} with the switch at its default (on): the misaligned weights were padded. */
    static void assertPadded(GpuBackend gpu) {
        if (!"false".equals(System.getProperty(GpuBackend.GEMM_ALIGN))) {
            assertTrue(gpu.paddedGemmOperands > 0, "no GEMM operand was padded at S = 97");
        }
    }

    void elementwise(int b, int seq, int d, int[] slots) {
        Pair a = act(1, b, seq, d), bb = act(1, b, seq, d), c = act(1, b, seq, d), out = outAct(b, seq, d);
        String at = " [" + b + ", " + seq + ", " + d + "]";
        cpu.add(a.c(), bb.c(), c.c(), out.c());
        gpu.add(a.g(), bb.g(), c.g(), out.g());
        close("add3" + at, out);
        cpu.add(a.c(), bb.c(), null, a.c());
        gpu.add(a.g(), bb.g(), null, a.g());
        close("add (in place)" + at, a);
        Pair acc = f32(1, b, seq, d);
        cpu.accumulate(acc.c(), bb.c());
        gpu.accumulate(acc.g(), bb.g());
        close("accumulate f32 += bf16" + at, acc);
        Pair row = f32(1, d), dst = outAct(b, seq, d);
        cpu.broadcastRow(row.c(), dst.c());
        gpu.broadcastRow(row.g(), dst.g());
        close("broadcastRow" + at, dst);
        Pair row2 = f32(1, d);
        cpu.broadcastRowToSlots(row2.c(), dst.c(), slots);
        gpu.broadcastRowToSlots(row2.g(), dst.g(), slots);
        close("broadcastRowToSlots" + at, dst);
        Pair cp = outAct(b, seq, d), wide = outF32(b, seq, d);
        cpu.copy(dst.c(), cp.c());
        gpu.copy(dst.g(), cp.g());
        close("copy" + at, cp);
        cpu.copy(dst.c(), wide.c());
        gpu.copy(dst.g(), wide.g());
        close("copy bf16 -> f32" + at, wide);
    }

    /** broadcastRowToSlots grows its slot-list scratch (first made for 64 slots) to 70 of 97 slots. */
    void slotsPastTheSlotList() {
        Pair row = f32(1, 5), dst = act(1, 97, 3, 5);
        int[] many = new int[70];
        for (int i = 0; i < many.length; i++) many[i] = i * 7 % 97;  // distinct: 7 and 97 are coprime
        for (int[] slots : new int[][] {{96, 0, 50}, many}) {
            cpu.broadcastRowToSlots(row.c(), dst.c(), slots);
            gpu.broadcastRowToSlots(row.g(), dst.g(), slots);
            close("broadcastRowToSlots " + slots.length + " of 97", dst);
        }
    }

    /** writeAsync / writeIntsAsync through the two pinned staging slots (sized per tensor), at odd sizes. */
    void uploads() {
        for (int n : new int[] {1, 97 * 3}) {
            Pair t = f32(0, n);
            IntTensor ig = gpu.intTensor(n);
            for (int round = 0; round < 3; round++) {  // slot 0, slot 1, slot 0 again
                float[] v = cpu.read(f32(1, n).c());
                int[] iv = new int[n];
                for (int i = 0; i < n; i++) iv[i] = rnd.nextInt();
                cpu.write(t.c(), v);
                gpu.writeAsync(t.g(), v);
                gpu.writeIntsAsync(ig, iv);
                close("writeAsync n " + n, t);
                assertTrue(java.util.Arrays.equals(iv, gpu.readInts(ig)), "writeIntsAsync n " + n);
            }
        }
    }

    void linear(int b, int seq, int k, int n) {
        String at = " [" + b + ", " + seq + ", " + k + "] x [" + n + ", " + k + "]^T";
        Pair x = act(1, b, seq, k), w = f32(0.2, n, k), bias = f32(1, n), y = outAct(b, seq, n);
        cpu.linear(x.c(), w.c(), null, y.c());
        gpu.linear(x.g(), w.g(), null, y.g());
        close("linear" + at, y);
        Pair q = outF32(b, seq, n);
        cpu.linear(x.c(), w.c(), bias.c(), q.c());
        gpu.linear(x.g(), w.g(), bias.g(), q.g());
        close("linear + bias, fp32 out" + at, q);
        Pair dy = act(1, b, seq, n), dx = act(1, b, seq, k), dw = f32(1, n, k), db = f32(1, n);
        cpu.linearBackward(x.c(), w.c(), dy.c(), dx.c(), true, dw.c(), db.c());
        gpu.linearBackward(x.g(), w.g(), dy.g(), dx.g(), true, dw.g(), db.g());
        close("linearBackward dx (+=)" + at, dx);
        close("linearBackward dw" + at, dw);
        close("linearBackward dbias" + at, db);
        Pair dq = f32(1, b, seq, n), dx2 = outAct(b, seq, k);
        cpu.linearBackward(x.c(), w.c(), dq.c(), dx2.c(), false, dw.c(), null);
        gpu.linearBackward(x.g(), w.g(), dq.g(), dx2.g(), false, dw.g(), null);
        close("linearBackward fp32 dy" + at, dx2);
        close("linearBackward fp32 dy dw" + at, dw);
        // the weight's bf16 copy follows a write of the weight
        float[] nw = cpu.read(f32(0.2, n, k).c());
        cpu.write(w.c(), nw);
        gpu.write(w.g(), nw);
        cpu.linear(x.c(), w.c(), null, y.c());
        gpu.linear(x.g(), w.g(), null, y.g());
        close("linear after weight write" + at, y);
    }

    /** y[b] [n, d] = w [n, sin] x[b] [sin, d], and its backward with dx accumulated and assigned. */
    void tokenMix(int b, int sin, int n, int d) {
        String at = " B " + b + ", S " + sin + " -> " + n + ", D " + d;
        Pair w = f32(0.3, n, sin), x = act(1, b, sin, d), y = outAct(b, n, d);
        cpu.tokenMix(w.c(), x.c(), y.c());
        gpu.tokenMix(w.g(), x.g(), y.g());
        close("tokenMix" + at, y);
        Pair dy = act(1, b, n, d), dx = act(1, b, sin, d), dw = f32(1, n, sin);
        cpu.tokenMixBackward(w.c(), x.c(), dy.c(), dx.c(), true, dw.c());
        gpu.tokenMixBackward(w.g(), x.g(), dy.g(), dx.g(), true, dw.g());
        close("tokenMixBackward dx (+=)" + at, dx);
        close("tokenMixBackward dw" + at, dw);
        Pair dx2 = outAct(b, sin, d);
        cpu.tokenMixBackward(w.c(), x.c(), dy.c(), dx2.c(), false, dw.c());
        gpu.tokenMixBackward(w.g(), x.g(), dy.g(), dx2.g(), false, dw.g());
        close("tokenMixBackward dx (=)" + at, dx2);
        close("tokenMixBackward dw (twice)" + at, dw);
    }

    /** gu [rows, 2 inter] -> out [rows, inter], and back. */
    void swiglu(int rows, int inter) {
        String at = " rows " + rows + ", I " + inter;
        Pair gu = act(1, rows, 2 * inter), out = outAct(rows, inter), dout = act(1, rows, inter);
        Pair dgu = outAct(rows, 2 * inter);
        cpu.swiglu(gu.c(), out.c(), inter);
        gpu.swiglu(gu.g(), out.g(), inter);
        close("swiglu" + at, out);
        cpu.swigluBackward(gu.c(), dout.c(), dgu.c(), null, inter);
        gpu.swigluBackward(gu.g(), dout.g(), dgu.g(), null, inter);
        close("swigluBackward" + at, dgu);
        Pair again = outAct(rows, inter);   // with the activation recomputed, as the network's backward asks
        cpu.swigluBackward(gu.c(), dout.c(), dgu.c(), again.c(), inter);
        gpu.swigluBackward(gu.g(), dout.g(), dgu.g(), again.g(), inter);
        close("swigluBackward (recompute) dgu" + at, dgu);
        close("swigluBackward (recompute) out" + at, again);
        // in place, as the network's backward runs it (out = dout, one buffer): the same bits on the device
        float[] recomputed = gpu.read(again.g()), dguSeparate = gpu.read(dgu.g());
        gpu.copy(dout.g(), again.g());
        float[] nan = new float[dguSeparate.length];
        java.util.Arrays.fill(nan, Float.NaN);
        gpu.write(dgu.g(), nan);
        gpu.swigluBackward(gu.g(), again.g(), dgu.g(), again.g(), inter);
        assertArrayEquals(dguSeparate, gpu.read(dgu.g()), "swigluBackward (in place) dgu" + at);
        assertArrayEquals(recomputed, gpu.read(again.g()), "swigluBackward (in place) out" + at);
    }

    /**
     * The channel MLP's gate_up GEMM + SwiGLU through the backend's dispatch (on the emulated device under auto: the
     * fused gemm_swiglu up to 2^19 multiply-adds where D and I are multiples of 8; -Dtrm.swiglu.fused=false: cuBLAS +
     * swiglu_forward), keeping gu and not; x [m, d], w [2 inter, d]. In runAll M = 21 (a partial row tile), D = 40 (a
     * partial k-tile), I = 48 (a partial column tile). Not keeping gu, only h is compared.
     */
    void linearSwiglu(int m, int d, int inter) {
        String at = " M " + m + ", D " + d + ", I " + inter;
        Pair x = act(1, m, d), w = f32(0.3, 2 * inter, d);
        Pair gu = outAct(m, 2 * inter), h = outAct(m, inter);
        cpu.linearSwiglu(x.c(), w.c(), gu.c(), true, h.c(), inter);
        gpu.linearSwiglu(x.g(), w.g(), gu.g(), true, h.g(), inter);
        close("linearSwiglu gu (kept)" + at, gu);
        close("linearSwiglu h" + at, h);
        Pair h2 = outAct(m, inter);
        cpu.linearSwiglu(x.c(), w.c(), gu.c(), false, h2.c(), inter);
        gpu.linearSwiglu(x.g(), w.g(), gu.g(), false, h2.g(), inter);
        close("linearSwiglu h (gu not kept)" + at, h2);
    }

    /**
     * The token mixer's gate_up GEMM + SwiGLU through the backend's dispatch (on the emulated device under auto: the
     * fused gemm_mix_swiglu up to 2^19 multiply-adds where D is a multiple of 8; -Dtrm.swiglu.fused=false: cuBLAS +
     * swiglu_forward), keeping gu and not: w [2 inter, seq], x [b, seq, d]. In runAll B = 3, S = 13 (odd, under one
     * WMMA k step), D = 40 (a partial column tile), I = 24 (a partial row tile).
     */
    void tokenMixSwiglu(int b, int seq, int d, int inter) {
        String at = " B " + b + ", S " + seq + ", D " + d + ", I " + inter;
        Pair w = f32(0.3, 2 * inter, seq), x = act(1, b, seq, d);
        Pair gu = outAct(b, 2 * inter, d), h = outAct(b, inter, d);
        cpu.tokenMixSwiglu(w.c(), x.c(), gu.c(), true, h.c(), inter);
        gpu.tokenMixSwiglu(w.g(), x.g(), gu.g(), true, h.g(), inter);
        close("tokenMixSwiglu gu (kept)" + at, gu);
        close("tokenMixSwiglu h" + at, h);
        Pair h2 = outAct(b, inter, d);
        cpu.tokenMixSwiglu(w.c(), x.c(), gu.c(), false, h2.c(), inter);
        gpu.tokenMixSwiglu(w.g(), x.g(), gu.g(), false, h2.g(), inter);
        close("tokenMixSwiglu h (gu not kept)" + at, h2);
    }

    /**
     * The token mixer's down GEMM + residual + sequence-axis RMSNorm through the backend's dispatch (on the emulated
     * device under auto: the fused gemm_mix_norm up to 2^19 multiply-adds where S <= 176 and D, I are multiples of 8;
     * -Dtrm.mixnorm.fused=false (or trm.swiglu.fused=false): cuBLAS + rmsnorm_seq_forward): w [seq, inter], x [b,
     * inter, d], residual [b, seq, d]. In runAll B = 3, S = 13 (under one row tile), D = 40 (a partial column tile),
     * I = 24 (a partial k-tile). The scratch is workspace: not compared.
     */
    void tokenMixNorm(int b, int seq, int d, int inter) {
        String at = " B " + b + ", S " + seq + ", D " + d + ", I " + inter;
        Pair w = f32(0.3, seq, inter), x = act(1, b, inter, d), res = act(1, b, seq, d);
        Pair scratch = outAct(b, seq, d), out = outAct(b, seq, d), rstd = outF32(b, d);
        cpu.tokenMixNorm(w.c(), x.c(), res.c(), scratch.c(), out.c(), rstd.c(), 1e-5f);
        gpu.tokenMixNorm(w.g(), x.g(), res.g(), scratch.g(), out.g(), rstd.g(), 1e-5f);
        close("tokenMixNorm out" + at, out);
        close("tokenMixNorm rstd" + at, rstd);
    }

    /** The RoPE tables as each backend builds them (angles in double, rounded once). */
    void ropeTables(int seq, int hd) {
        RopeTables rc = cpu.rope(seq, hd, 10000), rg = gpu.rope(seq, hd, 10000);
        close("rope cos S " + seq + ", hd " + hd, cpu.read(rc.cos()), gpu.read(rg.cos()));
        close("rope sin S " + seq + ", hd " + hd, cpu.read(rc.sin()), gpu.read(rg.sin()));
    }

    /**
     * Attention through the backend's dispatch: at head size 64 the tensor-core kernels (attention_tc.cu, tiles of
     * 64) unless -Dtrm.attention.tc=false, else the CUDA-core ones (tiles of 32); with and without RoPE. In runAll
     * S = 70 at hd 64: two 64-row tiles (the second partial), three 32-row tiles. Each backend runs the backward from
     * its own out and lse, as training does.
     */
    void attention(int b, int seq, int heads, int hd) {
        int dim = heads * hd;
        for (boolean withRope : new boolean[] {true, false}) {
            Pair qkv = act(1, b, seq, 3 * dim), out = outAct(b, seq, dim), lse = outF32(b, heads, seq);
            Pair dout = act(1, b, seq, dim), dqkv = outAct(b, seq, 3 * dim);
            RopeTables rc = withRope ? cpu.rope(seq, hd, 10000) : null;
            RopeTables rg = withRope ? gpu.rope(seq, hd, 10000) : null;
            String tag = " B " + b + ", S " + seq + ", H " + heads + ", hd " + hd + (withRope ? ", RoPE" : "");
            cpu.attention(qkv.c(), out.c(), lse.c(), rc);
            gpu.attention(qkv.g(), out.g(), lse.g(), rg);
            close("attention" + tag, out);
            close("attention lse" + tag, lse);
            cpu.attentionBackward(qkv.c(), out.c(), lse.c(), dout.c(), dqkv.c(), rc);
            gpu.attentionBackward(qkv.g(), out.g(), lse.g(), dout.g(), dqkv.g(), rg);
            close("attentionBackward" + tag, dqkv);
        }
    }

    /** The norms over D (rows b seq) and over the sequence axis, x [b, seq, d]. */
    void norms(int b, int seq, int d) {
        String at = " [" + b + ", " + seq + ", " + d + "]";
        Pair x = act(1, b, seq, d), r = act(1, b, seq, d), out = outAct(b, seq, d), rstd = outF32(b * seq);
        cpu.rmsNorm(x.c(), r.c(), out.c(), rstd.c(), 1e-5f);
        gpu.rmsNorm(x.g(), r.g(), out.g(), rstd.g(), 1e-5f);
        close("rmsNorm" + at, out);
        close("rmsNorm rstd" + at, rstd);
        for (boolean withB : new boolean[] {true, false}) {
            Pair a = act(1, b, seq, d), bb = act(1, b, seq, d), o2 = outAct(b, seq, d), r2 = outF32(b * seq);
            Pair next = outAct(b, seq, d);
            cpu.rmsNormInject(x.c(), r.c(), o2.c(), r2.c(), 1e-5f, a.c(), withB ? bb.c() : null, next.c());
            gpu.rmsNormInject(x.g(), r.g(), o2.g(), r2.g(), 1e-5f, a.g(), withB ? bb.g() : null, next.g());
            close("rmsNormInject out" + at, o2);
            close("rmsNormInject next" + (withB ? " (+a+b)" : " (+a)") + at, next);
        }
        Pair dout = act(1, b, seq, d), dh = outAct(b, seq, d);
        // backward from the GPU's own saved output (bf16) on both sides
        cpu.write(out.c(), gpu.read(out.g()));
        cpu.rmsNormBackward(out.c(), rstd.c(), dout.c(), dh.c());
        gpu.rmsNormBackward(out.g(), rstd.g(), dout.g(), dh.g());
        close("rmsNormBackward" + at, dh);
        Pair g = act(1, b, seq, d);  // in place, as the model calls it: dh = dout
        cpu.rmsNormBackward(out.c(), rstd.c(), g.c(), g.c());
        gpu.rmsNormBackward(out.g(), rstd.g(), g.g(), g.g());
        close("rmsNormBackward (in place)" + at, g);
        Pair rs = outF32(b, d), os = outAct(b, seq, d), dh2 = outAct(b, seq, d);
        cpu.rmsNormSeq(x.c(), r.c(), os.c(), rs.c(), 1e-5f);
        gpu.rmsNormSeq(x.g(), r.g(), os.g(), rs.g(), 1e-5f);
        close("rmsNormSeq" + at, os);
        close("rmsNormSeq rstd" + at, rs);
        cpu.write(os.c(), gpu.read(os.g()));
        cpu.rmsNormSeqBackward(os.c(), rs.c(), dout.c(), dh2.c());
        gpu.rmsNormSeqBackward(os.g(), rs.g(), dout.g(), dh2.g());
        close("rmsNormSeqBackward" + at, dh2);
        cpu.rmsNormSeqBackward(os.c(), rs.c(), g.c(), g.c());
        gpu.rmsNormSeqBackward(os.g(), rs.g(), g.g(), g.g());
        close("rmsNormSeqBackward (in place)" + at, g);
    }

    /**
     * y [b, p + len, d]: the task positions after a puzzle prefix of p (the lm head's input) and prefix slot 0 (the q
     * head's), and their backward into one gradient.
     */
    void slices(int b, int p, int len, int d) {
        String at = " B " + b + ", P " + p + ", L " + len + ", D " + d;
        Pair y = act(1, b, p + len, d), tail = outAct(b, len, d), head = outAct(b, 1, d);
        cpu.sliceSeq(y.c(), p, tail.c());
        gpu.sliceSeq(y.g(), p, tail.g());
        close("sliceSeq tail" + at, tail);
        cpu.sliceSeq(y.c(), 0, head.c());
        gpu.sliceSeq(y.g(), 0, head.g());
        close("sliceSeq slot 0" + at, head);
        Pair g = act(1, b, p + len, d);
        cpu.sliceSeqBackward(tail.c(), p, g.c());
        gpu.sliceSeqBackward(tail.g(), p, g.g());
        cpu.sliceSeqBackward(head.c(), 0, g.c());
        gpu.sliceSeqBackward(head.g(), 0, g.g());
        close("sliceSeqBackward (+=)" + at, g);
    }

    /** Token loss over logits [b, len, v] (every fifth label ignored; all of row 1 when there is one), halting BCE. */
    void losses(int b, int len, int v) {
        String at = " B " + b + ", L " + len + ", V " + v;
        int[] labels = new int[b * len];
        for (int i = 0; i < labels.length; i++) labels[i] = i % 5 == 0 || i / len == 1 ? -100 : rnd.nextInt(v);
        IntPair lab = ints(labels, b, len);
        for (boolean stablemax : new boolean[] {true, false}) {
            Pair logits = act(2, b, len, v), per = outF32(b), dl = outAct(b, len, v);
            IntPair correct = intOut(b), tokens = intOut(b);
            cpu.crossEntropy(logits.c(), lab.c(), stablemax, 0.5, per.c(), correct.c(), tokens.c(), dl.c());
            gpu.crossEntropy(logits.g(), lab.g(), stablemax, 0.5, per.g(), correct.g(), tokens.g(), dl.g());
            String name = stablemax ? "stablemax" : "softmax";
            close(name + " loss" + at, per);
            close(name + " dlogits" + at, dl);
            same(name + " seqCorrect" + at, correct);
            same(name + " tokensCorrect" + at, tokens);
            IntPair tokensInPlace = intOut(b);
            cpu.crossEntropy(logits.c(), lab.c(), stablemax, 0.5, per.c(), correct.c(), tokensInPlace.c(), logits.c());
            gpu.crossEntropy(logits.g(), lab.g(), stablemax, 0.5, per.g(), correct.g(), tokensInPlace.g(), logits.g());
            close(name + " dlogits (over the logits)" + at, logits);
            same(name + " tokensCorrect (over the logits)" + at, tokensInPlace);
            assertTrue(java.util.Arrays.equals(cpu.readInts(tokens.c()), cpu.readInts(tokensInPlace.c())),
                    "tokensCorrect is counted before the gradient overwrites the logits" + at);
        }
        int[] targets = new int[b];
        for (int i = 0; i < b; i++) targets[i] = rnd.nextInt(2);
        Pair q = f32(3, b, 1, 2), loss = outF32(b), dq = outF32(b, 1, 2);
        IntPair target = ints(targets, b);
        cpu.haltingBce(q.c(), target.c(), 0.25, loss.c(), dq.c());
        gpu.haltingBce(q.g(), target.g(), 0.25, loss.g(), dq.g());
        close("haltingBce loss B " + b, loss);
        close("haltingBce dq B " + b, dq);
    }

    /**
     * The q head on slot 0 of y [b, p + len, d] and its halting loss + backward ({@link Backend#qHead},
     * {@link Backend#haltingBceBackward}: one kernel each on the GPU, which reads y in place and leaves the workspace
     * y0, dy0 alone; the default slice + linear and haltingBce + linearBackward + sliceSeqBackward on the CPU). The
     * backward runs on the CPU's q on both, so that dq is the backward's own; dw, dbias and g accumulate from random
     * values (g small, so that slot 0's gradient sets its scale).
     */
    void qHead(int b, int p, int len, int d) {
        String at = " B " + b + ", P " + p + ", L " + len + ", D " + d;
        Pair y = act(1, b, p + len, d), w = f32(0.3, 2, d), bias = f32(1, 2), q = outF32(b, 1, 2);
        Pair y0 = outAct(b, 1, d), dy0 = outAct(b, 1, d);
        cpu.qHead(y.c(), w.c(), bias.c(), y0.c(), q.c());
        gpu.qHead(y.g(), w.g(), bias.g(), y0.g(), q.g());
        close("qHead" + at, q);
        gpu.write(q.g(), cpu.read(q.c()));
        int[] targets = new int[b];
        for (int i = 0; i < b; i++) targets[i] = rnd.nextInt(2);
        IntPair target = ints(targets, b);
        Pair loss = outF32(b), dq = outF32(b, 1, 2), dw = f32(0.1, 2, d), dbias = f32(0.1, 2), g = act(0.02, b, p + len, d);
        cpu.haltingBceBackward(q.c(), target.c(), 0.25, loss.c(), dq.c(), y.c(), w.c(), dw.c(), dbias.c(), g.c(),
                y0.c(), dy0.c());
        gpu.haltingBceBackward(q.g(), target.g(), 0.25, loss.g(), dq.g(), y.g(), w.g(), dw.g(), dbias.g(), g.g(),
                y0.g(), dy0.g());
        close("haltingBceBackward loss" + at, loss);
        close("haltingBceBackward dq" + at, dq);
        close("haltingBceBackward dw (+=)" + at, dw);
        close("haltingBceBackward dbias (+=)" + at, dbias);
        close("haltingBceBackward g (+= into slot 0)" + at, g);
    }

    /**
     * The input embedding, x [b, p + len, d] from tokens [b, len] over a vocabulary of v and a puzzle table of ids
     * rows; its backward (whose per-chunk partial sums GpuBackend sizes) and the puzzle table's sign-SGD step.
     */
    void embedding(int b, int len, int p, int d, int v, int ids) {
        String at = " B " + b + ", L " + len + ", P " + p + ", D " + d + ", V " + v;
        int[] tokens = new int[b * len];
        for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(v);
        int[] pid = new int[b];
        for (int i = 0; i < b; i++) pid[i] = i % 2 == 0 ? ids - 1 : rnd.nextInt(ids);  // repeated ids
        IntPair tok = ints(tokens, b, len), id = ints(pid, b);
        Pair embed = f32(0.3, v, d), table = f32(0.3, ids, d), x = outAct(b, len + p, d);
        cpu.embed(tok.c(), id.c(), embed.c(), table.c(), x.c(), 3.5f);
        gpu.embed(tok.g(), id.g(), embed.g(), table.g(), x.g(), 3.5f);
        close("embed" + at, x);
        // the step's first injected input z + y + x, written with x (GpuBackend: in the same kernel)
        Pair z = act(1, b, len + p, d), y = act(1, b, len + p, d), x2 = outAct(b, len + p, d), next = outAct(b, len + p, d);
        cpu.embedInject(tok.c(), id.c(), embed.c(), table.c(), x2.c(), 3.5f, z.c(), y.c(), next.c());
        gpu.embedInject(tok.g(), id.g(), embed.g(), table.g(), x2.g(), 3.5f, z.g(), y.g(), next.g());
        close("embedInject x" + at, x2);
        close("embedInject next" + at, next);
        Pair dx = f32(1, b, len + p, d), de = f32(1, v, d), dp = outF32(b, d);
        cpu.embedBackward(tok.c(), dx.c(), de.c(), dp.c(), 3.5f);
        gpu.embedBackward(tok.g(), dx.g(), de.g(), dp.g(), 3.5f);
        close("embedBackward dEmbed" + at, de);
        close("embedBackward dPuzzle" + at, dp);
        cpu.puzzleSignSgd(table.c(), id.c(), dp.c(), 0.01, 0.1);
        gpu.puzzleSignSgd(table.g(), id.g(), dp.g(), 0.01, 0.1);
        close("puzzleSignSgd" + at, table);
    }

    void optimizers(int n) {
        Pair p = f32(0.5, n), g = f32(1, n), m = f32(0.1, n), v = f32(0, n), x = act(1, 2, n), y = outAct(2, 1);
        // p also serves as a GEMM weight, so the optimizer must refresh its bf16 copy
        Pair w = new Pair(cpu.tensor(1, n), gpu.tensor(1, n));
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
        close("adamAtan2 n " + n, p);
        close("adamAtan2 m n " + n, m);
        cpu.linear(x.c(), w.c(), null, y.c());
        gpu.linear(x.g(), w.g(), null, y.g());
        close("linear after adamAtan2 n " + n, y);
        Pair shadow = f32(0.5, n);
        cpu.ema(shadow.c(), p.c(), 0.999);
        gpu.ema(shadow.g(), p.g(), 0.999);
        close("ema n " + n, shadow);
        // the shadow of a GEMM weight gets a bf16 copy of its own, which evaluation multiplies by
        Pair shadowW = f32(0.5, 1, n);
        cpu.ema(shadowW.c(), w.c(), 0.9);
        gpu.ema(shadowW.g(), w.g(), 0.9);
        cpu.linear(x.c(), shadowW.c(), null, y.c());
        gpu.linear(x.g(), shadowW.g(), null, y.g());
        close("linear by an ema shadow n " + n, y);
    }

    /**
     * The forms a captured training step uses: adamAtan2All and emaAll over one group of tensors of these sizes (on
     * the GPU one launch over a device-side table that GpuBackend sizes), and the schedule-row forms of adamAtan2 and
     * puzzleSignSgd, with the step's scalars read from a schedule tensor [lr, 1 - beta1^t, 1 - beta2^t, puzzle lr, t].
     */
    void groupOptimizers(int... sizes) {
        int n = sizes.length;
        Pair[][] f = new Pair[5][n];  // p, g, m, v, shadow
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 5; k++) f[k][i] = f32(k == 3 ? 0 : 0.5, sizes[i]);
            cpu.write(f[3][i].c(), abs(cpu.read(f32(0.1, sizes[i]).c())));
            gpu.write(f[3][i].g(), cpu.read(f[3][i].c()));
        }
        Tensor[][] c = new Tensor[5][n], g = new Tensor[5][n];
        for (int k = 0; k < 5; k++) {
            for (int i = 0; i < n; i++) {
                c[k][i] = f[k][i].c();
                g[k][i] = f[k][i].g();
            }
        }
        String at = " sizes " + java.util.Arrays.toString(sizes);
        Pair sched = f32(0, Backend.SCHEDULE_FIELDS);
        for (int t = 1; t <= 2; t++) {
            float[] row = {1e-3f, (float) (1 - Math.pow(0.9, t)), (float) (1 - Math.pow(0.95, t)), 0.01f, t};
            cpu.write(sched.c(), row);
            gpu.write(sched.g(), row);
            cpu.adamAtan2All(c[0], c[1], c[2], c[3], sched.c(), 0.1, 0.9, 0.95);
            gpu.adamAtan2All(g[0], g[1], g[2], g[3], sched.g(), 0.1, 0.9, 0.95);
            cpu.emaAll(c[4], c[0], 0.99);
            gpu.emaAll(g[4], g[0], 0.99);
        }
        for (int i = 0; i < n; i++) {
            close("adamAtan2All p" + i + at, f[0][i]);
            close("adamAtan2All v" + i + at, f[3][i]);
            close("emaAll shadow" + i + at, f[4][i]);
        }
        Pair p = f[0][n - 1];
        cpu.adamAtan2(p.c(), f[1][n - 1].c(), f[2][n - 1].c(), f[3][n - 1].c(), sched.c(), 0.1, 0.9, 0.95);
        gpu.adamAtan2(p.g(), f[1][n - 1].g(), f[2][n - 1].g(), f[3][n - 1].g(), sched.g(), 0.1, 0.9, 0.95);
        close("adamAtan2 (schedule row) n " + sizes[n - 1], p);
        int b = 3, d = 7;
        Pair table = f32(0.3, 5, d), grads = f32(1, b, d);
        IntPair slots = ints(new int[] {4, 0, 4}, b);
        cpu.puzzleSignSgd(table.c(), slots.c(), grads.c(), sched.c(), 0.1);
        gpu.puzzleSignSgd(table.g(), slots.g(), grads.g(), sched.g(), 0.1);
        close("puzzleSignSgd (schedule row)", table);
    }

    /**
     * Slot refill, halting and the metrics ring at batch b (every other slot halted), tasks of len positions over a
     * vocabulary of v, carry [b, seq, d]: the GPU kernels against the CPU backend's host versions.
     */
    void supervisionState(int b, int len, int seq, int d, int v) {
        String at = " B " + b + ", L " + len + ", S " + seq + ", D " + d + ", V " + v;
        int maxSteps = 4;
        int[] halted = new int[b], steps = new int[b], min = new int[b];
        for (int i = 0; i < b; i++) {
            halted[i] = i % 2 == 0 ? 1 : 0;
            steps[i] = rnd.nextInt(maxSteps + 1);
            min[i] = rnd.nextInt(maxSteps + 1);
        }
        // fresh inputs, fresh labels, inputs, labels [b, len]; fresh ids, ids [b]; labels include -1 (ignored)
        int[][] draws = new int[6][];
        for (int k = 0; k < 6; k++) {
            draws[k] = new int[k < 4 ? b * len : b];
            for (int i = 0; i < draws[k].length; i++) draws[k][i] = rnd.nextInt(v) - (k == 1 || k == 3 ? 1 : 0);
        }
        IntPair h = ints(halted, b), freshIn = ints(draws[0], b, len), freshLab = ints(draws[1], b, len);
        IntPair freshIds = ints(draws[4], b), in = ints(draws[2], b, len), lab = ints(draws[3], b, len);
        IntPair ids = ints(draws[5], b), st = ints(steps, b), minSteps = ints(min, b);
        Pair hInit = f32(1, d), lInit = f32(1, d), y = act(1, b, seq, d), z = act(1, b, seq, d);
        cpu.actRefill(h.c(), freshIn.c(), freshLab.c(), freshIds.c(), in.c(), lab.c(), ids.c(), st.c(), hInit.c(),
                lInit.c(), y.c(), z.c());
        gpu.actRefill(h.g(), freshIn.g(), freshLab.g(), freshIds.g(), in.g(), lab.g(), ids.g(), st.g(), hInit.g(),
                lInit.g(), y.g(), z.g());
        close("actRefill carry y" + at, y);
        close("actRefill carry z" + at, z);
        same("actRefill inputs" + at, in);
        same("actRefill labels" + at, lab);
        same("actRefill ids" + at, ids);
        same("actRefill steps" + at, st);
        Pair q = f32(1, b, 1, 2);
        cpu.actHalt(q.c(), minSteps.c(), st.c(), h.c(), maxSteps);
        gpu.actHalt(q.g(), minSteps.g(), st.g(), h.g(), maxSteps);
        same("actHalt steps" + at, st);
        same("actHalt halted" + at, h);
        int[] ok = new int[b];
        for (int i = 0; i < b; i++) ok[i] = rnd.nextInt(2);
        IntPair correct = ints(ok, b), cursor = ints(new int[] {7}, 1);
        int[] right = new int[b];
        for (int i = 0; i < b; i++) right[i] = rnd.nextInt(len + 1);   // at most the row's valid labels: any count
        IntPair tokens = ints(right, b);
        Pair per = f32(1, b), ql = f32(1, b), ring = f32(0, 3, Backend.METRIC_FIELDS);
        for (int k = 0; k < 4; k++) {  // wraps around the 3-row ring
            cpu.trainMetrics(tokens.c(), lab.c(), h.c(), st.c(), correct.c(), q.c(), per.c(), ql.c(), ring.c(),
                    cursor.c());
            gpu.trainMetrics(tokens.g(), lab.g(), h.g(), st.g(), correct.g(), q.g(), per.g(), ql.g(), ring.g(),
                    cursor.g());
        }
        close("trainMetrics ring" + at, ring);
        assertTrue(cpu.readInts(cursor.c())[0] == 11 && gpu.readInts(cursor.g())[0] == 11, "metrics cursor" + at);
    }

    /**
     * A solve's bookkeeping at batch b, answers [b, len] over a vocabulary of v, the GPU kernel against the CPU
     * backend's host version, over every step of a solve of `steps` with and without early halting: answers, recorded
     * q_halt values, step counts and halted flags all equal. q_halt is drawn per step with both signs, so with early
     * halting some slots end at each step and some run to the last; the logits are bf16-exact, so both argmaxes see
     * the same values.
     */
    void solveState(int b, int len, int v, int steps) {
        String at = " B " + b + ", L " + len + ", V " + v + ", " + steps + " steps";
        for (boolean early : new boolean[] {false, true}) {
            IntPair answers = intOut(b, len), used = intOut(b), halted = intOut(b);
            IntPair[] all = {answers, used, halted};
            for (IntPair p : all) {  // the GPU's start as poison: zero(IntTensor) must set them
                cpu.zero(p.c());
                gpu.zero(p.g());
            }
            Pair qHalts = f32(0, b, steps);
            for (int s = 0; s < steps; s++) {
                Pair logits = act(1, b, len, v), q = f32(1, b, 1, 2);
                cpu.solveRecord(logits.c(), q.c(), s, steps, early, answers.c(), qHalts.c(), used.c(), halted.c());
                gpu.solveRecord(logits.g(), q.g(), s, steps, early, answers.g(), qHalts.g(), used.g(), halted.g());
            }
            String tag = at + " (early halt " + early + ")";
            same("solveRecord answers" + tag, answers);
            same("solveRecord stepsUsed" + tag, used);
            same("solveRecord halted" + tag, halted);
            int[] u = cpu.readInts(used.c());
            float[] qc = cpu.read(qHalts.c()), qg = gpu.read(qHalts.g());
            for (int i = 0; i < b; i++) {
                assertTrue(u[i] >= 1 && u[i] <= steps, "slot " + i + " ended after " + u[i] + " steps" + tag);
                for (int s = 0; s < u[i]; s++) {
                    assertTrue(qc[i * steps + s] == qg[i * steps + s], "solveRecord qHalts slot " + i + " step " + s
                            + tag);
                }
            }
            if (!early) {
                assertTrue(java.util.Arrays.stream(u).allMatch(x -> x == steps), "without early halt all run" + tag);
            } else if (b * (steps - 1) >= 12) {  // at least 12 draws of q_halt that can end a slot early
                assertTrue(java.util.Arrays.stream(u).anyMatch(x -> x < steps), "no slot halted early: a weak check"
                        + tag);
            }
        }
    }

    private static float[] abs(float[] v) {
        for (int i = 0; i < v.length; i++) v[i] = Math.abs(v[i]);
        return v;
    }
}
