package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A test's child JVM (EmulatedAsanTest: under AddressSanitizer; FakeCudaTest: on the fake CUDA driver): this JVM's
 * java and class path, the project's flags, a main class and its arguments, environment variables set or removed. It
 * runs in a directory of its own, deleted after: a child that crashes writes hs_err_pid*.log into its working
 * directory, which would otherwise be trm-java/. Its output is printed with a prefix, and a child past its time limit
 * is killed and fails the test instead of holding CI.
 */
final class ChildJvm {
    private ChildJvm() {}

    record Run(int exit, String output) {}

    /** env: variables to set; a null value removes the variable from the child's environment. */
    static Run run(String prefix, long limitSeconds, List<String> jvmOptions, String mainClass, List<String> args,
                   Map<String, String> env) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xss4m"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        Path work = Files.createTempDirectory("trm-child-jvm");
        Path log = work.resolve("child.log");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().remove("TRM_EMU_SCHEDULE");  // the child runs the default schedule
            env.forEach((k, v) -> {
                if (v == null) pb.environment().remove(k);
                else pb.environment().put(k, v);
            });
            Process p = pb.start();
            boolean exited = p.waitFor(limitSeconds, TimeUnit.SECONDS);
            if (!exited) p.destroyForcibly().waitFor();
            String text = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println(text.lines().map(l -> "[" + prefix + "] " + l).reduce("", (a, b) -> a + b + "\n"));
            assertTrue(exited, "the child ran past " + limitSeconds + " s:\n" + text);
            return new Run(p.exitValue(), text);
        } finally {
            try (var files = Files.list(work)) {
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(work);
        }
    }
}
