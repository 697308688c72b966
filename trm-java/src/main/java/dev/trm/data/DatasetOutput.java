package dev.trm.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A dataset directory under construction. Everything is written into a hidden temporary sibling of the target and moved
 * into place by {@link #commit}; {@link #close} without a commit deletes the temporary folder, so a failed build leaves
 * nothing behind.
 *
 * <pre>
 * DIR/identifiers.json        ["&lt;blank&gt;", name1, ...]   identifier id -> name
 * DIR/test_puzzles.json       ARC only: the original test-split tasks with their solutions (for the evaluator)
 * DIR/&lt;split&gt;/dataset.json     {@link DatasetMetadata}
 * DIR/&lt;split&gt;/*.u8, *.i32       arrays, see {@link DatasetWriter}
 * </pre>
 */
public final class DatasetOutput implements AutoCloseable {
    public static final String IDENTIFIERS = "identifiers.json";

    private final Path target;
    private final Path temp;
    private final Map<String, DatasetWriter> splits = new LinkedHashMap<>();
    private boolean committed;

    private DatasetOutput(Path target, Path temp) {
        this.target = target;
        this.temp = temp;
    }

    /** Starts a dataset at {@code target}, which must not exist yet (or, with {@code replace}, may exist). */
    public static DatasetOutput create(Path target, boolean replace) {
        Path abs = target.toAbsolutePath().normalize();
        if (Files.exists(abs) && !replace) {
            throw new DataException(target + ": already exists (choose another --out, or pass --force to replace it)");
        }
        try {
            Files.createDirectories(abs.getParent());
            Path temp = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".tmp-");
            return new DatasetOutput(abs, temp);
        } catch (IOException e) {
            throw new DataException(target + ": cannot create the output folder: " + e.getMessage(), e);
        }
    }

    /** Opens a split writer ("train", "test"). */
    public DatasetWriter split(String name, TokenLayout layout) {
        if (splits.containsKey(name)) throw new IllegalStateException("split " + name + " opened twice");
        try {
            DatasetWriter w = new DatasetWriter(temp.resolve(name), name, layout);
            splits.put(name, w);
            return w;
        } catch (IOException e) {
            throw new DataException(target + ": cannot write split " + name + ": " + e.getMessage(), e);
        }
    }

    /** Writes an extra file at the dataset root (e.g. test_puzzles.json). */
    public void writeFile(String name, String content) {
        try {
            Files.writeString(temp.resolve(name), content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DataException(target + ": cannot write " + name + ": " + e.getMessage(), e);
        }
    }

    /** Finishes every split with the shared identifier names, moves the folder into place, returns split metadata. */
    public List<DatasetMetadata> commit(List<String> identifiers) {
        try {
            StringBuilder sb = new StringBuilder(identifiers.size() * 24);
            Json.write(sb, identifiers);
            sb.append('\n');
            Files.writeString(temp.resolve(IDENTIFIERS), sb, StandardCharsets.UTF_8);
            MessageDigest d = DatasetWriter.sha256();
            for (String id : identifiers) {
                d.update(id.getBytes(StandardCharsets.UTF_8));
                d.update((byte) '\n');
            }
            String identifiersDigest = HexFormat.of().formatHex(d.digest());
            List<DatasetMetadata> metas = new ArrayList<>();
            for (DatasetWriter w : splits.values()) metas.add(w.finish(identifiers, identifiersDigest));
            if (Files.exists(target)) deleteTree(target);
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
                Files.move(temp, target);
            }
            committed = true;
            return metas;
        } catch (IOException e) {
            throw new DataException(target + ": cannot finish the dataset: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (committed) return;
        for (DatasetWriter w : splits.values()) {
            try {
                w.close();
            } catch (IOException ignored) {
                // the folder is deleted next
            }
        }
        deleteTree(temp);
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) return;
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
