package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link KernelEdgeShapesCheck} on the EMULATED device, whose red zones and poison catch what a GPU would not. */
@Tag("emulated")
class KernelEdgeShapesEmulatedTest {
    @Test
    void emulatedKernelsStayInBoundsAndWriteEveryOutputAtAwkwardShapes() {
        TestDevices.assumeEmulated();
        KernelEdgeShapesCheck.check(Backend.EMULATED);
    }
}
