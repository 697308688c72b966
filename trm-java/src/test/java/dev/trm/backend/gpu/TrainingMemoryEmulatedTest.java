package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.trm.backend.MemoryPlanner;
import dev.trm.backend.MemoryUse;
import dev.trm.gpu.Backend;
import dev.trm.train.TrainingMemoryCheck;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TrainingMemoryGpu} on the EMULATED device. */
@Tag("emulated")
class TrainingMemoryEmulatedTest {
    @Test
    void emulatedTrainingRunBooksEveryDeviceBufferAsThePlanSays(@TempDir Path dir) {
        TestDevices.assumeEmulated();
        for (boolean mixer : new boolean[] {true, false}) {
            try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
                TrainingMemoryGpu.check(gpu, dir, mixer);
            }
        }
    }

    /** The GPU plan (bf16 activations, weight copies) against the emulated device's ledger, all rows but scratch. */
    @Test
    void emulatedDeviceHoldsWhatTheGpuPlanSays(@TempDir Path dir) {
        TestDevices.assumeEmulated();
        Path data = TrainingMemoryCheck.data(dir);
        for (boolean mixer : new boolean[] {true, false}) {
            java.util.Map<MemoryUse, Long> plan = new java.util.EnumMap<>(
                    TrainingMemoryCheck.afterOneStep(MemoryPlanner.asGpu(), data, mixer));
            java.util.Map<MemoryUse, Long> real;
            try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
                real = new java.util.EnumMap<>(TrainingMemoryCheck.afterOneStep(gpu, data, mixer));
            }
            plan.remove(MemoryUse.SCRATCH);   // the plan leaves the backend's kernel scratch out
            real.remove(MemoryUse.SCRATCH);
            assertEquals(real, plan, mixer ? "token mixer" : "attention");
        }
    }

    /** A solver's buffers after solves of several sizes (captured solves, kept or evicted) as the GPU plan says. */
    @Test
    void emulatedSolverHoldsWhatTheGpuPlanSays() {
        TestDevices.assumeEmulated();
        for (dev.trm.model.TrmConfig c : new dev.trm.model.TrmConfig[] {dev.trm.model.TinyConfigs.mixer(),
                dev.trm.model.TinyConfigs.attention()}) {
            for (int[] batches : new int[][] {{1, 4}, {4, 1}}) {
                java.util.Map<MemoryUse, Long> plan = new java.util.EnumMap<>(
                        TrainingMemoryCheck.afterSolves(MemoryPlanner.asGpu(), c, batches));
                java.util.Map<MemoryUse, Long> real;
                try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
                    real = new java.util.EnumMap<>(TrainingMemoryCheck.afterSolves(gpu, c, batches));
                }
                plan.remove(MemoryUse.SCRATCH);
                real.remove(MemoryUse.SCRATCH);
                assertEquals(real, plan, (c.mlpT() ? "token mixer" : "attention") + ", batches "
                        + java.util.Arrays.toString(batches));
            }
        }
    }

    @Test
    void emulatedInferenceParametersHaveNoGradients() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            TrainingMemoryCheck.inferenceParametersHaveNoGradients(gpu);
        }
    }
}
