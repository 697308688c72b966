package dev.trm.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Streams one split to disk: examples go straight to {@code inputs.u8} / {@code labels.u8} through a small buffer, so
 * memory stays at the size of the index arrays however big the split is. Call {@link #addExample} for each pair of the
 * current puzzle, {@link #endPuzzle} with its identifier, {@link #endGroup} after the last puzzle of a group.
 *
 * <p>Files of a split, all little-endian, shapes in dataset.json:
 * {@code inputs.u8} [examples, seq_len] uint8, {@code labels.u8} [examples, seq_len] uint8,
 * {@code puzzle_identifiers.i32} [puzzles], {@code puzzle_indices.i32} [puzzles+1] (example offsets, CSR),
 * {@code group_indices.i32} [groups+1] (puzzle offsets, CSR).
 */
public final class DatasetWriter implements AutoCloseable {
    static final String INPUTS = "inputs.u8";
    static final String LABELS = "labels.u8";
    static final String PUZZLE_IDENTIFIERS = "puzzle_identifiers.i32";
    static final String PUZZLE_INDICES = "puzzle_indices.i32";
    static final String GROUP_INDICES = "group_indices.i32";
    static final String METADATA = "dataset.json";

    private final Path dir;
    private final String split;
    private final TokenLayout layout;
    private final Stream inputs;
    private final Stream labels;
    private final IntList puzzleIdentifiers = new IntList();
    private final IntList puzzleIndices = new IntList();
    private final IntList groupIndices = new IntList();
    private long examples;
    private boolean finished;

    DatasetWriter(Path dir, String split, TokenLayout layout) throws IOException {
        this.dir = dir;
        this.split = split;
        this.layout = layout;
        Files.createDirectories(dir);
        this.inputs = new Stream(dir.resolve(INPUTS));
        this.labels = new Stream(dir.resolve(LABELS));
        puzzleIndices.add(0);
        groupIndices.add(0);
    }

    public TokenLayout layout() {
        return layout;
    }

    /** Appends one (input, label) pair to the current puzzle; both are seq_len token ids below vocab_size. */
    public void addExample(byte[] input, byte[] label) {
        check(input, "input");
        check(label, "label");
        if (examples + 1 > Integer.MAX_VALUE) throw new DataException("split " + split + ": more than 2^31 examples");
        inputs.write(input);
        labels.write(label);
        examples++;
    }

    private void check(byte[] tokens, String what) {
        if (tokens.length != layout.seqLen()) {
            throw new IllegalArgumentException(what + " has " + tokens.length + " tokens, expected " + layout.seqLen());
        }
        for (byte b : tokens) {
            if ((b & 0xFF) >= layout.vocabSize()) {
                throw new IllegalArgumentException(what + " token " + (b & 0xFF) + " outside vocab " + layout.vocabSize());
            }
        }
    }

    /** Closes the current puzzle (at least one example) under the given identifier. */
    public void endPuzzle(int identifier) {
        if (examples == puzzleIndices.last()) throw new IllegalStateException("a puzzle needs at least one example");
        puzzleIdentifiers.add(identifier);
        puzzleIndices.add((int) examples);
    }

    /** Closes the current group (at least one puzzle). */
    public void endGroup() {
        if (examples != puzzleIndices.last()) throw new IllegalStateException("endPuzzle before endGroup");
        if (puzzleIdentifiers.size() == groupIndices.last()) throw new IllegalStateException("a group needs a puzzle");
        groupIndices.add(puzzleIdentifiers.size());
    }

    public long examples() {
        return examples;
    }

    /** Writes the index arrays and dataset.json; returns the split's metadata with its fingerprint. */
    DatasetMetadata finish(List<String> identifiers, String identifiersDigest) throws IOException {
        if (examples != puzzleIndices.last() || puzzleIdentifiers.size() != groupIndices.last()) {
            throw new IllegalStateException("split " + split + ": unfinished puzzle or group");
        }
        for (int i = 0; i < puzzleIdentifiers.size(); i++) {
            int id = puzzleIdentifiers.get(i);
            if (id < 0 || id >= identifiers.size()) {
                throw new IllegalStateException("puzzle identifier " + id + " outside 0.." + (identifiers.size() - 1));
            }
        }
        finished = true;
        byte[] inputsDigest = inputs.finish();
        byte[] labelsDigest = labels.finish();
        byte[] idsDigest = writeInts(dir.resolve(PUZZLE_IDENTIFIERS), puzzleIdentifiers);
        byte[] puzzleDigest = writeInts(dir.resolve(PUZZLE_INDICES), puzzleIndices);
        byte[] groupDigest = writeInts(dir.resolve(GROUP_INDICES), groupIndices);
        int puzzles = puzzleIdentifiers.size();
        int groups = groupIndices.size() - 1;
        MessageDigest all = sha256();
        all.update(("trm-dataset-v" + DatasetMetadata.FORMAT_VERSION + "|" + layout).getBytes());
        for (byte[] d : List.of(inputsDigest, labelsDigest, idsDigest, puzzleDigest, groupDigest)) all.update(d);
        all.update(identifiersDigest.getBytes());
        DatasetMetadata meta = new DatasetMetadata(layout.task(), split, layout.vocabSize(), layout.seqLen(),
                layout.padId(), layout.ignoreLabelId(), layout.blankIdentifierId(), identifiers.size(), groups, puzzles,
                examples, puzzles == 0 ? 0 : (double) examples / puzzles, List.of("all"),
                HexFormat.of().formatHex(all.digest()), identifiers);
        Files.writeString(dir.resolve(METADATA), Json.write(meta.toJson()) + "\n");
        return meta;
    }

    private static byte[] writeInts(Path file, IntList values) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(values.size() * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.size(); i++) buf.putInt(values.get(i));
        buf.flip();
        MessageDigest d = sha256();
        d.update(buf.duplicate());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (buf.hasRemaining()) ch.write(buf);
        }
        return d.digest();
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() throws IOException {
        if (!finished) {
            inputs.close();
            labels.close();
        }
    }

    /**
     * A buffered, hashed append-only file. Full buffers are hashed and written by a background thread while the caller
     * fills the other buffer, so SHA-256 (the fingerprint) and disk writes overlap with building examples.
     */
    private static final class Stream {
        private final FileChannel channel;
        private final MessageDigest digest = sha256();
        private final java.util.concurrent.ExecutorService io;
        private ByteBuffer buffer = ByteBuffer.allocate(1 << 22);
        private ByteBuffer spare = ByteBuffer.allocate(1 << 22);
        private java.util.concurrent.Future<?> pending;

        Stream(Path file) throws IOException {
            channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            io = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "dataset-writer " + file.getFileName());
                t.setDaemon(true);
                return t;
            });
        }

        void write(byte[] bytes) {
            if (buffer.remaining() < bytes.length) flush();
            buffer.put(bytes);
        }

        /** Hands the filled buffer to the background thread and continues in the spare one. */
        private void flush() {
            await();
            ByteBuffer full = buffer.flip();
            buffer = spare;
            buffer.clear();
            spare = full;
            pending = io.submit(() -> {
                // a heap buffer: MessageDigest hashes a byte[] on its fast path
                digest.update(full.array(), 0, full.limit());
                try {
                    while (full.hasRemaining()) channel.write(full);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }

        private void await() {
            if (pending == null) return;
            try {
                pending.get();
            } catch (java.util.concurrent.ExecutionException e) {
                throw new DataException("cannot write dataset: " + e.getCause().getMessage(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DataException("interrupted while writing the dataset", e);
            } finally {
                pending = null;
            }
        }

        byte[] finish() throws IOException {
            flush();
            await();
            io.shutdown();
            channel.close();
            return digest.digest();
        }

        void close() throws IOException {
            io.shutdownNow();
            channel.close();
        }
    }
}
