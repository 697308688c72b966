package dev.trm.data;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * One split of a dataset written by {@link DatasetOutput}, memory-mapped: examples are read in place, so opening a
 * multi-gigabyte ARC split costs nothing but the index arrays' page faults. Thread-safe for reads.
 *
 * <p>The hierarchy (spec 6.1): group g holds puzzles {@code [groupStart(g), groupEnd(g))}; puzzle p has identifier
 * {@code puzzleIdentifier(p)} and examples {@code [puzzleStart(p), puzzleEnd(p))}; example e is {@code seqLen} input and
 * label tokens. The sampler of spec 6.2 walks groups, picks one puzzle per group, and takes all its examples.
 */
public final class Dataset implements AutoCloseable {
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final Path dir;
    private final DatasetMetadata metadata;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment inputs;
    private final MemorySegment labels;
    private final MemorySegment puzzleIdentifiers;
    private final MemorySegment puzzleIndices;
    private final MemorySegment groupIndices;
    private final int seqLen;

    private Dataset(Path dir, DatasetMetadata metadata) throws IOException {
        this.dir = dir;
        this.metadata = metadata;
        this.seqLen = metadata.seqLen();
        try {
            long n = metadata.totalExamples() * seqLen;
            inputs = map(DatasetWriter.INPUTS, n);
            labels = map(DatasetWriter.LABELS, n);
            puzzleIdentifiers = map(DatasetWriter.PUZZLE_IDENTIFIERS, 4L * metadata.totalPuzzles());
            puzzleIndices = map(DatasetWriter.PUZZLE_INDICES, 4L * (metadata.totalPuzzles() + 1));
            groupIndices = map(DatasetWriter.GROUP_INDICES, 4L * (metadata.totalGroups() + 1));
            checkIndices();
        } catch (RuntimeException | IOException e) {
            arena.close();
            throw e;
        }
    }

    /** Opens {@code root/split} ("train" or "test"); bad or missing files are reported by name. */
    public static Dataset open(Path root, String split) {
        Path dir = root.resolve(split);
        Path meta = dir.resolve(DatasetWriter.METADATA);
        if (!Files.isRegularFile(meta)) {
            throw new DataException(meta + ": missing (not a dataset built by `trm data build`, or no " + split + " split)");
        }
        List<String> identifiers = readIdentifiers(root.resolve(DatasetOutput.IDENTIFIERS));
        DatasetMetadata m = DatasetMetadata.fromJson(Json.asObject(Json.read(meta), meta.toString()), meta.toString(),
                identifiers);
        if (m.numPuzzleIdentifiers() != identifiers.size()) {
            throw new DataException(meta + ": num_puzzle_identifiers " + m.numPuzzleIdentifiers() + " but "
                    + DatasetOutput.IDENTIFIERS + " has " + identifiers.size() + " names");
        }
        try {
            return new Dataset(dir, m);
        } catch (IOException e) {
            throw new DataException(dir + ": cannot map the dataset: " + e.getMessage(), e);
        }
    }

    /** Lists the split folders present under a dataset root. */
    public static List<String> splits(Path root) {
        List<String> out = new ArrayList<>();
        for (String s : List.of("train", "test")) if (Files.isRegularFile(root.resolve(s).resolve(DatasetWriter.METADATA))) out.add(s);
        return out;
    }

    static List<String> readIdentifiers(Path file) {
        if (!Files.isRegularFile(file)) throw new DataException(file + ": missing");
        return Json.asList(Json.read(file), file.toString()).stream().map(o -> Json.asString(o, file.toString())).toList();
    }

