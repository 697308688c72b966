package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Tensor;
import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Backend;
import dev.trm.gpu.Blas;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The token mixer's fused gate_up GEMM + SwiGLU (gemm_mix_swiglu.cu) against the unfused path it replaces (the cuBLAS
 * strided-batched GEMM with bf16 gu, as GpuBackend.tokenMix, then swiglu_forward) and against the double reference,
 * at shapes that are no multiple of its 64 x 64 x 32 tiles, S odd (w's rows unaligned) and batch > 1; the kept gu in
 * the unfused path's layout; its shape constraints failing with a clear message; and GpuBackend's per-shape choice
 * (the same mechanism as linearSwiglu's, recorded under its own op). Kept small: the emulated device runs every WMMA
 * product on every lane.
 */
final class GemmMixSwigluCheck {
    private GemmMixSwigluCheck() {}

    static void check(Backend kind) {
        try (GpuDevice dev = GpuDevice.open(kind)) {
            fusedAgainstUnfused(dev, 2, 97, 24, 72);  // the preset's S: 4 k-tiles, the last 1 wide; 2 row tiles (64 + 8)
            fusedAgainstUnfused(dev, 3, 13, 136, 40); // S under one WMMA k step; 3 column tiles (the last 8 wide)
            constraints(dev);
        }
        try (GpuBackend be = GpuBackend.open(kind)) {
            choices(be, kind);
        }
    }

    /** gu [B, 2I, D] (per batch row gate block, then up block) and h [B, I, D] in double from the same bf16 inputs. */
    static double[][] reference(float[] w, float[] x, int batch, int seq, int d, int inter) {
        double[] wd = KernelSelftest.d(w), xd = KernelSelftest.d(x);
        double[] gu = new double[batch * 2 * inter * d], h = new double[batch * inter * d];
        for (int b = 0; b < batch; b++) {
            double[] xb = Arrays.copyOfRange(xd, b * seq * d, (b + 1) * seq * d), gb = new double[2 * inter * d];
            RefOps.gemm(false, false, 2 * inter, d, seq, 1.0, wd, seq, xb, d, 0.0, gb, d);
            System.arraycopy(gb, 0, gu, b * 2 * inter * d, gb.length);
        }
        RefOps.swigluForward(gu, h, batch, inter * d);
        return new double[][] {gu, h};
    }

    static void fusedAgainstUnfused(GpuDevice dev, int batch, int seq, int d, int inter) {
        Random rnd = new Random(batch * 131L + seq * 31L + d);
        float[] w = GemmSwigluCheck.bf(rnd, 2 * inter * seq, 0.3), x = GemmSwigluCheck.bf(rnd, batch * seq * d, 1.0);
        double[][] ref = reference(w, x, batch, seq, d, inter);
        double[] guRef = ref[0], hRef = ref[1];
        float[] sentinel = new float[guRef.length];
        Arrays.fill(sentinel, -3f);
        GpuKernels k = new GpuKernels(dev);
        Stream s = dev.defaultStream();
        try (Blas blas = dev.newBlas(s); DeviceBuffer bw = dev.alloc(DType.BF16, w.length).uploadBf16(w);
             DeviceBuffer bx = dev.alloc(DType.BF16, x.length).uploadBf16(x);
             DeviceBuffer guF = dev.alloc(DType.BF16, guRef.length); DeviceBuffer hF = dev.alloc(DType.BF16, hRef.length);
             DeviceBuffer guN = dev.alloc(DType.BF16, guRef.length).uploadBf16(sentinel);
             DeviceBuffer hN = dev.alloc(DType.BF16, hRef.length);
             DeviceBuffer guU = dev.alloc(DType.BF16, guRef.length); DeviceBuffer hU = dev.alloc(DType.BF16, hRef.length)) {
            k.gemmMixSwiglu(s, bw, bx, guF, hF, batch, seq, d, inter);
            k.gemmMixSwiglu(s, bw, bx, null, hN, batch, seq, d, inter);
            // as GpuBackend.tokenMix: gu[b] [2I, D] = w [2I, S] x[b] [S, D], w shared (stride 0); then swiglu_forward
            blas.gemmStridedBatched(s, false, false, 2 * inter, d, seq, 1f, bw, seq, 0, bx, d, (long) seq * d, 0f, guU,
                    d, 2L * inter * d, batch);
            k.swigluForward(s, guU, hU, batch, inter * d);
            s.synchronize();
            String shape = "B " + batch + ", S " + seq + ", D " + d + ", I " + inter;
            GemmSwigluCheck.assertFusedAgainstUnfused(dev.backend().label() + "] gemm_mix_swiglu", shape, hRef, guRef,
                    hF, guF, hU, hN, guN, sentinel);
            // same layout as the unfused gu (swiglu_backward reads it): element for element within two roundings
            double guVsUnfused = KernelSelftest.err(guF.downloadBf16(), KernelSelftest.d(guU.downloadBf16()));
            System.out.printf("[%s] gemm_mix_swiglu %s: fused gu vs unfused gu %.2e%n", dev.backend().label(), shape,
                    guVsUnfused);
            assertTrue(guVsUnfused <= 2 * KernelSelftest.TOL_ONE_ROUNDING, shape + ": fused gu vs unfused gu "
                    + guVsUnfused);
        }
    }

    static void constraints(GpuDevice dev) {
        GpuKernels k = new GpuKernels(dev);
        try (DeviceBuffer buf = dev.alloc(DType.BF16, 4096)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> k.gemmMixSwiglu(dev.defaultStream(), buf, buf, null, buf, 2, 5, 36, 8));
            assertTrue(e.getMessage().contains("gemm_mix_swiglu: D = 36 is not a multiple of 8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> k.gemmMixSwiglu(dev.defaultStream(), buf, buf, null, buf, 70000, 1, 8, 1));
            assertTrue(e.getMessage().contains("B = 70000 exceeds"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> k.gemmMixSwiglu(dev.defaultStream(), buf, buf, null, buf, 1, 0, 8, 8));
            assertTrue(e.getMessage().contains("empty shape"), e.getMessage());
        }
        // S and I need no alignment: only D does
        assertEquals(null, GpuKernels.gemmMixSwigluUnsupported(768, 97, 512, 512));
        assertEquals(null, GpuKernels.gemmMixSwigluUnsupported(3, 13, 40, 23));
        // the grid's y limit: 65535 row tiles of 64 are the most (I = 65535 * 64), one row more is refused
        assertEquals(null, GpuKernels.gemmMixSwigluUnsupported(1, 1, 8, 65535 * 64));
        String tooTall = GpuKernels.gemmMixSwigluUnsupported(1, 1, 8, 65535 * 64 + 1);
        assertTrue(tooTall != null && tooTall.contains("exceeds 65535 row tiles"), String.valueOf(tooTall));
    }

    /**
     * Under -Dtrm.swiglu.fused=auto (the default; skipped when the property forces a path): a shape the kernel takes is
     * fused on the emulated device (untimed) and timed on CUDA (both medians positive, the lower one chosen); a shape
     * it cannot take (D = 36) goes to the unfused path with the reason; each choice is recorded as the token mixer's
     * op; a shape first seen while a graph is captured is not timed there (CUDA) and is remembered only where no
     * timing was needed (emulated). Each result matches the double reference.
     */
    static void choices(GpuBackend be, Backend kind) {
        if (!System.getProperty("trm.swiglu.fused", "auto").equals("auto")) return;  // a forced path: nothing to choose
        Random rnd = new Random(5);
        int batch = 2, seq = 13, inter = 24;
        for (int d : new int[] {40, 36}) {
            float[] w = GemmSwigluCheck.bf(rnd, 2 * inter * seq, 0.3), x = GemmSwigluCheck.bf(rnd, batch * seq * d, 1.0);
            Tensor tw = be.tensor(2 * inter, seq), tx = be.activation(batch, seq, d);
            Tensor gu = be.activation(batch, 2 * inter, d), h = be.activation(batch, inter, d);
            be.write(tw, w);
            be.write(tx, x);
            be.tokenMixSwiglu(tw, tx, gu, false, h, inter);
            double err = KernelSelftest.err(be.read(h), reference(w, x, batch, seq, d, inter)[1]);
            assertTrue(err <= KernelSelftest.TOL_BF16, "tokenMixSwiglu D " + d + ": error " + err);
        }
        List<GpuBackend.SwigluChoice> seen = be.swigluChoices();
        seen.forEach(c -> System.out.println("[" + kind.label() + "] " + c));
        assertEquals(2, seen.size(), seen.toString());
        GpuBackend.SwigluChoice ok = seen.get(0), cannot = seen.get(1);
        assertEquals(GpuBackend.SwigluOp.MIX, ok.op(), ok.toString());
        assertTrue(ok.toString().startsWith("token mixer gate_up + SwiGLU [B 2, S 13, D 40, I 24]"), ok.toString());
        assertFalse(cannot.fused(), cannot.toString());
        assertTrue(cannot.why().contains("gemm_mix_swiglu cannot take it: D = 36 is not a multiple of 8"),
                cannot.toString());
        if (kind == Backend.EMULATED) {
            assertTrue(ok.fused() && Double.isNaN(ok.fusedMs()), ok.toString());
        } else {
            assertTrue(ok.fusedMs() > 0 && ok.unfusedMs() > 0, ok.toString());
            assertEquals(ok.fusedMs() < ok.unfusedMs(), ok.fused(), ok.toString());
        }
        // a new shape (keeping gu) met first inside a capture
        Tensor tw = be.tensor(2 * inter, seq), tx = be.activation(batch, seq, 40);
        Tensor gu = be.activation(batch, 2 * inter, 40), h = be.activation(batch, inter, 40);
        be.tokenMix(tw, tx, gu);  // makes w's bf16 copy outside the capture
        try (dev.trm.backend.Backend.Replay r = be.capture(() -> be.tokenMixSwiglu(tw, tx, gu, true, h, inter))) {
            assertEquals(kind == Backend.EMULATED ? 3 : 2, be.swigluChoices().size(), be.swigluChoices().toString());
        }
    }
}
