package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Tensor;
import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Backend;
import dev.trm.gpu.Bf16;
import dev.trm.gpu.Blas;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The fused gate_up GEMM + SwiGLU (gemm_swiglu.cu) against the unfused path it replaces (the GEMM with bf16 gu, then
 * swiglu_forward) and against the double reference, at shapes that are no multiple of its 64 x 64 x 32 tiles; its
 * shape constraints (D and I multiples of 8) fail with a clear message; and GpuBackend's per-shape choice between the
 * two paths. Kept small: the emulated device runs every WMMA product on every lane.
 */
final class GemmSwigluCheck {
    private GemmSwigluCheck() {}

    static void check(Backend kind) {
        try (GpuDevice dev = GpuDevice.open(kind)) {
            fusedAgainstUnfused(dev, 70, 40, 48);   // two row tiles (64 + 6), one partial k-tile, one partial column tile
            fusedAgainstUnfused(dev, 21, 136, 72);  // five k-tiles (the last 8 wide), two column tiles (64 + 8)
            constraints(dev);
        }
        try (GpuBackend be = GpuBackend.open(kind)) {
            choices(be, kind);
        }
    }

    /** n values uniform in [-range, range], rounded to bf16 (what the kernels read). */
    static float[] bf(Random rnd, int n, double range) {
        float[] o = new float[n];
        for (int i = 0; i < n; i++) o[i] = Bf16.round((float) ((rnd.nextDouble() * 2 - 1) * range));
        return o;
    }

    static void fusedAgainstUnfused(GpuDevice dev, int m, int d, int inter) {
        Random rnd = new Random(m * 31L + d);
        float[] x = bf(rnd, m * d, 1.0), w = bf(rnd, 2 * inter * d, 0.3);
        double[] guRef = new double[m * 2 * inter], hRef = new double[m * inter];
        RefOps.gemm(false, true, m, 2 * inter, d, 1.0, KernelSelftest.d(x), d, KernelSelftest.d(w), d, 0.0, guRef, 2 * inter);
        RefOps.swigluForward(guRef, hRef, m, inter);
        float[] sentinel = new float[m * 2 * inter];
        Arrays.fill(sentinel, -3f);
        GpuKernels k = new GpuKernels(dev);
        Stream s = dev.defaultStream();
        try (Blas blas = dev.newBlas(s); DeviceBuffer bx = dev.alloc(DType.BF16, x.length).uploadBf16(x);
             DeviceBuffer bw = dev.alloc(DType.BF16, w.length).uploadBf16(w);
             DeviceBuffer guF = dev.alloc(DType.BF16, guRef.length); DeviceBuffer hF = dev.alloc(DType.BF16, hRef.length);
             DeviceBuffer guN = dev.alloc(DType.BF16, guRef.length).uploadBf16(sentinel);
             DeviceBuffer hN = dev.alloc(DType.BF16, hRef.length);
             DeviceBuffer guU = dev.alloc(DType.BF16, guRef.length); DeviceBuffer hU = dev.alloc(DType.BF16, hRef.length)) {
            k.gemmSwiglu(s, bx, bw, guF, hF, m, d, inter);
            k.gemmSwiglu(s, bx, bw, null, hN, m, d, inter);
            blas.gemm(s, false, true, m, 2 * inter, d, 1f, bx, d, bw, d, 0f, guU, 2 * inter);  // as GpuBackend.linear
            k.swigluForward(s, guU, hU, m, inter);
            s.synchronize();
            assertFusedAgainstUnfused(dev.backend().label() + "] gemm_swiglu", "M " + m + ", D " + d + ", I " + inter,
                    hRef, guRef, hF, guF, hU, hN, guN, sentinel);
        }
    }

    /**
     * What both SwiGLU GEMMs must show against their unfused path (cuBLAS, then swiglu_forward) and the double
     * reference: the fused h within one bf16 rounding and no worse than the unfused one (which also carries the
     * roundings of gate and up), the unfused h within bf16 tolerance, the fused gu within one rounding; h computed
     * without gu (hNoGu) bit for bit the same, and gu then left untouched (guNotKept still holds the sentinel).
     */
    static void assertFusedAgainstUnfused(String what, String shape, double[] hRef, double[] guRef, DeviceBuffer hFused,
                                          DeviceBuffer guFused, DeviceBuffer hUnfused, DeviceBuffer hNoGu,
                                          DeviceBuffer guNotKept, float[] sentinel) {
        float[] h = hFused.downloadBf16();
        double errFused = KernelSelftest.err(h, hRef), errUnfused = KernelSelftest.err(hUnfused.downloadBf16(), hRef);
        double errGu = KernelSelftest.err(guFused.downloadBf16(), guRef);
        System.out.printf("[%s %s: h err %.2e (unfused %.2e), gu err %.2e%n", what, shape, errFused, errUnfused, errGu);
        assertTrue(errFused <= KernelSelftest.TOL_ONE_ROUNDING, shape + ": fused h error " + errFused);
        assertTrue(errUnfused <= KernelSelftest.TOL_BF16, shape + ": unfused h error " + errUnfused);
        assertTrue(errGu <= KernelSelftest.TOL_ONE_ROUNDING, shape + ": fused gu error " + errGu);
        assertTrue(errFused <= errUnfused, shape + ": the fused h is less accurate than the unfused one");
        assertArrayEquals(h, hNoGu.downloadBf16(), shape + ": h without gu differs from h with gu");
        assertArrayEquals(sentinel, guNotKept.downloadBf16(), shape + ": gu was written though not asked for");
    }

