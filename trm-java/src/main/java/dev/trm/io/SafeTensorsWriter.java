package dev.trm.io;

import dev.trm.data.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * Writes a safetensors file, atomically, in the exact layout of the reference (Rust) writer:
 *
 * <pre>
 *   8 bytes   little-endian u64 N
 *   N bytes   JSON header {"__metadata__": {k: v, ...}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...},
 *             padded with spaces to a multiple of 8
 *   data      raw little-endian values, tensors back to back in header order
 * </pre>
 *
 * Tensors are ordered as the reference orders them: by dtype, widest-ranked first (I64, F64, F32, I32, BF16), then by
 * name; metadata keys are sorted. Values are streamed through a 1 MiB buffer, so a 1.7 GiB puzzle table never exists
 * as one byte array.
 *
 * <p>Atomicity: the bytes go to a temporary file in the target's directory, which is fsynced, renamed over the target
 * and the directory fsynced. On any failure (disk full, unwritable directory) the temporary file is deleted, the old
 * target is left as it was, and an {@link UncheckedIOException} names the path.
 *
 * <p>Optional checksum ({@link #checksum(String)}): CRC32C of the header (with the checksum value itself as the
 * placeholder {@code crc32c:00000000}) followed by the data section, stored in the metadata as
 * {@code "crc32c:xxxxxxxx"}: an edit to the metadata (a config field) is caught as well as one to the data. The header
 * is written first with the placeholder and patched in place once the data has streamed by, so the data is encoded
 * only once. One writer per file; not thread-safe.
 */
public final class SafeTensorsWriter {
    /** The prefix of a checksum value; {@link #verifyChecksum} reads it back. */
    public static final String CRC32C_PREFIX = "crc32c:";
    private static final String PLACEHOLDER = CRC32C_PREFIX + "00000000";
    private static final int BUFFER = 1 << 20;
    private static final List<String> DTYPE_ORDER = List.of("I64", "F64", "F32", "I32", "BF16");

    private final Map<String, TensorData> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new TreeMap<>();
    private String checksumKey;
    /** Test seam: fail with an IOException once this many data bytes have been written (-1 = never). */
    long failAfterDataBytes = -1;

    public SafeTensorsWriter add(String name, TensorData tensor) {
        if (name == null || name.isEmpty() || name.equals("__metadata__")) {
            throw new IllegalArgumentException("bad tensor name '" + name + "'");
        }
        if (tensors.putIfAbsent(name, tensor) != null) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        return this;
    }

    public SafeTensorsWriter metadata(String key, String value) {
        if (key.equals(checksumKey)) throw new IllegalArgumentException("metadata key '" + key + "' holds the checksum");
        metadata.put(key, value);
        return this;
    }

    public SafeTensorsWriter metadata(Map<String, String> entries) {
        entries.forEach(this::metadata);
        return this;
    }

    /** Stores the CRC32C of the data section under this metadata key. */
    public SafeTensorsWriter checksum(String key) {
        if (metadata.containsKey(key)) throw new IllegalArgumentException("metadata key '" + key + "' already set");
        checksumKey = key;
        return this;
    }

    /** Writes the file atomically (see the class comment); returns the checksum value, or null without one. */
    public String write(Path target) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            // A fresh name beside the target (same file system, so the rename is atomic), created with the default
            // permissions (the umask's), unlike Files.createTempFile's owner-only ones.
            String suffix = Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
            Path candidate = dir.resolve("." + abs.getFileName() + "." + suffix + ".tmp");
            String checksum;
            try (FileChannel ch = FileChannel.open(candidate, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                tmp = candidate;
                checksum = writeTo(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            syncDirectory(dir);
            return checksum;
        } catch (IOException | RuntimeException e) {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure is the one to report
                }
            }
            if (e instanceof IllegalArgumentException iae) throw iae;
            String why = e.getMessage() != null ? e.getMessage() : e.toString();
            if (e instanceof java.nio.file.AccessDeniedException) why = "permission denied";
            if (e instanceof java.nio.file.NoSuchFileException) why = "no such directory";
            throw new UncheckedIOException(target + ": cannot write: " + why + " (nothing was changed)",
                    e instanceof IOException io ? io : new IOException(e));
        }
    }

    /** The header bytes (JSON, padded to a multiple of 8) and the byte offset of the checksum value in them. */
    private record Header(byte[] bytes, int checksumAt) {}

    private List<Map.Entry<String, TensorData>> ordered() {
        List<Map.Entry<String, TensorData>> list = new ArrayList<>(tensors.entrySet());
        list.sort(Comparator.comparingInt((Map.Entry<String, TensorData> e) -> DTYPE_ORDER.indexOf(e.getValue().dtype()))
                .thenComparing(Map.Entry::getKey));
        return list;
    }

    private Header header(List<Map.Entry<String, TensorData>> order) {
        StringBuilder sb = new StringBuilder("{");
        int checksumChar = -1;
        if (!metadata.isEmpty() || checksumKey != null) {
            Map<String, String> meta = new TreeMap<>(metadata);
            if (checksumKey != null) meta.put(checksumKey, PLACEHOLDER);
            sb.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> m : meta.entrySet()) {
                if (!first) sb.append(',');
                first = false;
                Json.write(sb, m.getKey());
                sb.append(':');
                if (m.getKey().equals(checksumKey)) checksumChar = sb.length() + 1; // after the opening quote
                Json.write(sb, m.getValue());
            }
            sb.append('}');
        }
        long offset = 0;
        for (Map.Entry<String, TensorData> e : order) {
            if (sb.length() > 1) sb.append(',');
            TensorData t = e.getValue();
            Json.write(sb, e.getKey());
            sb.append(":{\"dtype\":\"").append(t.dtype()).append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) sb.append(i > 0 ? "," : "").append(shape[i]);
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(offset + t.byteSize()).append("]}");
            offset += t.byteSize();
        }
        sb.append('}');
        int bytes = sb.toString().getBytes(StandardCharsets.UTF_8).length;
        sb.append(" ".repeat((8 - bytes % 8) % 8));
        int at = checksumChar < 0 ? -1 : sb.substring(0, checksumChar).getBytes(StandardCharsets.UTF_8).length;
        return new Header(sb.toString().getBytes(StandardCharsets.UTF_8), at);
    }

    private String writeTo(FileChannel ch) throws IOException {
        List<Map.Entry<String, TensorData>> order = ordered();
        Header h = header(order);
        ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.bytes().length);
        buf.flip();
        writeFully(ch, buf);
        writeFully(ch, ByteBuffer.wrap(h.bytes()));
        CRC32C crc = new CRC32C();
        crc.update(h.bytes());   // the header as written, placeholder included
        DataSink sink = new DataSink(ch, buf, crc);
        for (Map.Entry<String, TensorData> e : order) sink.put(e.getValue());
        sink.flush();
        if (h.checksumAt() < 0) return null;
        String value = CRC32C_PREFIX + HexFormat.of().toHexDigits((int) crc.getValue());
        ch.write(ByteBuffer.wrap(value.getBytes(StandardCharsets.US_ASCII)), 8 + h.checksumAt());
        return value;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    /** Encodes values little-endian into the buffer, feeding the CRC and the file each time it fills. */
    private final class DataSink {
        final FileChannel ch;
        final ByteBuffer buf;
        final CRC32C crc;
        long written;

        DataSink(FileChannel ch, ByteBuffer buf, CRC32C crc) {
            this.ch = ch;
            this.buf = buf;
            this.crc = crc;
            buf.clear();
        }

        void put(TensorData t) throws IOException {
            switch (t) {
                case TensorData.F32 f -> {
                    float[] v = f.values();
                    for (int i = 0; i < v.length; ) {
                        int n = Math.min(v.length - i, buf.remaining() / 4);
                        if (n == 0) { flush(); continue; }
                        buf.asFloatBuffer().put(v, i, n);
                        buf.position(buf.position() + 4 * n);
                        i += n;
                    }
                }
                case TensorData.BF16 f -> {
                    for (float x : f.values()) {
                        if (buf.remaining() < 2) flush();
                        buf.putShort(TensorData.toBf16(x));
                    }
                }
                case TensorData.F64 f -> {
                    double[] v = f.values();
                    for (int i = 0; i < v.length; ) {
                        int n = Math.min(v.length - i, buf.remaining() / 8);
                        if (n == 0) { flush(); continue; }
                        buf.asDoubleBuffer().put(v, i, n);
                        buf.position(buf.position() + 8 * n);
                        i += n;
                    }
                }
                case TensorData.I32 f -> {
                    int[] v = f.values();
                    for (int i = 0; i < v.length; ) {
                        int n = Math.min(v.length - i, buf.remaining() / 4);
                        if (n == 0) { flush(); continue; }
                        buf.asIntBuffer().put(v, i, n);
                        buf.position(buf.position() + 4 * n);
                        i += n;
                    }
                }
                case TensorData.I64 f -> {
                    long[] v = f.values();
                    for (int i = 0; i < v.length; ) {
                        int n = Math.min(v.length - i, buf.remaining() / 8);
                        if (n == 0) { flush(); continue; }
                        buf.asLongBuffer().put(v, i, n);
                        buf.position(buf.position() + 8 * n);
                        i += n;
                    }
                }
            }
        }

        void flush() throws IOException {
            buf.flip();
            crc.update(buf.duplicate());
            written += buf.remaining();
            if (failAfterDataBytes >= 0 && written > failAfterDataBytes) throw new IOException("simulated write failure");
            writeFully(ch, buf);
            buf.clear();
        }
    }

    private static void syncDirectory(Path dir) {
        // Makes the rename itself durable. Linux allows fsync on a directory opened for reading; where a platform
        // refuses, the data is still safe and the rename is as durable as that platform makes it.
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // see above
        }
    }

    /**
     * Recomputes the CRC32C of a file's data section and compares it with the value stored under {@code key}.
     * Returns null when they agree, or a sentence saying what is wrong.
     */
    public static String verifyChecksum(SafeTensors file, String key) {
        String stored = file.metadata().get(key);
        if (stored == null) return "no checksum in its metadata";
        if (!stored.startsWith(CRC32C_PREFIX)) return "unknown checksum '" + stored + "'";
        CRC32C crc = new CRC32C();
        // The header as it was written: the stored value back to the placeholder (same width, one occurrence).
        byte[] header = file.headerBytes();
        byte[] value = stored.getBytes(StandardCharsets.US_ASCII), placeholder = PLACEHOLDER.getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(header, ("\"" + key + "\":\"").getBytes(StandardCharsets.UTF_8));
        if (at < 0 || value.length != placeholder.length) return "malformed checksum entry '" + stored + "'";
        at += key.getBytes(StandardCharsets.UTF_8).length + 4;
        System.arraycopy(placeholder, 0, header, at, placeholder.length);
        crc.update(header);
        java.lang.foreign.MemorySegment data = file.dataSection();
        for (long off = 0; off < data.byteSize(); off += 1L << 30) {
            crc.update(data.asSlice(off, Math.min(1L << 30, data.byteSize() - off)).asByteBuffer());
        }
        String actual = CRC32C_PREFIX + HexFormat.of().toHexDigits((int) crc.getValue());
        return actual.equals(stored) ? null : "checksum mismatch: the file was altered or corrupted (stored " + stored
                + ", header and data hash to " + actual + ")";
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
