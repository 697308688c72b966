package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Programmatic dependent launch (PDL: a kernel may start before the one before it on the stream has finished, and
 * waits in trm_pdl_begin, common.cuh), checked the same way on each backend ({@link EmulatedDeviceTest},
 * {@link CudaDeviceTest}).
 */
final class ProgrammaticLaunchContract {
    private ProgrammaticLaunchContract() {}

    /** On where the device can (CUDA from compute capability 9.0; the emulated device), else off with a reason. */
    static void onWhereSupported(GpuDevice dev) {
        boolean supported = dev.backend() == Backend.EMULATED || dev.info().ccMajor() >= 9;
        if (supported) {
            assertNull(dev.programmaticLaunchUnsupportedReason(), "the probe failed, or -Dtrm.pdl=false is set");
            assertTrue(dev.programmaticLaunch(), "on by default");
        } else {
            assertNotNull(dev.programmaticLaunchUnsupportedReason());
            assertFalse(dev.programmaticLaunch());
            assertThrows(UnsupportedOperationException.class, () -> dev.programmaticLaunch(true));
        }
    }

    /**
     * A chain of kernels each of which reads what the one before wrote and overwrites what the one before read:
     * x <- x + 1 through two buffers in turn (add3, p -> q, then q -> p), `links` times, launched directly and then
     * as a graph replayed twice. Every element must come out exactly `3 * links` larger. On a GPU a kernel that
     * started before its predecessor finished without waiting would read old values or overwrite live ones; the
     * chain of small, back-to-back kernels is where PDL overlaps them most. Runs with PDL as the device has it, then
     * (where it is on) with it switched off: both must agree.
     */
    static void chainsKeepTheirOrder(GpuDevice dev) {
        boolean emulated = dev.backend() == Backend.EMULATED;
        chainsKeepTheirOrder(dev, emulated ? 2048 : 1 << 20, emulated ? 40 : 2000);
    }

    /** As above at a given size: the fake CUDA driver (FakeCudaDriverTest) runs kernels on the host, as emulated. */
    static void chainsKeepTheirOrder(GpuDevice dev, int n, int links) {
        boolean initial = dev.programmaticLaunch();
        try {
            for (boolean pdl : initial ? new boolean[] {true, false} : new boolean[] {false}) {
                dev.programmaticLaunch(pdl);
                chain(dev, n, links, pdl);
            }
        } finally {
            dev.programmaticLaunch(initial);
        }
    }

    private static void chain(GpuDevice dev, int n, int links, boolean pdl) {
        float[] start = new float[n];
        for (int i = 0; i < n; i++) start[i] = i % 1000;
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        try (Stream s = dev.newStream(); DeviceBuffer p = dev.alloc(DType.F32, n).upload(start);
             DeviceBuffer q = dev.alloc(DType.F32, n); DeviceBuffer one = dev.alloc(DType.F32, n).upload(ones)) {
            Runnable run = () -> {
                for (int k = 0; k < links; k++) {
                    DeviceBuffer from = k % 2 == 0 ? p : q, to = k % 2 == 0 ? q : p;
                    dev.kernel("add3").launch(s, Kernel.blocks(n, 256), 256, 0, KernelArgs.of()
                            .ptr(from).i32(0).ptr(one).i32(0).nullPtr().i32(0).ptr(to).i32(0).i64(n));
                }
            };
            run.run();
            s.beginCapture();
            run.run();
            try (Graph g = s.endCapture()) {
                g.launch(s);
                g.launch(s);
            }
            s.synchronize();
            float[] got = (links % 2 == 0 ? p : q).downloadFloats();
            for (int i = 0; i < n; i++) {
                float want = start[i] + 3 * links;
                if (got[i] != want) {
                    throw new AssertionError("element " + i + " of " + n + " is " + got[i] + ", not " + want + " (pdl "
                            + pdl + ", " + links + " links, launched directly then as a graph twice)");
                }
            }
            assertEquals(start[n - 1] + 3 * links, got[n - 1]);
        }
    }
}
