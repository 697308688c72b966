package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GemmSwigluCheck} on the EMULATED device. */
@Tag("emulated")
class GemmSwigluEmulatedTest {
    @Test
    void emulatedFusedGemmSwigluMatchesTheUnfusedPathAndTheChoiceIsRecorded() {
        TestDevices.assumeEmulated();
        GemmSwigluCheck.check(Backend.EMULATED);
    }
}
