package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.KernelImages;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

    record Run(int exit, String output) {}

    static Run child(String mainClass, String... args) throws IOException, InterruptedException {
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
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xss4m",
                "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        Path work = Files.createTempDirectory("trm-fake-cuda-child");  // hs_err_pid*.log of a crash lands here
        Path log = work.resolve("child.log");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().put("TRM_LIBCUDA", libcuda.toString());
            pb.environment().put("TRM_LIBCUBLAS", libcublas.toString());
            pb.environment().remove("TRM_LIBCUBLASLT");
            pb.environment().put("TRM_FAKE_CUDA_EMU", emu.toString());
            pb.environment().remove("TRM_EMU_SCHEDULE");
            Process p = pb.start();
            boolean exited = p.waitFor(CHILD_LIMIT_SECONDS, TimeUnit.SECONDS);
            if (!exited) p.destroyForcibly().waitFor();
            String text = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println(text.lines().map(l -> "[fake cuda child] " + l).reduce("", (a, b) -> a + b + "\n"));
            assertTrue(exited, "the child ran past " + CHILD_LIMIT_SECONDS + " s:\n" + text);
            return new Run(p.exitValue(), text);
        } finally {
            try (var files = Files.list(work)) {
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(work);
        }
    }

    @Test
    void theSelftestPassesOnCudaThroughTheFakeDriver() throws Exception {
        Run r = child("dev.trm.cli.Main", "selftest", "--device", "cuda");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("selftest: backend cuda (FAKE CUDA device"), r.output());
        assertTrue(r.output().contains(", 0 failed, backend cuda"), r.output());
        assertTrue(r.output().contains("gemmLt bf16 TN batched"), "cuBLASLt ran:\n" + r.output());
    }

    @Test
    void graphAndEventChecksPassOnCudaThroughTheFakeDriver() throws Exception {
        Run r = child(FakeCudaChild.class.getName());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("fake cuda child: ok"), r.output());
    }
}
