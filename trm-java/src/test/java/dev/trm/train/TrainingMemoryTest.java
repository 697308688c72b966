package dev.trm.train;

import dev.trm.backend.cpu.CpuBackend;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory table of a training run on the CPU backend (fp32 everywhere). */
class TrainingMemoryTest {

    @Test
    void tokenMixerRunBooksEveryBufferOnceAndAsThePlanSays(@TempDir Path dir) {
        TrainingMemoryCheck.check(new CpuBackend(), dir, true, 4, 4);
    }

    @Test
    void attentionRunBooksEveryBufferOnceAndAsThePlanSays(@TempDir Path dir) {
        TrainingMemoryCheck.check(new CpuBackend(), dir, false, 4, 4);
    }

    @Test
    void inferenceParametersHaveNoGradients() {
        TrainingMemoryCheck.inferenceParametersHaveNoGradients(new CpuBackend());
    }
}
