package dev.trm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsWriterTest {
    @TempDir
    Path dir;

    @Test
    void everyDtypeRoundTripsBitExactlyThroughTheReader() {
        float[] f = {0f, -0f, 1.5f, Float.MIN_VALUE, -3.4e38f, Float.NaN, Float.POSITIVE_INFINITY, 1e-40f};
        double[] d = {Math.PI, -0.0, Double.MIN_VALUE, 1e300};
        int[] i = {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 7, 8};
        long[] l = {Long.MIN_VALUE, Long.MAX_VALUE, 0, 123456789012345L};
        Path file = dir.resolve("all.safetensors");
        new SafeTensorsWriter()
                .add("f", new TensorData.F32(new long[] {2, 4}, f))
                .add("d", new TensorData.F64(new long[] {4}, d))
                .add("i", new TensorData.I32(new long[] {3, 2}, i))
                .add("l", new TensorData.I64(new long[] {2, 2}, l))
                .add("scalar", new TensorData.F32(new long[] {}, new float[] {42f}))
                .metadata("note", "ünïcode \"quoted\"\n")
                .write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals("F32", st.info("f").dtype());
            assertArrayEquals(new long[] {2, 4}, st.info("f").shape());
            float[] back = st.floats("f");
            for (int k = 0; k < f.length; k++) {
                assertEquals(Float.floatToRawIntBits(f[k]), Float.floatToRawIntBits(back[k]), "element " + k);
            }
            double[] db = st.doubles("d");
            for (int k = 0; k < d.length; k++) assertEquals(Double.doubleToRawLongBits(d[k]), Double.doubleToRawLongBits(db[k]));
            assertArrayEquals(i, st.ints("i"));
            assertArrayEquals(l, st.longs("l"));
            assertArrayEquals(new long[] {}, st.info("scalar").shape());
            assertEquals(42f, st.floats("scalar")[0]);
            assertEquals("ünïcode \"quoted\"\n", st.metadata().get("note"));
        }
    }

    @Test
    void bf16RoundsToNearestEvenAsTorchDoes() {
        // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0);
        // 1 + 3 * 2^-8 is halfway between 1.0078125 and 1.015625: goes to 1.015625 (even).
        float[] v = {1f + 0x1p-8f, 1f + 3 * 0x1p-8f, 1f + 0x1p-8f + 0x1p-20f, -2.5f, Float.NaN, 3.0e38f};
        float[] want = {1f, 1.015625f, 1.0078125f, -2.5f, Float.NaN, 3.0040553e38f};
        Path file = dir.resolve("bf.safetensors");
        new SafeTensorsWriter().add("b", new TensorData.BF16(new long[] {6}, v)).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals("BF16", st.info("b").dtype());
            assertEquals(12, st.info("b").end() - st.info("b").begin());
            float[] back = st.floats("b");
            for (int k = 0; k < v.length; k++) {
                if (Float.isNaN(want[k])) assertTrue(Float.isNaN(back[k]));
                else assertEquals(want[k], back[k], "element " + k);
            }
        }
    }

    @Test
    void headerIsLaidOutAsTheReferenceWriterDoes() throws IOException {
        Path file = dir.resolve("h.safetensors");
        new SafeTensorsWriter()
                .add("b_f32", TensorData.f32(new float[] {1, 2}, 2))
                .add("a_f32", TensorData.f32(new float[] {3}, 1))
                .add("bf", new TensorData.BF16(new long[] {1}, new float[] {1}))
                .add("ints", new TensorData.I32(new long[] {1}, new int[] {5}))
                .add("longs", TensorData.i64(new long[] {9}, 1))
                .add("dbl", new TensorData.F64(new long[] {1}, new double[] {1}))
                .metadata("z", "last")
                .metadata("a", "first")
                .write(file);
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header length is a multiple of 8");
        String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
        String json = "{\"__metadata__\":{\"a\":\"first\",\"z\":\"last\"},"
                + "\"longs\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"dbl\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                + "\"a_f32\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
                + "\"b_f32\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]},"
                + "\"ints\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[28,32]},"
                + "\"bf\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[32,34]}}";
        assertEquals(json, header.stripTrailing());
        assertTrue(header.substring(json.length()).chars().allMatch(c -> c == ' '), "padding is spaces");
        assertEquals(8 + n + 34, all.length, "no bytes after the last tensor");
        assertEquals(3f, ByteBuffer.wrap(all, (int) (8 + n + 16), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat());
    }

    @Test
    void largeTensorsStreamThroughTheBufferAndTheChecksumCatchesOneFlippedByte() throws IOException {
        Random rnd = new Random(3);
        float[] big = new float[3_000_001]; // 12 MB: many buffer flushes, odd length
        for (int k = 0; k < big.length; k++) big[k] = (float) rnd.nextGaussian();
        Path file = dir.resolve("big.safetensors");
        String sum = new SafeTensorsWriter().add("big", TensorData.f32(big, big.length)).add("tail", new TensorData.BF16(
                new long[] {3}, new float[] {1, 2, 3})).checksum("checksum").write(file);
        assertTrue(sum.matches("crc32c:[0-9a-f]{8}"), sum);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(big, st.floats("big"));
            assertEquals(sum, st.metadata().get("checksum"));
            assertNull(SafeTensorsWriter.verifyChecksum(st, "checksum"));
        }
        byte[] all = Files.readAllBytes(file);
        all[all.length - 1_000_000] ^= 0x10;
        Files.write(file, all);
        try (SafeTensors st = SafeTensors.open(file)) {
            String why = SafeTensorsWriter.verifyChecksum(st, "checksum");
            assertTrue(why != null && why.contains("checksum mismatch"), String.valueOf(why));
        }
    }

    @Test
    void aFailedWriteLeavesTheOldFileIntactAndNoTemporaryFile() throws IOException {
        Path file = dir.resolve("model.safetensors");
        new SafeTensorsWriter().add("x", TensorData.f32(new float[] {1, 2, 3}, 3)).write(file);
        byte[] before = Files.readAllBytes(file);
        SafeTensorsWriter w = new SafeTensorsWriter().add("x", TensorData.f32(new float[2_000_000], 2_000_000));
        w.failAfterDataBytes = 3_000_000; // the disk "fills" mid-way through the data
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> w.write(file));
        assertTrue(e.getMessage().startsWith(file + ": cannot write"), e.getMessage());
        assertTrue(e.getMessage().contains("simulated write failure"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file), "old file unchanged");
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList(), "no temporary file left behind");
        }
    }

    @Test
    void anUnwritableLocationIsOneErrorNamingThePath() throws IOException {
        Path notADir = Files.writeString(dir.resolve("plain-file"), "x");
        Path target = notADir.resolve("model.safetensors");
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> new SafeTensorsWriter().add("x", TensorData.f32(new float[] {1}, 1)).write(target));
        assertTrue(e.getMessage().startsWith(target + ": cannot write"), e.getMessage());
        Path missing = dir.resolve("no/such/dir/model.safetensors");
        e = assertThrows(UncheckedIOException.class,
                () -> new SafeTensorsWriter().add("x", TensorData.f32(new float[] {1}, 1)).write(missing));
        assertTrue(e.getMessage().startsWith(missing + ": cannot write"), e.getMessage());
        assertEquals("x", Files.readString(notADir));
    }

    @Test
    void badTensorsAreRefusedBeforeWriting() {
        assertThrows(IllegalArgumentException.class, () -> new TensorData.F32(new long[] {2, 2}, new float[3]));
        SafeTensorsWriter w = new SafeTensorsWriter().add("x", TensorData.f32(new float[] {1}, 1));
        assertThrows(IllegalArgumentException.class, () -> w.add("x", TensorData.f32(new float[] {1}, 1)));
        assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", TensorData.f32(new float[] {1}, 1)));
    }
}
