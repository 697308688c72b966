package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.KernelImages;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA path on the FAKE CUDA driver (kernels/src/test/fake-cuda, built into kernels/target/fake-cuda/; see
 * native's FakeCudaDriverTest): in child JVMs with TRM_LIBCUDA and TRM_LIBCUBLAS set to the fakes, `trm selftest
 * --device cuda` (every kernel's argument packing through cuLaunchKernelEx, GEMMs through cuBLAS and cuBLASLt,
 * against the CPU reference) and the CUDA variants of the graph and event checks ({@link FakeCudaChild}). Skips where
 * the fake, the fatbin or the emulation library was not built.
 */
@Tag("emulated")
class FakeCudaTest {
    static final long CHILD_LIMIT_SECONDS = 300;

    static ChildJvm.Run child(String mainClass, String... args) throws IOException, InterruptedException {
        String set = System.getProperty("trm.test.fakeCudaDir");
        Path dir = set != null && Files.isDirectory(Path.of(set)) ? Path.of(set)
                : Path.of(System.getProperty("user.dir")).resolve("../kernels/target/fake-cuda").normalize();
        Path libcuda = dir.resolve("libcuda.so.1"), libcublas = dir.resolve("libcublas.so.13");
        assumeTrue(Files.isRegularFile(libcuda) && Files.isRegularFile(libcublas)
                        && Files.isRegularFile(dir.resolve("libcublasLt.so.13")),
                () -> "the fake CUDA driver was not built in " + dir + " (no cuda.h, or see its build.log)");
        Path emu = KernelImages.emulationLibrary();
        assumeTrue(emu != null, "the emulation library was not built");
        assumeTrue(KernelImages.fatbinBuilt(), "the fatbin was not built (no nvcc): the CUDA probe refuses without it");
        Map<String, String> env = new HashMap<>();
        env.put("TRM_LIBCUDA", libcuda.toString());
        env.put("TRM_LIBCUBLAS", libcublas.toString());
        env.put("TRM_LIBCUBLASLT", null);  // found next to TRM_LIBCUBLAS
        env.put("TRM_FAKE_CUDA_EMU", emu.toString());
        return ChildJvm.run("fake cuda child", CHILD_LIMIT_SECONDS, List.of(), mainClass, List.of(args), env);
    }

    @Test
    void theSelftestPassesOnCudaThroughTheFakeDriver() throws Exception {
        ChildJvm.Run r = child("dev.trm.cli.Main", "selftest", "--device", "cuda");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("selftest: backend cuda (FAKE CUDA device"), r.output());
        assertTrue(r.output().contains(", 0 failed, backend cuda"), r.output());
        assertTrue(r.output().contains("gemmLt bf16 TN batched"), "cuBLASLt ran:\n" + r.output());
    }

    @Test
    void graphAndEventChecksPassOnCudaThroughTheFakeDriver() throws Exception {
        ChildJvm.Run r = child(FakeCudaChild.class.getName());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("fake cuda child: ok"), r.output());
    }
}
