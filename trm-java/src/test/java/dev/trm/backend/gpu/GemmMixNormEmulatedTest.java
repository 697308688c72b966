package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GemmMixNormCheck} on the EMULATED device. */
@Tag("emulated")
class GemmMixNormEmulatedTest {
    @Test
    void emulatedFusedGemmMixNormMatchesTheUnfusedPathAndTheChoiceIsRecorded() {
        TestDevices.assumeEmulated();
        GemmMixNormCheck.check(Backend.EMULATED);
    }
}
