package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GpuOpsParity#edgeShapes} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class GpuOpsEdgeShapesCudaTest {
    @Test
    void everyOpMatchesTheCpuBackendAtAwkwardShapes() {
        TestDevices.assumeCuda();
        try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
            new GpuOpsParity(gpu).edgeShapes();
            GpuOpsParity.assertPadded(gpu);
        }
    }

    @Test
    void theTokenMixerMatchesWithoutGemmAlignment() {
        TestDevices.assumeCuda();
        GpuOpsParity.tokenMixShapesUnaligned(Backend.CUDA);
    }
}