    private MemorySegment map(String name, long expectedBytes) throws IOException {
        Path file = dir.resolve(name);
        if (!Files.isRegularFile(file)) throw new DataException(file + ": missing");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() != expectedBytes) {
                throw new DataException(file + ": " + ch.size() + " bytes, dataset.json implies " + expectedBytes);
            }
            if (expectedBytes == 0) return MemorySegment.ofArray(new byte[0]);
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, expectedBytes, arena);
        }
    }

    private void checkIndices() {
        int puzzles = metadata.totalPuzzles();
        int groups = metadata.totalGroups();
        int prev = 0;
        for (int p = 0; p <= puzzles; p++) {
            int v = puzzleIndices.getAtIndex(INT_LE, p);
            if ((p == 0 && v != 0) || v < prev) throw new DataException(dir + ": puzzle_indices not increasing at " + p);
            prev = v;
        }
        if (prev != metadata.totalExamples()) throw new DataException(dir + ": puzzle_indices end at " + prev);
        prev = 0;
        for (int g = 0; g <= groups; g++) {
            int v = groupIndices.getAtIndex(INT_LE, g);
            if ((g == 0 && v != 0) || v < prev) throw new DataException(dir + ": group_indices not increasing at " + g);
            prev = v;
        }
        if (prev != puzzles) throw new DataException(dir + ": group_indices end at " + prev);
        for (int p = 0; p < puzzles; p++) {
            int id = puzzleIdentifiers.getAtIndex(INT_LE, p);
            if (id < 0 || id >= metadata.numPuzzleIdentifiers()) {
                throw new DataException(dir + ": puzzle " + p + " has identifier " + id + " outside the table");
            }
        }
    }

    public DatasetMetadata metadata() {
        return metadata;
    }

    public Path directory() {
        return dir;
    }

    public int seqLen() {
        return seqLen;
    }

    public long exampleCount() {
        return metadata.totalExamples();
    }

    public int puzzleCount() {
        return metadata.totalPuzzles();
    }

    public int groupCount() {
        return metadata.totalGroups();
    }

    /** Copies example e's input tokens into dst[0, seqLen). */
    public void input(long example, int[] dst) {
        copyTokens(inputs, example, dst, 0, -1);
    }

    public int[] input(long example) {
        int[] dst = new int[seqLen];
        input(example, dst);
        return dst;
    }

    /** Copies example e's label tokens into dst[0, seqLen). */
    public void label(long example, int[] dst) {
        copyTokens(labels, example, dst, 0, -1);
    }

    public int[] label(long example) {
        int[] dst = new int[seqLen];
        label(example, dst);
        return dst;
    }

    /** Labels as the loss wants them: tokens equal to ignore_label_id become -100 (spec 3). */
    public void lossLabel(long example, int[] dst, int offset) {
        copyTokens(labels, example, dst, offset, metadata.ignoreLabelId());
    }

    /** Copies example e's input tokens into dst at offset (for filling a [batch, seqLen] buffer). */
    public void input(long example, int[] dst, int offset) {
        copyTokens(inputs, example, dst, offset, -1);
    }

    private void copyTokens(MemorySegment seg, long example, int[] dst, int offset, int ignore) {
        if (example < 0 || example >= metadata.totalExamples()) {
            throw new IndexOutOfBoundsException("example " + example + " of " + metadata.totalExamples());
        }
        long base = example * seqLen;
        for (int i = 0; i < seqLen; i++) {
            int t = Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + i));
            dst[offset + i] = t == ignore ? -100 : t;
        }
    }

    public int puzzleIdentifier(int puzzle) {
        return puzzleIdentifiers.getAtIndex(INT_LE, puzzle);
    }

    /** First example of a puzzle. */
    public int puzzleStart(int puzzle) {
        return puzzleIndices.getAtIndex(INT_LE, puzzle);
    }

    /** One past the last example of a puzzle. */
    public int puzzleEnd(int puzzle) {
        return puzzleIndices.getAtIndex(INT_LE, puzzle + 1);
    }

    /** First puzzle of a group. */
    public int groupStart(int group) {
        return groupIndices.getAtIndex(INT_LE, group);
    }

    /** One past the last puzzle of a group. */
    public int groupEnd(int group) {
        return groupIndices.getAtIndex(INT_LE, group + 1);
    }

    /** The puzzle an example belongs to (binary search over puzzle_indices). */
    public int puzzleOf(long example) {
        int lo = 0, hi = metadata.totalPuzzles() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (puzzleStart(mid) <= example) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    /** The identifier name of a puzzle. */
    public String identifierName(int identifier) {
        return metadata.identifiers().get(identifier);
    }

    /** Re-hashes every array and returns whether the content still matches the recorded fingerprint. */
    public boolean verifyFingerprint() {
        MessageDigest all = DatasetWriter.sha256();
        TokenLayout layout = new TokenLayout(metadata.task(), metadata.vocabSize(), seqLen, metadata.padId(),
                metadata.ignoreLabelId(), metadata.blankIdentifierId());
        all.update(("trm-dataset-v" + DatasetMetadata.FORMAT_VERSION + "|" + layout).getBytes());
        for (MemorySegment s : List.of(inputs, labels, puzzleIdentifiers, puzzleIndices, groupIndices)) {
            MessageDigest d = DatasetWriter.sha256();
            byte[] chunk = new byte[1 << 22];
            for (long off = 0; off < s.byteSize(); off += chunk.length) {
                int len = (int) Math.min(chunk.length, s.byteSize() - off);
                MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off, chunk, 0, len);
                d.update(chunk, 0, len);
            }
            all.update(d.digest());
        }
        MessageDigest ids = DatasetWriter.sha256();
        for (String id : metadata.identifiers()) {
            ids.update(id.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            ids.update((byte) '\n');
        }
        all.update(HexFormat.of().formatHex(ids.digest()).getBytes());
        return HexFormat.of().formatHex(all.digest()).equals(metadata.fingerprint());
    }

    @Override
    public void close() {
        arena.close();
    }
}
