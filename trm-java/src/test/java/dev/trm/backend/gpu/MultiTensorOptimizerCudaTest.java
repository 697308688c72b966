package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceProbe;
import dev.trm.gpu.ProbeResult;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link MultiTensorOptimizer} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class MultiTensorOptimizerCudaTest {
    @Test
    void cudaGroupOptimizerOpsMatchThePerTensorOpsBitForBit() {
        ProbeResult r = DeviceProbe.probe(Backend.CUDA);
        if ("1".equals(System.getenv("TRM_REQUIRE_CUDA"))) {
            assertTrue(r.available(), () -> "TRM_REQUIRE_CUDA=1 but no CUDA device: " + r.reason());
        }
        assumeTrue(r.available(), () -> "no CUDA device: " + r.reason());
        try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
            MultiTensorOptimizer.check(gpu);
        }
    }
}
