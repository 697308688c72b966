package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceProbe;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link MultiTensorOptimizer} on the EMULATED device. */
@Tag("emulated")
class MultiTensorOptimizerEmulatedTest {
    @Test
    void emulatedGroupOptimizerOpsMatchThePerTensorOpsBitForBit() {
        assumeTrue(DeviceProbe.probe(Backend.EMULATED).available(), "emulated device unavailable");
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            MultiTensorOptimizer.check(gpu);
        }
    }
}
