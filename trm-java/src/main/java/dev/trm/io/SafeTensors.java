package dev.trm.io;

import dev.trm.data.DataException;
import dev.trm.data.Json;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a safetensors file (the format PyTorch and every safetensors library write): an 8-byte little-endian header
 * length N, N bytes of JSON {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}}, then
 * the raw little-endian data. The file is memory-mapped (files over 2 GiB work), so opening costs nothing beyond
 * the header. One owner; {@link #close()} unmaps.
 */
public final class SafeTensors implements AutoCloseable {

    /** One entry of the header: dtype as the format spells it (F32, F64, BF16, F16, I64, I32, I16, I8, U8, BOOL). */
    public record Info(String dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public int[] intShape() {
            int[] s = new int[shape.length];
            for (int i = 0; i < s.length; i++) s[i] = Math.toIntExact(shape[i]);
            return s;
        }
    }

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final Arena arena;
    private final MemorySegment header;
    private final MemorySegment data;
    private final Map<String, Info> infos;
    private final Map<String, String> metadata;

    private SafeTensors(Path file, Arena arena, MemorySegment header, MemorySegment data, Map<String, Info> infos,
                        Map<String, String> meta) {
        this.file = file;
        this.arena = arena;
        this.header = header;
        this.data = data;
        this.infos = infos;
        this.metadata = meta;
    }

    /** Opens and validates the header (offsets inside the file, sizes matching dtype x shape); errors name the file. */
    public static SafeTensors open(Path file) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new DataException(file + ": not a safetensors file (" + size + " bytes)");
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = all.get(I64, 0);
            if (n <= 0 || n > size - 8 || n > 100_000_000) {
                throw new DataException(file + ": not a safetensors file (header length " + n + ", file " + size + " bytes)");
            }
            String header = new String(all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.UTF_8);
            Map<String, Object> root = Json.asObject(Json.parse(header), file + ": header");
            MemorySegment data = all.asSlice(8 + n);
            Map<String, Info> infos = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : root.entrySet()) {
                String where = file + ": tensor '" + e.getKey() + "'";
                Map<String, Object> o = Json.asObject(e.getValue(), where);
                if (e.getKey().equals("__metadata__")) {
                    for (Map.Entry<String, Object> m : o.entrySet()) meta.put(m.getKey(), String.valueOf(m.getValue()));
                    continue;
                }
                String dtype = Json.asString(Json.field(o, "dtype", where), where + " dtype");
                List<Object> shapeList = Json.asList(Json.field(o, "shape", where), where + " shape");
                List<Object> offs = Json.asList(Json.field(o, "data_offsets", where), where + " data_offsets");
                long[] shape = new long[shapeList.size()];
                for (int i = 0; i < shape.length; i++) shape[i] = Json.asLong(shapeList.get(i), where + " shape");
                if (offs.size() != 2) throw new DataException(where + ": data_offsets must have 2 entries");
                Info info = new Info(dtype, shape, Json.asLong(offs.get(0), where), Json.asLong(offs.get(1), where));
                long want = info.elements() * bytesOf(dtype, where);
                if (info.begin() < 0 || info.end() > data.byteSize() || info.end() - info.begin() != want) {
                    throw new DataException(where + ": data_offsets [" + info.begin() + ", " + info.end()
                            + ") do not fit " + dtype + " " + java.util.Arrays.toString(shape) + " in "
                            + data.byteSize() + " data bytes (truncated or altered file?)");
                }
                infos.put(e.getKey(), info);
            }
            return new SafeTensors(file, arena, all.asSlice(8, n), data, infos, meta);
        } catch (IOException e) {
            arena.close();
            throw new DataException(file + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    static int bytesOf(String dtype, String where) {
        return switch (dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "BF16", "F16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL" -> 1;
            default -> throw new DataException(where + ": unsupported dtype " + dtype);
        };
    }

    public Path file() {
        return file;
    }

    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(infos.keySet());
    }

    public boolean has(String name) {
        return infos.containsKey(name);
    }

    public Info info(String name) {
        Info i = infos.get(name);
        if (i == null) throw new DataException(file + ": no tensor '" + name + "'");
        return i;
    }

    /** The JSON header's raw bytes, padding included (for checksums). */
    public byte[] headerBytes() {
        return header.toArray(ValueLayout.JAVA_BYTE);
    }

    /** Everything after the header: the raw data every tensor's offsets point into (for checksums). */
    public MemorySegment dataSection() {
        return data;
    }

    /** The raw bytes of a tensor (a view into the mapping; valid until close). */
    public MemorySegment bytes(String name) {
        Info i = info(name);
        return data.asSlice(i.begin(), i.end() - i.begin());
    }

    /** Any float dtype widened or narrowed to float (bf16 and f16 exactly, f64 rounded). */
    public float[] floats(String name) {
        Info i = info(name);
        MemorySegment s = bytes(name);
        float[] out = new float[Math.toIntExact(i.elements())];
        switch (i.dtype()) {
            case "F32" -> MemorySegment.copy(s, F32, 0, out, 0, out.length);
            case "F64" -> { for (int k = 0; k < out.length; k++) out[k] = (float) s.getAtIndex(F64, k); }
            case "BF16" -> { for (int k = 0; k < out.length; k++) out[k] = Float.intBitsToFloat((s.getAtIndex(I16, k) & 0xffff) << 16); }
            case "F16" -> { for (int k = 0; k < out.length; k++) out[k] = Float.float16ToFloat(s.getAtIndex(I16, k)); }
            default -> throw new DataException(file + ": tensor '" + name + "' is " + i.dtype() + ", not a float type");
        }
        return out;
    }

    public double[] doubles(String name) {
        Info i = info(name);
        if (!i.dtype().equals("F64")) {
            float[] f = floats(name);
            double[] d = new double[f.length];
            for (int k = 0; k < f.length; k++) d[k] = f[k];
            return d;
        }
        MemorySegment s = bytes(name);
        double[] out = new double[Math.toIntExact(i.elements())];
        for (int k = 0; k < out.length; k++) out[k] = s.getAtIndex(F64, k);
        return out;
    }

    public long[] longs(String name) {
        Info i = info(name);
        MemorySegment s = bytes(name);
        long[] out = new long[Math.toIntExact(i.elements())];
        switch (i.dtype()) {
            case "I64", "U64" -> { for (int k = 0; k < out.length; k++) out[k] = s.getAtIndex(I64, k); }
            case "I32" -> { for (int k = 0; k < out.length; k++) out[k] = s.getAtIndex(I32, k); }
            case "U32" -> { for (int k = 0; k < out.length; k++) out[k] = s.getAtIndex(I32, k) & 0xffffffffL; }
            case "I16" -> { for (int k = 0; k < out.length; k++) out[k] = s.getAtIndex(I16, k); }
            case "U16" -> { for (int k = 0; k < out.length; k++) out[k] = s.getAtIndex(I16, k) & 0xffff; }
            case "I8" -> { for (int k = 0; k < out.length; k++) out[k] = s.get(ValueLayout.JAVA_BYTE, k); }
            case "U8", "BOOL" -> { for (int k = 0; k < out.length; k++) out[k] = s.get(ValueLayout.JAVA_BYTE, k) & 0xff; }
            default -> throw new DataException(file + ": tensor '" + name + "' is " + i.dtype() + ", not an integer type");
        }
        return out;
    }

    public int[] ints(String name) {
        long[] l = longs(name);
        int[] out = new int[l.length];
        for (int k = 0; k < l.length; k++) out[k] = Math.toIntExact(l[k]);
        return out;
    }

    @Override
    public void close() {
        arena.close();
    }
}
