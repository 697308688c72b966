package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import dev.trm.model.Presets;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GpuModelParityTests} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class GpuModelParityCudaTest extends GpuModelParityTests {
    @Override
    GpuBackend open() {
        TestDevices.assumeCuda();
        return GpuBackend.open(Backend.CUDA);
    }

    @Override
    boolean rowIndependentGemm() {
        return false;  // cuBLAS may pick another kernel for another row count
    }

    /** The full-size ARC attention model (S 916, D 512, 8 heads of 64, RoPE) at T = n = 1: GPU only (too slow emulated). */
    @Test
    void fullSizeArcPresetMatchesTheCpuBackend() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.check(gpu, Presets.get("arc-1").withPuzzleIds(4).withCycles(1, 1), 1, 15);
        }
    }
}
