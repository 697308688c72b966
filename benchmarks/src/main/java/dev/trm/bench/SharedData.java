package dev.trm.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates shared/data next to the repository by walking up from the working directory. */
final class SharedData {
    private SharedData() {}

    static Path find() {
        for (Path p = Path.of("").toAbsolutePath(); p != null && p.getParent() != null; p = p.getParent()) {
            Path candidate = p.resolveSibling("shared").resolve("data");
            if (Files.isDirectory(candidate)) return candidate;
        }
        throw new IllegalStateException("shared/data not found next to the repository");
    }
}
