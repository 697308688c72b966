package dev.trm.backend.gpu;


import dev.trm.gpu.Backend;
import dev.trm.gpu.GpuDevice;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link AttentionKernelCheck} on the EMULATED device. */
@Tag("emulated")
class AttentionKernelEmulatedTest {
    @Test
    void emulatedAttentionKernelsMatchRefOps() {
        TestDevices.assumeEmulated();
        try (GpuDevice dev = GpuDevice.open(Backend.EMULATED)) {
            for (AttentionKernelCheck.Errors e : AttentionKernelCheck.check(dev)) System.out.println("[emulated] " + e);
        }
    }
}
