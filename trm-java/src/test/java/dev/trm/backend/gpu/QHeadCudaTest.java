package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link QHeadCheck} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class QHeadCudaTest {
    @Test
    void cudaQHeadAndHaltingLossMatchTheCpuBackendReadingYInPlace() {
        TestDevices.assumeCuda();
        QHeadCheck.check(Backend.CUDA);
    }
}
