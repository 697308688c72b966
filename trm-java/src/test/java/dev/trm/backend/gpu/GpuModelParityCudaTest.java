package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceProbe;
import dev.trm.gpu.ProbeResult;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GpuModelParity} on a real CUDA device (a skip without one, a failure under TRM_REQUIRE_CUDA=1). */
@Tag("gpu")
class GpuModelParityCudaTest {
    private static GpuBackend open() {
        ProbeResult r = DeviceProbe.probe(Backend.CUDA);
        if ("1".equals(System.getenv("TRM_REQUIRE_CUDA"))) {
            assertTrue(r.available(), () -> "TRM_REQUIRE_CUDA=1 but no CUDA device: " + r.reason());
        }
        assumeTrue(r.available(), () -> "no CUDA device: " + r.reason());
        return GpuBackend.open(Backend.CUDA);
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
            GpuModelParity.check(gpu, GpuModelParity.tinyMlpT(), 3, 11);
        }
    }

    @Test
    void attentionModelWithRopeMatchesTheCpuBackend() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.check(gpu, GpuModelParity.tinyAttention(), 2, 12);
        }
    }

    /** The full-size Sudoku preset (D 512, S 97, token mixer) with T = n = 1 to keep the emulated GEMMs short. */
    @Test
    void fullSizeSudokuPresetMatchesTheCpuBackend() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.check(gpu, dev.trm.model.Presets.get("sudoku-extreme-mlp").withCycles(1, 1), 1, 13);
        }
    }

    @Test
    void inferenceCapturedAsOneGraphReplaysExactly() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.checkCapturedSolve(gpu, GpuModelParity.tinyAttention(), 2, 14);
        }
    }

    @Test
    void trainingFollowsTheCpuLossCurve(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        try (GpuBackend gpu = open()) {
            GpuTrainingCurve.check(gpu, dir);
        }
    }

    /** The full-size ARC attention model (S 916, D 512, 8 heads of 64, RoPE) at T = n = 1: GPU only (too slow emulated). */
    @Test
    void fullSizeArcPresetMatchesTheCpuBackend() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.check(gpu, dev.trm.model.Presets.get("arc-1").withPuzzleIds(4).withCycles(1, 1), 1, 15);
        }
    }

    @Test
    void solverOnTheGpuAnswersAsOneBatchAndHoldsItsMemory() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.checkSolver(gpu, GpuModelParity.tinyMlpT(), 16, false);
        }
    }

    @Test
    void emaWeightCopiesFollowAcrossCapturedSteps(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        try (GpuBackend gpu = open()) {
            GpuTrainingCurve.checkEmaCopiesFollow(gpu, dir);
        }
    }
}
