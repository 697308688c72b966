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

    @Test
    void emulatedInferenceParametersHaveNoGradients() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            TrainingMemoryCheck.inferenceParametersHaveNoGradients(gpu);
        }
    }
}
