package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GpuSolveGraph} on the EMULATED device. */
@Tag("emulated")
class GpuSolveGraphEmulatedTest {
    @Test
    void emulatedGraphSolvesMatchTheStepByStepSolveBitForBit() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            GpuSolveGraph.check(gpu, true);
        }
    }
}
