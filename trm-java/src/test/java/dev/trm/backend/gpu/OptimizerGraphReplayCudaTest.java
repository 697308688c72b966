package dev.trm.backend.gpu;


import dev.trm.gpu.Backend;
import dev.trm.gpu.GpuDevice;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link OptimizerGraphReplay} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class OptimizerGraphReplayCudaTest {
    @Test
    void cudaOptimizerStepCapturedOnceReplaysWithEachStepsSchedule() {
        TestDevices.assumeCuda();
        try (GpuDevice dev = GpuDevice.open(Backend.CUDA)) {
            OptimizerGraphReplay.check(dev);
        }
    }
}
