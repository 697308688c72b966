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

    @Test
    void capturedTrainingStepReplaysExactlyAsEagerSteps(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        try (GpuBackend gpu = open()) {
            GpuTrainingCurve.checkGraphReplayMatchesEager(gpu, dir);
        }
    }

    @Test
    void solverOnTheGpuAnswersAsOneBatchAndHoldsItsMemory() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.checkSolver(gpu, GpuModelParity.tinyMlpT(), 16, true);
        }
    }

    @Test
    void emaWeightCopiesFollowAcrossCapturedSteps(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        try (GpuBackend gpu = open()) {
            GpuTrainingCurve.checkEmaCopiesFollow(gpu, dir);
        }
    }
}
