package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceProbe;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GpuModelParity} on the EMULATED device: the GPU backend's Java, kernels and GEMM calls, run on the host. */
@Tag("emulated")
class GpuModelParityEmulatedTest {
    private static GpuBackend open() {
        assumeTrue(DeviceProbe.probe(Backend.EMULATED).available(), "emulated device unavailable");
        return GpuBackend.open(Backend.EMULATED);
    }

    @Test
    void everyOpMatchesTheCpuBackend() {
        try (GpuBackend gpu = open()) {
            new GpuOpsParity(gpu).runAll();
        }
    }

    @Test
    void tokenMixerModelMatchesTheCpuBackend() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.check(gpu, GpuModelParity.tinyMlpT().withCycles(Integer.parseInt(System.getenv().getOrDefault("TT", "2")), Integer.parseInt(System.getenv().getOrDefault("NN", "2"))), 3, 11);
        }
    }

    @Test
    void attentionModelWithRopeMatchesTheCpuBackend() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.check(gpu, GpuModelParity.tinyAttention(), 2, 12);
        }
    }
}
