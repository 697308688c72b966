package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The EMULATED device's CUDA semantics, through the check kernels of kernels/src/test/cuda/emu_checks.cu (built
 * into the emulation library only): warp votes and shuffles, barriers with shared memory, 2-D blocks and grids,
 * dynamic shared memory, atomics, and a deadlock reported instead of a hang.
 */
@Tag("emulated")
class EmulatorPrimitivesTest {
    static GpuDevice dev;

    @BeforeAll
    static void open() {
        ProbeResult r = DeviceProbe.probe(Backend.EMULATED);
        assumeTrue(r.available(), () -> "emulated device unavailable: " + r.reason());
        dev = GpuDevice.open(Backend.EMULATED);
    }

    @AfterAll
    static void close() {
        if (dev != null) dev.close();
    }

    @Test
    void emulatedWarpVotesAndShufflesFollowCuda() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 64 * 7)) {
            dev.kernel("emu_check_warp").launch(dev.defaultStream(), 1, 64, 0, KernelArgs.of().ptr(out));
            int[] o = out.downloadInts();
            for (int t = 0; t < 64; t++) {
                int lane = t % 32, b = 7 * t;
                assertEquals(0xaaaaaaaa, o[b], "ballot(lane odd) at thread " + t);
                assertEquals(1, o[b + 1], "any(lane == 5)");
                assertEquals(0, o[b + 2], "all(lane < 31)");
                assertEquals(30, o[b + 3], "shfl from lane 3");
                assertEquals(lane == 0 ? 0 : lane - 1, o[b + 4], "shfl_up by 1 (lane 0 keeps its own)");
                assertEquals(lane >= 30 ? lane : lane + 2, o[b + 5], "shfl_down by 2 (lanes 30, 31 keep their own)");
                assertEquals(lane ^ 1, o[b + 6], "shfl_xor 1");
            }
        }
    }

    @Test
    void emulatedBarriersSharedMemoryAnd2dIndexing() {
        int bx = 8, by = 4, gx = 3, gy = 2, n = bx * by, blocks = gx * gy;
        try (DeviceBuffer out = dev.alloc(DType.I32, n * blocks)) {
            dev.kernel("emu_check_block").launch(dev.defaultStream(), gx, gy, 1, bx, by, 1, n * 4,
                    KernelArgs.of().ptr(out));
            int[] o = out.downloadInts();
            for (int blk = 0; blk < blocks; blk++) {
                for (int t = 0; t < n; t++) assertEquals(n - 1 - t + 1000 * blk, o[blk * n + t], "block " + blk);
            }
        }
    }

    @Test
    void emulatedAtomicsAccumulateEveryThread() {
        try (DeviceBuffer counter = dev.alloc(DType.I32, 1).upload(new int[] {0});
             DeviceBuffer fsum = dev.alloc(DType.F32, 1).upload(new float[] {0});
             DeviceBuffer maxv = dev.alloc(DType.I32, 1).upload(new int[] {-1})) {
            dev.kernel("emu_check_atomics").launch(dev.defaultStream(), 5, 96, 0,
                    KernelArgs.of().ptr(counter).ptr(fsum).ptr(maxv));
            assertEquals(480, counter.downloadInts()[0]);
            assertEquals(240f, fsum.downloadFloats()[0]);
            assertEquals(479, maxv.downloadInts()[0]);
        }
    }

    @Test
    void emulatedDivergentBarrierIsReportedNotHung() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 32)) {
            CudaException ex = assertThrows(CudaException.class, () -> dev.kernel("emu_check_deadlock")
                    .launch(dev.defaultStream(), 1, 32, 0, KernelArgs.of().ptr(out)));
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", ex.statusName());
            assertTrue(ex.getMessage().contains("deadlock in emu_check_deadlock"), ex.getMessage());
        }
        // The emulator is usable again after a failed launch.
        emulatedAtomicsAccumulateEveryThread();
    }
}
