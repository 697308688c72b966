package dev.trm.backend.gpu;

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

    @Test
    void emulatedInferenceParametersHaveNoGradients() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            TrainingMemoryCheck.inferenceParametersHaveNoGradients(gpu);
        }
    }
}
