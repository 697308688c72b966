package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GemmMixSwigluCheck} on the EMULATED device. */
@Tag("emulated")
class GemmMixSwigluEmulatedTest {
    @Test
    void emulatedFusedGemmMixSwigluMatchesTheUnfusedPathAndTheChoiceIsRecorded() {
        TestDevices.assumeEmulated();
        GemmMixSwigluCheck.check(Backend.EMULATED);
    }
}
