package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.GpuDevice;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every kernel on a real CUDA device against RefOps. Skipped with the probe's reason where there is no device;
 * with TRM_REQUIRE_CUDA=1 (the device run) a missing device fails instead.
 */
@Tag("gpu")
class KernelSelftestCudaTest {

    @Test
    void everyKernelMatchesTheReferenceOnCuda() {
        TestDevices.assumeCuda();
        try (GpuDevice dev = GpuDevice.open(Backend.CUDA)) {
            for (long seed : new long[] {1, 2, 3}) {
                KernelSelftest st = new KernelSelftest(dev, seed);
                List<KernelCheck> checks = st.runAll();
                checks.forEach(c -> System.out.println("[cuda] " + c.line()));
                assertTrue(st.errors().isEmpty(), () -> st.errors().toString());
                for (KernelCheck c : checks) {
                    assertEquals(Backend.CUDA, c.backend(), c.kernel());
                    assertTrue(c.passed(), c::line);
                }
            }
        }
    }
}