    static void constraints(GpuDevice dev) {
        GpuKernels k = new GpuKernels(dev);
        try (DeviceBuffer buf = dev.alloc(DType.BF16, 4096)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> k.gemmSwiglu(dev.defaultStream(), buf, buf, null, buf, 4, 36, 8));
            assertTrue(e.getMessage().contains("D = 36 is not a multiple of 8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> k.gemmSwiglu(dev.defaultStream(), buf, buf, null, buf, 4, 40, 50));
            assertTrue(e.getMessage().contains("I = 50 is not a multiple of 8"), e.getMessage());
        }
    }

    /**
     * Under -Dtrm.swiglu.fused=auto (the default; skipped when the property forces a path): a
     * shape the kernel takes is fused on the emulated device (untimed) and timed on CUDA (both medians positive, the
     * lower one chosen); a shape it cannot take (D = 36) goes to cuBLAS with the reason; a shape first seen while a graph
     * is captured is not timed there (CUDA) and is remembered only where no timing was needed (emulated). Each result
     * matches the double reference.
     */
    static void choices(GpuBackend be, Backend kind) {
        if (!System.getProperty("trm.swiglu.fused", "auto").equals("auto")) return;  // a forced path: nothing to choose
        Random rnd = new Random(3);
        int inter = 48;
        int[][] shapes = {{37, 40}, {37, 36}};
        for (int[] sh : shapes) {
            int m = sh[0], d = sh[1];
            float[] x = bf(rnd, m * d, 1.0), w = bf(rnd, 2 * inter * d, 0.3);
            Tensor tx = be.activation(m, d), tw = be.tensor(2 * inter, d);
            Tensor gu = be.activation(m, 2 * inter), h = be.activation(m, inter);
            be.write(tx, x);
            be.write(tw, w);
            be.linearSwiglu(tx, tw, gu, false, h, inter);
            double[] guRef = new double[m * 2 * inter], hRef = new double[m * inter];
            RefOps.gemm(false, true, m, 2 * inter, d, 1.0, KernelSelftest.d(x), d, KernelSelftest.d(w), d, 0.0, guRef, 2 * inter);
            RefOps.swigluForward(guRef, hRef, m, inter);
            double err = KernelSelftest.err(be.read(h), hRef);
            assertTrue(err <= KernelSelftest.TOL_BF16, "linearSwiglu M " + m + ", D " + d + ": error " + err);
        }
        List<GpuBackend.SwigluChoice> seen = be.swigluChoices();
        seen.forEach(c -> System.out.println("[" + kind.label() + "] " + c));
        assertEquals(2, seen.size(), seen.toString());
        GpuBackend.SwigluChoice ok = seen.get(0), cannot = seen.get(1);
        assertFalse(cannot.fused(), cannot.toString());
        assertTrue(cannot.why().contains("D = 36 is not a multiple of 8"), cannot.toString());
        if (kind == Backend.EMULATED) {
            assertTrue(ok.fused() && Double.isNaN(ok.fusedMs()), ok.toString());
        } else {
            assertTrue(ok.fusedMs() > 0 && ok.unfusedMs() > 0, ok.toString());
            assertEquals(ok.fusedMs() < ok.unfusedMs(), ok.fused(), ok.toString());
        }
        // a new shape (keeping gu) met first inside a capture
        Tensor tx = be.activation(37, 40), tw = be.tensor(2 * inter, 40);
        Tensor gu = be.activation(37, 2 * inter), h = be.activation(37, inter);
        be.linear(tx, tw, null, gu);  // makes w's bf16 copy outside the capture
        try (dev.trm.backend.Backend.Replay r = be.capture(() -> be.linearSwiglu(tx, tw, gu, true, h, inter))) {
            assertEquals(kind == Backend.EMULATED ? 3 : 2, be.swigluChoices().size(), be.swigluChoices().toString());
        }
    }
}
