package dev.trm.data;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A memory-mapped NumPy {@code .npy} array (format versions 1-3), C order, integer dtypes only: what the official
 * builders write ({@code uint8} tokens, {@code int32} indices). Elements are read as {@code long}.
 */
public final class Npy implements AutoCloseable {
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private final Path file;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment data;
    private final long[] shape;
    private final int itemSize;
    private final boolean signed;
    private final ByteOrder order;

    private Npy(Path file) throws IOException {
        this.file = file;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            byte[] magic = all.asSlice(0, Math.min(6, all.byteSize())).toArray(ValueLayout.JAVA_BYTE);
            if (!Arrays.equals(magic, new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'})) throw bad("not a .npy file");
            int major = all.get(ValueLayout.JAVA_BYTE, 6);
            long headerLen;
            long headerStart;
            if (major == 1) {
                headerLen = Short.toUnsignedInt(all.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8));
                headerStart = 10;
            } else if (major == 2 || major == 3) {
                headerLen = Integer.toUnsignedLong(all.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8));
                headerStart = 12;
            } else {
                throw bad("unsupported .npy version " + major);
            }
            String header = new String(all.asSlice(headerStart, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1);
            String descr = group(DESCR, header, "descr");
            if (group(FORTRAN, header, "fortran_order").equals("True")) throw bad("Fortran-order arrays are not supported");
            String dims = group(SHAPE, header, "shape").trim();
            shape = dims.isEmpty() ? new long[0]
                    : Arrays.stream(dims.split(",")).map(String::trim).filter(s -> !s.isEmpty()).mapToLong(Long::parseLong).toArray();
            char kind = descr.length() >= 3 ? descr.charAt(1) : '?';
            if (kind != 'u' && kind != 'i' && kind != 'b') throw bad("dtype " + descr + " is not an integer type");
            itemSize = Integer.parseInt(descr.substring(2));
            if (itemSize != 1 && itemSize != 2 && itemSize != 4 && itemSize != 8) throw bad("dtype " + descr + " unsupported");
            signed = kind == 'i';
            order = descr.charAt(0) == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
            long count = 1;
            for (long d : shape) count *= d;
            long dataStart = headerStart + headerLen;
            if (all.byteSize() - dataStart != count * itemSize) {
                throw bad("holds " + (all.byteSize() - dataStart) + " data bytes, shape " + Arrays.toString(shape)
                        + " x " + itemSize + " needs " + count * itemSize);
            }
            data = all.asSlice(dataStart, count * itemSize);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public static Npy open(Path file) {
        try {
            return new Npy(file);
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private DataException bad(String what) {
        return new DataException(file + ": " + what);
    }

    private String group(Pattern p, String header, String key) {
        Matcher m = p.matcher(header);
        if (!m.find()) throw bad("header has no '" + key + "'");
        return m.group(1);
    }

    public long[] shape() {
        return shape.clone();
    }

    public long size() {
        return data.byteSize() / itemSize;
    }

    /** Element i of the flattened array. */
    public long get(long i) {
        long off = i * itemSize;
        return switch (itemSize) {
            case 1 -> signed ? data.get(ValueLayout.JAVA_BYTE, off) : Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, off));
            case 2 -> {
                short s = data.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order), off);
                yield signed ? s : Short.toUnsignedLong(s);
            }
            case 4 -> {
                int v = data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(order), off);
                yield signed ? v : Integer.toUnsignedLong(v);
            }
            default -> data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order), off);
        };
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        arena.close();
    }
}
