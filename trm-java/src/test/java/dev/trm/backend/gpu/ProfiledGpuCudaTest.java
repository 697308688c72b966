package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link ProfiledGpuCheck} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class ProfiledGpuCudaTest {
    @Test
    void cudaProfileTimesOpsWithEventsAndRunsEagerly() {
        TestDevices.assumeCuda();
        try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
            ProfiledGpuCheck.check(gpu);
        }
    }
}
