package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The real CUDA path ({@link CudaDriver}, through the jextract bindings) on a FAKE driver: the libcuda.so.1, cuBLAS
 * and cuBLASLt that kernels/build-kernels.sh builds from kernels/src/test/fake-cuda/ into kernels/target/fake-cuda/
 * (host memory; kernels run in the emulation library). A child JVM ({@link FakeCudaChild}) gets TRM_LIBCUDA and
 * TRM_LIBCUBLAS pointing at them, opens the CUDA device and runs the device contracts and GEMMs. What this catches:
 * marshalling (out-parameters, handles, struct fields, flags, byte counts) and call sequences (capture, graphs) that
 * the fake checks as cuda.h documents them. What it cannot: real hardware behaviour, and the fake's own misreadings
 * of the API (see the top of fake_cuda.cpp). Skips where the fake, the fatbin or the emulation library was not built.
 */
@Tag("emulated")
class FakeCudaDriverTest {
    /** A child that hangs fails the test instead of holding the build. */
    static final long CHILD_LIMIT_SECONDS = 240;

    record Run(int exit, String output) {}

    /** The folder of the fake libraries: -Dtrm.test.fakeCudaDir (the root pom sets it), else ../kernels/target/fake-cuda. */
    static Path fakeDir() {
        String set = System.getProperty("trm.test.fakeCudaDir");
        if (set != null && Files.isDirectory(Path.of(set))) return Path.of(set);
        return Path.of(System.getProperty("user.dir")).resolve("../kernels/target/fake-cuda").normalize();
    }

    /** Runs main of the class in a child JVM on the fake driver; skips where a part is missing. */
    static Run child(String mainClass, List<String> args) throws IOException, InterruptedException {
        Path dir = fakeDir();
        Path libcuda = dir.resolve("libcuda.so.1"), libcublas = dir.resolve("libcublas.so.13");
        assumeTrue(Files.isRegularFile(libcuda) && Files.isRegularFile(libcublas)
                        && Files.isRegularFile(dir.resolve("libcublasLt.so.13")),
                () -> "the fake CUDA driver was not built in " + dir + " (no cuda.h, or see its build.log)");
        Path emu = KernelImages.emulationLibrary();
        assumeTrue(emu != null, "the emulation library was not built");
        assumeTrue(KernelImages.fatbinBuilt(), "the fatbin was not built (no nvcc): the CUDA probe refuses without it");
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xss4m",
                "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        // A directory of its own, deleted after: a child that crashes writes hs_err_pid*.log into it.
        Path work = Files.createTempDirectory("trm-fake-cuda-child");
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
    void theCudaDriverPathPassesTheDeviceContractsOnTheFakeDriver() throws Exception {
        Run r = child(FakeCudaChild.class.getName(), List.of());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("fake child: ok"), r.output());
        assertTrue(r.output().contains("opened cuda:0 FAKE CUDA device"), r.output());
    }
}
