package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.trm.backend.MemoryUse;
import dev.trm.train.TrainingMemoryCheck;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@link TrainingMemoryCheck} on a GPU backend (bf16 activations, fp32 weights and statistics), and the ledger
 * against the backend's own list of device buffers: nothing it holds is left out of the table.
 */
final class TrainingMemoryGpu {
    private TrainingMemoryGpu() {}

    static void check(GpuBackend gpu, Path dir, boolean mixer) {
        TrainingMemoryCheck.check(gpu, dir.resolve(mixer ? "mixer" : "attention"), mixer, 2, 4);
        long[] byType = gpu.bytesByType();
        assertEquals(byType[0] + byType[1] + byType[2], gpu.memory().totalBytes(),
                "the ledger books every device buffer the backend holds");
        Map<MemoryUse, Long> rows = gpu.memory().bytesByUse();
        assertFalse(rows.containsKey(MemoryUse.UNLABELLED), rows.toString());
    }
}
