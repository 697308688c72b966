package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link ProfiledGpuCheck} on the EMULATED device. */
@Tag("emulated")
class ProfiledGpuEmulatedTest {
    @Test
    void emulatedProfileTimesOpsWithEventsAndRunsEagerly() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            ProfiledGpuCheck.check(gpu);
        }
    }
}
