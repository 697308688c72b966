package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import dev.trm.train.TrainingMemoryCheck;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TrainingMemoryGpu} on the CUDA device. */
@Tag("gpu")
class TrainingMemoryCudaTest {
    @Test
    void cudaTrainingRunBooksEveryDeviceBufferAsThePlanSays(@TempDir Path dir) {
        TestDevices.assumeCuda();
        for (boolean mixer : new boolean[] {true, false}) {
            try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
                TrainingMemoryGpu.check(gpu, dir, mixer);
            }
        }
    }

    @Test
    void cudaInferenceParametersHaveNoGradients() {
        TestDevices.assumeCuda();
        try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
            TrainingMemoryCheck.inferenceParametersHaveNoGradients(gpu);
        }
    }
}
