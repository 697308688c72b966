package dev.trm.backend.gpu;

import dev.trm.model.Presets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU backend's model-level checks ({@link GpuOpsParity}, {@link GpuModelParity}, {@link GpuTrainingCurve}), run
 * by one subclass per device: {@link GpuModelParityEmulatedTest} in CI, {@link GpuModelParityCudaTest} on a GPU.
 */
abstract class GpuModelParityTests {
    /** The device's backend, or a skip (see {@link TestDevices}). */
    abstract GpuBackend open();

    /** Whether a GEMM row's result is independent of the row count (the emulator's plain GEMM; not cuBLAS). */
    abstract boolean rowIndependentGemm();

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
            // on the emulated device under auto, this small model's token mixer took the fused gemm_mix_swiglu
            if (gpu.device().backend() == dev.trm.gpu.Backend.EMULATED
                    && System.getProperty("trm.swiglu.fused", "auto").equals("auto")) {
                org.junit.jupiter.api.Assertions.assertTrue(gpu.swigluChoices().stream()
                        .anyMatch(c -> c.op() == GpuBackend.SwigluOp.MIX && c.fused()), gpu.swigluChoices().toString());
            }
            // and its down GEMM + residual + norm the fused gemm_mix_norm (B S I_S D = 3 x 12 x 256 x 32 <= 2^19)
            if (gpu.device().backend() == dev.trm.gpu.Backend.EMULATED
                    && GpuBackend.SwigluOp.MIX_NORM.mode().equals("auto")) {
                org.junit.jupiter.api.Assertions.assertTrue(gpu.swigluChoices().stream()
                        .anyMatch(c -> c.op() == GpuBackend.SwigluOp.MIX_NORM && c.fused()),
                        gpu.swigluChoices().toString());
            }
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
            GpuModelParity.check(gpu, Presets.get("sudoku-extreme-mlp").withCycles(1, 1), 1, 13);
        }
    }

    @Test
    void inferenceCapturedAsOneGraphReplaysExactly() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.checkCapturedSolve(gpu, GpuModelParity.tinyAttention(), 2, 14);
        }
    }

    @Test
    void trainingFollowsTheCpuLossCurve(@TempDir Path dir) {
        try (GpuBackend gpu = open()) {
            GpuTrainingCurve.check(gpu, dir);
        }
    }

    @Test
    void solverOnTheGpuAnswersAsOneBatchAndHoldsItsMemory() {
        try (GpuBackend gpu = open()) {
            GpuModelParity.checkSolver(gpu, GpuModelParity.tinyMlpT(), 16, rowIndependentGemm());
        }
    }

    @Test
    void emaWeightCopiesFollowAcrossCapturedSteps(@TempDir Path dir) {
        try (GpuBackend gpu = open()) {
            GpuTrainingCurve.checkEmaCopiesFollow(gpu, dir);
        }
    }
}
