package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * What the emulated device cannot see of a kernel under programmatic dependent launch: it fails a kernel one of whose
 * threads never calls trm_pdl_begin(), but not one that reads or writes global memory before the call (on a GPU that
 * access would race with the kernel before it). So the sources are read: the first statement of every kernel
 * (TRM_KERNEL, in kernels/src/main/cuda and kernels/src/test/cuda) must be {@code trm_pdl_begin();}. Skipped where the
 * sources are absent (a packaged test jar).
 */
class KernelSourcesTest {
    private static final Path KERNELS = Path.of("..", "kernels", "src");
    /** The emulator's own check kernel that returns before the call on purpose (EmulatorPrimitivesTest). */
    private static final String DELIBERATE = "emu_check_pdl";

    @Test
    void everyKernelBeginsWithTrmPdlBegin() throws IOException {
        assumeTrue(Files.isDirectory(KERNELS.resolve("main/cuda")), "kernel sources not found at " + KERNELS.toAbsolutePath());
        List<String> offenders = new ArrayList<>();
        int kernels = 0;
        boolean sawDeliberate = false;
        for (Path dir : List.of(KERNELS.resolve("main/cuda"), KERNELS.resolve("test/cuda"))) {
            if (!Files.isDirectory(dir)) continue;
            List<Path> files;
            try (Stream<Path> s = Files.list(dir)) {
                files = s.filter(p -> p.toString().endsWith(".cu")).sorted().toList();
            }
            for (Path f : files) {
                String src = Files.readString(f);
                for (int at = src.indexOf("TRM_KERNEL"); at >= 0; at = src.indexOf("TRM_KERNEL", at + 1)) {
                    int lineStart = src.lastIndexOf('\n', at) + 1;
                    if (src.startsWith("#define", lineStart)) continue;  // the macro itself, not a kernel
                    int paren = src.indexOf('(', src.indexOf("void", at));
                    String name = src.substring(src.lastIndexOf(' ', paren) + 1, paren).trim();
                    int body = src.indexOf('{', paren);
                    String first = src.substring(body + 1).stripLeading();
                    kernels++;
                    if (!first.startsWith("trm_pdl_begin();")) {
                        if (name.equals(DELIBERATE)) {
                            sawDeliberate = true;  // this reading of the sources does find a kernel without the call
                            continue;
                        }
                        int line = (int) src.substring(0, at).chars().filter(c -> c == '\n').count() + 1;
                        offenders.add(f.getFileName() + ":" + line + " " + name + " begins with '"
                                + first.lines().findFirst().orElse("") + "'");
                    }
                }
            }
        }
        // 49 today (the attention backward became one kernel per set); the floor only shows the scan finds them
        assertTrue(kernels >= 45, "found only " + kernels + " kernels under " + KERNELS.toAbsolutePath());
        assertTrue(sawDeliberate, DELIBERATE + " (no trm_pdl_begin first, on purpose) was not reported");
        assertTrue(offenders.isEmpty(), "kernels whose first statement is not trm_pdl_begin(); (docs/gpu.md, "
                + "\"Kernels that overlap their launch\"):\n" + String.join("\n", offenders));
    }
}
