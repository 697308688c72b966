package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link QHeadCheck} on the EMULATED device. */
@Tag("emulated")
class QHeadEmulatedTest {
    @Test
    void emulatedQHeadAndHaltingLossMatchTheCpuBackendReadingYInPlace() {
        TestDevices.assumeEmulated();
        QHeadCheck.check(Backend.EMULATED);
    }
}
