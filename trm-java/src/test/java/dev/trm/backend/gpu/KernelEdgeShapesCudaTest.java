package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link KernelEdgeShapesCheck} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class KernelEdgeShapesCudaTest {
    @Test
    void cudaKernelsStayInBoundsAndWriteEveryOutputAtAwkwardShapes() {
        TestDevices.assumeCuda();
        KernelEdgeShapesCheck.check(Backend.CUDA);
    }
}
