package dev.trm.backend.gpu;


import dev.trm.gpu.Backend;
import dev.trm.gpu.GpuDevice;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link AttentionKernelCheck} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class AttentionKernelCudaTest {
    @Test
    void cudaAttentionKernelsMatchRefOps() {
        TestDevices.assumeCuda();
        try (GpuDevice dev = GpuDevice.open(Backend.CUDA)) {
            for (AttentionKernelCheck.Errors e : AttentionKernelCheck.check(dev)) System.out.println("[cuda] " + e);
        }
    }
}
