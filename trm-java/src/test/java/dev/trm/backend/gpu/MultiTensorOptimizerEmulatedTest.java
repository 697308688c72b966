package dev.trm.backend.gpu;


import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link MultiTensorOptimizer} on the EMULATED device. */
@Tag("emulated")
class MultiTensorOptimizerEmulatedTest {
    @Test
    void emulatedGroupOptimizerOpsMatchThePerTensorOpsBitForBit() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            MultiTensorOptimizer.check(gpu);
        }
    }
}
