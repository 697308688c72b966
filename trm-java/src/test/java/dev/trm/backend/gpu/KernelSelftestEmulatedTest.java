package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.GpuDevice;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Every kernel on the EMULATED device (host-compiled kernels) against RefOps, with two seeds. */
@Tag("emulated")
class KernelSelftestEmulatedTest {

    @Test
    void everyKernelMatchesTheReferenceOnTheEmulatedDevice() {
        TestDevices.assumeEmulated();
        try (GpuDevice dev = GpuDevice.open(Backend.EMULATED)) {
            for (long seed : new long[] {1, 2}) {
                KernelSelftest st = new KernelSelftest(dev, seed);
                List<KernelCheck> checks = st.runAll();
                System.out.println("[emulated] seed " + seed);
                checks.forEach(c -> System.out.println("[emulated] " + c.line()));
                assertTrue(st.errors().isEmpty(), () -> st.errors().toString());
                assertTrue(checks.size() >= 40, "a check went missing: " + checks.size());
                for (KernelCheck c : checks) {
                    assertEquals(Backend.EMULATED, c.backend(), c.kernel());
                    assertTrue(c.passed(), c::line);
                }
            }
            assertEquals(1, dev.openResources(), "the selftest leaked device resources (only the default stream may stay)");
        }
    }

    @Test
    void theErrorMeasureSeesWrongAndNonFiniteValues() {
        double[] ref = {1.0, -2.0, 0.0, 4.0};
        assertEquals(0.0, KernelSelftest.err(new float[] {1f, -2f, 0f, 4f}, ref));
        assertEquals(0.5, KernelSelftest.err(new float[] {1.5f, -2f, 0f, 4f}, ref), 1e-12);
        // Near zero the error is relative to 1% of the tensor's largest value (0.04 here).
        assertEquals(0.25, KernelSelftest.err(new float[] {1f, -2f, 0.01f, 4f}, ref), 1e-6);
        assertEquals(Double.POSITIVE_INFINITY, KernelSelftest.err(new float[] {Float.NaN, -2f, 0f, 4f}, ref));
        assertTrue(!new KernelCheck("x", Backend.EMULATED, Double.NaN, 1).passed());
    }
}
