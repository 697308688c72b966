package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link GpuModelParityTests} on the EMULATED device: the GPU backend's Java, kernels and GEMM calls, on the host. */
@Tag("emulated")
class GpuModelParityEmulatedTest extends GpuModelParityTests {
    @Override
    GpuBackend open() {
        TestDevices.assumeEmulated();
        return GpuBackend.open(Backend.EMULATED);
    }

    @Override
    boolean rowIndependentGemm() {
        return true;
    }

    /** Bit for bit needs a deterministic device: the emulator runs blocks in order. */
    @Test
    void capturedTrainingStepReplaysExactlyAsEagerSteps(@TempDir Path dir) {
        try (GpuBackend gpu = open()) {
            GpuTrainingCurve.checkGraphReplayMatchesEager(gpu, dir);
        }
    }
}
