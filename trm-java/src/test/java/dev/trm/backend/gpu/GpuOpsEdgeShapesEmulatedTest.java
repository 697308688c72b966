package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link GpuOpsParity#edgeShapes} on the EMULATED device: GpuBackend's own scratch and partial sizes at awkward shapes,
 * under the emulated device's red zones and poison (a store past any buffer fails naming the kernel).
 */
@Tag("emulated")
class GpuOpsEdgeShapesEmulatedTest {
    @Test
    void everyOpMatchesTheCpuBackendAtAwkwardShapes() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            new GpuOpsParity(gpu).edgeShapes();
        }
    }
}
