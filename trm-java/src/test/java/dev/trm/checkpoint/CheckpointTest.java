package dev.trm.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Tensor;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.data.DataException;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.TaskKind;
import dev.trm.infer.SolverTestData;
import dev.trm.io.SafeTensors;
import dev.trm.io.SafeTensorsWriter;
import dev.trm.io.TensorData;
import dev.trm.model.Presets;
import dev.trm.model.TinyConfigs;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    private final CpuBackend be = new CpuBackend();

    /** A tiny model with every tensor random (puzzle rows and q_head included, so nothing is trivially zero). */
    private static Map<String, float[]> randomWeights(TrmConfig c, long seed) {
        return SolverTestData.randomWeights(c, seed);
    }

    @Test
    void modelShapesAreExactlyTheModelsTensors() {
        for (TrmConfig c : List.of(TinyConfigs.attention(), TinyConfigs.mixer(), Presets.get("sudoku-extreme-mlp"))) {
            Map<String, Tensor> named = new TrmParameters(c, be).namedTensors();
            Map<String, int[]> shapes = ModelShapes.of(c);
            assertEquals(new ArrayList<>(named.keySet()), new ArrayList<>(shapes.keySet()));
            named.forEach((k, t) -> assertArrayEquals(t.shape(), shapes.get(k), k));
        }
    }

    @Test
    void configJsonKeepsEveryField() {
        List<TrmConfig> all = new ArrayList<>(List.of(TinyConfigs.attention(), TinyConfigs.mixer()));
        for (String name : Presets.names()) all.add(Presets.get(name));
        for (TrmConfig c : all) assertEquals(c, ConfigJson.read(ConfigJson.write(c), "test"));
    }

    @Test
    void roundTripIsBitExactWithExtrasAndMetadata() {
        TrmConfig c = TinyConfigs.attention();
        Map<String, float[]> w = randomWeights(c, 5);
        w.get(TrmParameters.EMBED)[3] = -0f;
        w.get(TrmParameters.LM_HEAD)[1] = Float.MIN_VALUE;
        Map<String, TensorData> extras = new LinkedHashMap<>();
        extras.put("adam.m." + TrmParameters.EMBED, TensorData.f32(new float[] {1, -2, 3, 4}, 2, 2));
        extras.put("rng", TensorData.i64(new long[] {Long.MIN_VALUE, 42}, 2));
        extras.put("loss_history", new TensorData.F64(new long[] {2}, new double[] {0.5, Math.E}));
        CheckpointContents saved = new CheckpointContents(c, TaskKind.SUDOKU, 1234, "abc123", w, extras, Map.of("run", "tiny"));
        Path file = dir.resolve("model.safetensors");
        String sum = Checkpoint.save(file, saved);

        CheckpointContents back = Checkpoint.load(file);
        assertEquals(c, back.config());
        assertEquals(TaskKind.SUDOKU, back.task());
        assertEquals(1234, back.step());
        assertEquals("abc123", back.dataFingerprint());
        assertEquals(Map.of("run", "tiny"), back.metadata());
        assertEquals(new ArrayList<>(w.keySet()), new ArrayList<>(back.weights().keySet()));
        w.forEach((k, v) -> {
            float[] b = back.weights().get(k);
            assertEquals(v.length, b.length, k);
            for (int i = 0; i < v.length; i++) assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(b[i]), k + "[" + i + "]");
        });
        assertEquals(extras.keySet(), back.extras().keySet());
        assertArrayEquals(new float[] {1, -2, 3, 4}, ((TensorData.F32) back.extras().get("adam.m." + TrmParameters.EMBED)).values());
        assertArrayEquals(new long[] {2, 2}, back.extras().get("adam.m." + TrmParameters.EMBED).shape());
        assertArrayEquals(new long[] {Long.MIN_VALUE, 42}, ((TensorData.I64) back.extras().get("rng")).values());
        assertArrayEquals(new double[] {0.5, Math.E}, ((TensorData.F64) back.extras().get("loss_history")).values());

        // Exported under the official names, no prefix, all F32 (H_init / L_init too: fp32 master weights).
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String k : ModelShapes.of(c).keySet()) assertEquals("F32", st.info(k).dtype(), k);
            assertEquals(sum, st.metadata().get(Checkpoint.KEY_CHECKSUM));
            assertEquals(Checkpoint.FORMAT, st.metadata().get("format"));
        }

        // A model loaded from it computes with exactly these values.
        TrmParameters p = new TrmParameters(c, be);
        Checkpoint.copyInto(back.weights(), p, be);
        assertArrayEquals(w.get(TrmParameters.PUZZLE), be.read(p.puzzleTable()));
    }

    @Test
    void trainStateWithoutWeightsRoundTrips() {
        TrmConfig c = TinyConfigs.mixer();
        Path file = dir.resolve("train_state.safetensors");
        Checkpoint.save(file, new CheckpointContents(c, null, 7, "", Map.of(),
                Map.of("adam.step", TensorData.i64(new long[] {7}, 1)), Map.of()));
        CheckpointContents back = Checkpoint.load(file);
        assertTrue(back.weights().isEmpty());
        assertEquals(null, back.task());
        assertArrayEquals(new long[] {7}, ((TensorData.I64) back.extras().get("adam.step")).values());
    }

    @Test
    void incompleteOrMisshapenWeightsAreRefusedOnSave() {
        TrmConfig c = TinyConfigs.attention();
        Map<String, float[]> w = randomWeights(c, 1);
        w.remove(TrmParameters.Q_BIAS);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.save(dir.resolve("x.safetensors"), CheckpointContents.ofWeights(c, null, 0, "", w)));
        assertTrue(e.getMessage().contains(TrmParameters.Q_BIAS), e.getMessage());
        Map<String, float[]> w2 = randomWeights(c, 1);
        w2.put(TrmParameters.H_INIT, new float[3]);
        e = assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.save(dir.resolve("x.safetensors"), CheckpointContents.ofWeights(c, null, 0, "", w2)));
        assertTrue(e.getMessage().contains(TrmParameters.H_INIT), e.getMessage());
        assertTrue(Files.notExists(dir.resolve("x.safetensors")));
    }

    @Test
    void truncatedFileIsRefusedSayingSo() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Checkpoint.save(file, CheckpointContents.ofWeights(TinyConfigs.attention(), null, 1, "", randomWeights(TinyConfigs.attention(), 2)));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 100);
        }
        DataException e = assertThrows(DataException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void alteredFileIsRefusedSayingSo() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Checkpoint.save(file, CheckpointContents.ofWeights(TinyConfigs.attention(), null, 1, "", randomWeights(TinyConfigs.attention(), 2)));
        byte[] all = Files.readAllBytes(file);
        all[all.length - 37] ^= 0x01; // one bit of one weight
        Files.write(file, all);
        DataException e = assertThrows(DataException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("altered"), e.getMessage());
    }

    /** The checksum covers the header too: a config field edited in the metadata (same length) is refused. */
    @Test
    void alteredMetadataIsRefusedSayingSo() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Checkpoint.save(file, CheckpointContents.ofWeights(TinyConfigs.attention(), null, 1, "", randomWeights(TinyConfigs.attention(), 2)));
        String all = Files.readString(file, java.nio.charset.StandardCharsets.ISO_8859_1);
        String edited = all.replaceFirst("10000\\.0", "20000.0");   // rope_theta inside the config JSON string
        assertTrue(!edited.equals(all) && edited.length() == all.length(), "the test edits one config value in place");
        Files.writeString(file, edited, java.nio.charset.StandardCharsets.ISO_8859_1);
        DataException e = assertThrows(DataException.class, () -> Checkpoint.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains("altered"), e.getMessage());
    }

    @Test
    void aFailedSaveKeepsThePreviousCheckpoint() throws IOException {
        TrmConfig c = TinyConfigs.attention();
        Path file = dir.resolve("model.safetensors");
        Checkpoint.save(file, CheckpointContents.ofWeights(c, null, 1, "", randomWeights(c, 2)));
        byte[] before = Files.readAllBytes(file);
        // The run folder replaced by a file: the save cannot even create its temporary file.
        Path blocked = Files.writeString(dir.resolve("run"), "not a folder").resolve("model.safetensors");
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> Checkpoint.save(blocked, CheckpointContents.ofWeights(c, null, 2, "", randomWeights(c, 3))));
        assertTrue(e.getMessage().startsWith(blocked.toString()), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(1, Checkpoint.load(file).step());
    }

    /** Writes weights as a plain conversion of the official state_dict would: prefixed names, bf16 buffers, no metadata. */
    private Path officialFile(String prefix, Map<String, float[]> w, TrmConfig c, int tableRows) {
        SafeTensorsWriter sw = new SafeTensorsWriter();
        ModelShapes.of(c).forEach((k, shape) -> {
            long[] s = Checkpoint.toLong(shape);
            float[] v = w.get(k);
            if (k.equals(TrmParameters.PUZZLE)) {
                s = new long[] {tableRows, shape[1]};
                v = new float[tableRows * shape[1]];
                for (int i = 0; i < v.length; i++) v[i] = i % 7 - (float) (i / shape[1]);
            }
            boolean buffer = k.equals(TrmParameters.H_INIT) || k.equals(TrmParameters.L_INIT);
            sw.add(prefix + k, buffer ? new TensorData.BF16(s, v) : new TensorData.F32(s, v));
        });
        Path file = dir.resolve("official-" + prefix.length() + "-" + tableRows + ".safetensors");
        sw.write(file);
        return file;
    }

    @Test
    void officialNamesWithPrefixesAndBf16BuffersLoad() {
        TrmConfig c = TinyConfigs.attention(); // 3 puzzle ids
        Map<String, float[]> w = randomWeights(c, 9);
        for (String prefix : List.of("_orig_mod.model.inner.", "model.inner.", "")) {
            Path file = officialFile(prefix, w, c, 3);
            List<String> warnings = new ArrayList<>();
            Map<String, float[]> back = Checkpoint.loadWeights(file, c, warnings::add);
            assertEquals(List.of(), warnings, prefix);
            for (String k : ModelShapes.of(c).keySet()) {
                if (k.equals(TrmParameters.PUZZLE)) continue;
                float[] want = w.get(k).clone();
                if (k.equals(TrmParameters.H_INIT) || k.equals(TrmParameters.L_INIT)) {
                    for (int i = 0; i < want.length; i++) want[i] = TensorData.fromBf16(TensorData.toBf16(want[i]));
                }
                assertArrayEquals(want, back.get(k), prefix + k);
            }
            assertEquals(3, Checkpoint.puzzleRows(file));
            DataException e = assertThrows(DataException.class, () -> Checkpoint.load(file));
            assertTrue(e.getMessage().contains("not a trm checkpoint") && e.getMessage().contains("--preset"), e.getMessage());
        }
    }

    @Test
    void aPuzzleTableOfAnotherSizeBecomesItsMeanRowWithAWarning() {
        TrmConfig c = TinyConfigs.attention(); // 3 rows of D = 16
        Path file = officialFile("model.inner.", randomWeights(c, 4), c, 5);
        List<String> warnings = new ArrayList<>();
        float[] table = Checkpoint.loadWeights(file, c, warnings::add).get(TrmParameters.PUZZLE);
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).contains("5 rows") && warnings.get(0).contains("mean row"), warnings.get(0));
        int d = c.hiddenSize();
        assertEquals(3 * d, table.length);
        for (int j = 0; j < d; j++) {
            double mean = 0;
            for (int r = 0; r < 5; r++) mean += (r * d + j) % 7 - r;
            for (int r = 0; r < 3; r++) assertEquals((float) (mean / 5), table[r * d + j], "row " + r + " col " + j);
        }
    }

    @Test
    void weightsOfAnotherArchitectureAreRefusedNamingTheTensor() {
        Path file = officialFile("", randomWeights(TinyConfigs.attention(), 4), TinyConfigs.attention(), 3);
        DataException e = assertThrows(DataException.class, () -> Checkpoint.loadWeights(file, TinyConfigs.mixer(), m -> {}));
        assertTrue(e.getMessage().contains("mlp_t"), e.getMessage());
    }

    private static DatasetMetadata data(TaskKind task, int vocab, int seqLen, int ids) {
        return new DatasetMetadata(task, "test", vocab, seqLen, 0, 0, 0, ids, 1, 1, 1, 1, List.of("all"), "f", List.of());
    }

    @Test
    void aCheckpointThatDoesNotFitTheDataIsRefused() {
        TrmConfig c = TinyConfigs.attention(); // vocab 7, seq 6, 3 ids
        Checkpoint.checkMatchesData(c, TaskKind.SUDOKU, data(TaskKind.SUDOKU, 7, 6, 3), "ckpt");
        Checkpoint.checkMatchesData(c, null, data(TaskKind.MAZE, 7, 6, 3), "ckpt");
        String task = assertThrows(DataException.class,
                () -> Checkpoint.checkMatchesData(c, TaskKind.SUDOKU, data(TaskKind.MAZE, 7, 6, 3), "ckpt")).getMessage();
        assertTrue(task.contains("sudoku") && task.contains("maze"), task);
        String vocab = assertThrows(DataException.class,
                () -> Checkpoint.checkMatchesData(c, null, data(TaskKind.SUDOKU, 11, 6, 3), "ckpt")).getMessage();
        assertTrue(vocab.contains("vocabulary 7") && vocab.contains("11"), vocab);
        String len = assertThrows(DataException.class,
                () -> Checkpoint.checkMatchesData(c, null, data(TaskKind.SUDOKU, 7, 81, 3), "ckpt")).getMessage();
        assertTrue(len.contains("sequence length 6") && len.contains("81"), len);
        String ids = assertThrows(DataException.class,
                () -> Checkpoint.checkMatchesData(c, null, data(TaskKind.ARC, 7, 6, 40), "ckpt")).getMessage();
        assertTrue(ids.contains("3 puzzle identifiers") && ids.contains("40"), ids);
    }

    @Test
    void theTaskIsInferredFromTheShape() {
        assertEquals(TaskKind.SUDOKU, Checkpoint.inferTask(Presets.get("sudoku-extreme-att")));
        assertEquals(TaskKind.MAZE, Checkpoint.inferTask(Presets.get("maze-hard")));
        assertEquals(TaskKind.ARC, Checkpoint.inferTask(Presets.get("arc-1")));
        assertEquals(null, Checkpoint.inferTask(TinyConfigs.attention()));
    }
}
