package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.gpu.Backend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link GpuOpsParity#edgeShapes} on the EMULATED device: GpuBackend's own scratch and partial sizes at awkward shapes,
 * under the emulated device's red zones and poison (a store past any buffer fails naming the kernel).
 */
@Tag("emulated")
class GpuOpsEdgeShapesEmulatedTest {
    @Test
    void everyOpMatchesTheCpuBackendAtAwkwardShapes() {
        TestDevices.assumeEmulated();
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            new GpuOpsParity(gpu).edgeShapes();
            GpuOpsParity.assertPadded(gpu);
            gpu.swigluChoices().forEach(System.out::println);
            // under auto the emulated device fuses the small shapes and not the others: both paths of every op ran
            for (GpuBackend.SwigluOp op : GpuBackend.SwigluOp.values()) {
                if (op.mode().equals("auto")) {
                    for (boolean fused : new boolean[] {true, false}) {
                        assertTrue(gpu.swigluChoices().stream().anyMatch(c -> c.op() == op && c.fused() == fused),
                                op + (fused ? " fused" : " unfused") + " never ran: " + gpu.swigluChoices());
                    }
                }
            }
        }
    }

    @Test
    void theTokenMixerMatchesWithoutGemmAlignment() {
        TestDevices.assumeEmulated();
        GpuOpsParity.tokenMixShapesUnaligned(Backend.EMULATED);
    }
}
