package dev.trm.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the real data sets: walk up from the working directory to a folder with a sibling {@code shared/data}. */
public final class SharedData {
    private SharedData() {}

    /** The shared data folder, or a skipped test (JUnit assumption) when it is absent. */
    public static Path root() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            Path candidate = p.resolveSibling("shared").resolve("data");
            if (p.getParent() != null && Files.isDirectory(candidate)) return candidate;
        }
        assumeTrue(false, "shared/data not found next to the repository; skipping real-data test");
        return null;
    }

    /** A file or folder under shared/data, or a skipped test when it is absent. */
    public static Path file(String relative) {
        Path p = root().resolve(relative);
        assumeTrue(Files.exists(p), p + " absent; skipping");
        return p;
    }
}
