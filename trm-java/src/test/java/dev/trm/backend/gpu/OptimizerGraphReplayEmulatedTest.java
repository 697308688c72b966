package dev.trm.backend.gpu;


import dev.trm.gpu.Backend;
import dev.trm.gpu.GpuDevice;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link OptimizerGraphReplay} on the EMULATED device (its graphs record the work and replay it). */
@Tag("emulated")
class OptimizerGraphReplayEmulatedTest {
    @Test
    void emulatedOptimizerStepCapturedOnceReplaysWithEachStepsSchedule() {
        TestDevices.assumeEmulated();
        try (GpuDevice dev = GpuDevice.open(Backend.EMULATED)) {
            OptimizerGraphReplay.check(dev);
        }
    }
}
