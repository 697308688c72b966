package dev.trm.checkpoint;

import dev.trm.backend.Backend;
import dev.trm.backend.Tensor;
import dev.trm.data.DataException;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.TaskKind;
import dev.trm.io.SafeTensors;
import dev.trm.io.SafeTensorsWriter;
import dev.trm.io.TensorData;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Checkpoints as safetensors files any safetensors library (and PyTorch, see docs/checkpoints.md) reads.
 *
 * <p>Layout: the weights under the official PyTorch names without prefix (spec 7, {@link ModelShapes}), all F32
 * (fp32 master weights; H_init and L_init too, though the official state_dict keeps them in bf16), any extra tensors
 * beside them, and string metadata:
 *
 * <pre>
 *   format            "trm-checkpoint"
 *   format_version    "1"
 *   config            the TrmConfig as JSON ({@link ConfigJson})
 *   task              sudoku | maze | arc (absent when unknown)
 *   step              optimizer steps
 *   data_fingerprint  the training data's fingerprint
 *   checksum          "crc32c:xxxxxxxx" over the data section, verified on load
 *   ...               the caller's own metadata
 * </pre>
 *
 * Files are written atomically ({@link SafeTensorsWriter}); a truncated or altered file is refused on load, naming the
 * file and saying which. Weights converted from the official code (no metadata, {@code model.inner.} or
 * {@code _orig_mod.model.inner.} prefixes, bf16 buffers) load with {@link #loadWeights} given a config.
 */
public final class Checkpoint {
    private Checkpoint() {}

    public static final String FORMAT = "trm-checkpoint";
    public static final int FORMAT_VERSION = 1;
    public static final String KEY_FORMAT = "format";
    public static final String KEY_VERSION = "format_version";
    public static final String KEY_CONFIG = "config";
    public static final String KEY_TASK = "task";
    public static final String KEY_STEP = "step";
    public static final String KEY_FINGERPRINT = "data_fingerprint";
    public static final String KEY_CHECKSUM = "checksum";
    private static final Set<String> RESERVED = Set.of(KEY_FORMAT, KEY_VERSION, KEY_CONFIG, KEY_TASK, KEY_STEP,
            KEY_FINGERPRINT, KEY_CHECKSUM);

    /** The prefixes the official state_dict uses: torch.compile'd (the default) and plain. */
    public static final List<String> OFFICIAL_PREFIXES = List.of("_orig_mod.model.inner.", "model.inner.");

    /**
     * Writes a checkpoint atomically (the old file survives any failure) and returns its checksum. Weights are checked
     * against the config first: every tensor of the model, nothing else, each of the right size.
     */
    public static String save(Path file, CheckpointContents c) {
        SafeTensorsWriter w = new SafeTensorsWriter();
        if (c.hasWeights()) {
            Map<String, int[]> shapes = ModelShapes.of(c.config());
            for (String name : c.weights().keySet()) {
                if (!shapes.containsKey(name)) throw new IllegalArgumentException("weight '" + name + "' is not part of this model");
            }
            for (Map.Entry<String, int[]> e : shapes.entrySet()) {
                float[] v = c.weights().get(e.getKey());
                if (v == null) throw new IllegalArgumentException("weights lack '" + e.getKey() + "'");
                if (v.length != ModelShapes.elements(e.getValue())) {
                    throw new IllegalArgumentException("weight '" + e.getKey() + "' has " + v.length + " values, shape "
                            + Arrays.toString(e.getValue()) + " needs " + ModelShapes.elements(e.getValue()));
                }
                w.add(e.getKey(), new TensorData.F32(toLong(e.getValue()), v));
            }
        }
        for (Map.Entry<String, TensorData> e : c.extras().entrySet()) {
            if (c.weights().containsKey(e.getKey())) throw new IllegalArgumentException("extra tensor '" + e.getKey() + "' collides with a weight");
            w.add(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, String> e : c.metadata().entrySet()) {
            if (RESERVED.contains(e.getKey())) throw new IllegalArgumentException("metadata key '" + e.getKey() + "' is reserved");
            w.metadata(e.getKey(), e.getValue());
        }
        w.metadata(KEY_FORMAT, FORMAT)
                .metadata(KEY_VERSION, Integer.toString(FORMAT_VERSION))
                .metadata(KEY_CONFIG, ConfigJson.write(c.config()))
                .metadata(KEY_STEP, Long.toString(c.step()))
                .metadata(KEY_FINGERPRINT, c.dataFingerprint())
                .checksum(KEY_CHECKSUM);
        if (c.task() != null) w.metadata(KEY_TASK, c.task().cliName());
        return w.write(file);
    }

    /**
     * Reads a checkpoint written by {@link #save}: verifies the checksum over the whole data section, parses the
     * config, reads the weights (if any) and every other tensor as an extra. Errors name the file: not a checkpoint,
     * truncated, altered (checksum), or weights that do not fit the config.
     */
    public static CheckpointContents load(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            CheckpointContents head = header(st);
            String bad = SafeTensorsWriter.verifyChecksum(st, KEY_CHECKSUM);
            if (bad != null) throw new DataException(file + ": refused: " + bad);
            Map<String, float[]> weights = Map.of();
            if (ModelShapes.of(head.config()).keySet().stream().anyMatch(st::has)) {
                weights = readWeights(st, head.config(), false, msg -> {});
            }
            Map<String, TensorData> extras = new LinkedHashMap<>();
            for (String name : st.names()) {
                if (!weights.containsKey(name)) extras.put(name, readTensor(st, name));
            }
            return new CheckpointContents(head.config(), head.task(), head.step(), head.dataFingerprint(), weights, extras,
                    head.metadata());
        }
    }

    /**
     * The metadata of a checkpoint (config, task, step, fingerprint, the caller's metadata) without its tensors and
     * without verifying the checksum: cheap, for refusing a checkpoint that does not fit the data before any work.
     */
    public static CheckpointContents header(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            return header(st);
        }
    }

    /** Whether a file carries trm checkpoint metadata (else it may be converted official weights). */
    public static boolean isTrmCheckpoint(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            return FORMAT.equals(st.metadata().get(KEY_FORMAT));
        }
    }

    private static CheckpointContents header(SafeTensors st) {
        Path file = st.file();
        Map<String, String> meta = st.metadata();
        if (!FORMAT.equals(meta.get(KEY_FORMAT))) {
            throw new DataException(file + ": not a trm checkpoint (its metadata has no \"format\": \"" + FORMAT
                    + "\"); weights converted from the official PyTorch code load with a preset (--preset, see docs/checkpoints.md)");
        }
        if (!Integer.toString(FORMAT_VERSION).equals(meta.get(KEY_VERSION))) {
            throw new DataException(file + ": checkpoint format version " + meta.get(KEY_VERSION) + ", this build reads " + FORMAT_VERSION);
        }
        TrmConfig config = ConfigJson.read(required(meta, KEY_CONFIG, file), file + ": metadata config");
        TaskKind task;
        try {
            task = meta.containsKey(KEY_TASK) ? TaskKind.parse(meta.get(KEY_TASK)) : null;
        } catch (DataException e) {
            throw new DataException(file + ": metadata task: " + e.getMessage());
        }
        long step;
        try {
            step = Long.parseLong(required(meta, KEY_STEP, file));
        } catch (NumberFormatException e) {
            throw new DataException(file + ": metadata step '" + meta.get(KEY_STEP) + "' is not an integer");
        }
        Map<String, String> userMeta = new LinkedHashMap<>();
        meta.forEach((k, v) -> { if (!RESERVED.contains(k)) userMeta.put(k, v); });
        return new CheckpointContents(config, task, step, meta.getOrDefault(KEY_FINGERPRINT, ""), Map.of(), Map.of(), userMeta);
    }

    /**
     * Interop: the weights of a model with this config from any safetensors file that holds them under the official
     * names, bare or with a {@link #OFFICIAL_PREFIXES prefix}, in F32, BF16, F16 or F64. As the official
     * {@code load_checkpoint} does, a puzzle table with a different row count is replaced by its mean row broadcast to
     * {@code config.numPuzzleIds()} rows, with a warning. Tensors the model does not have are ignored with a warning.
     */
    public static Map<String, float[]> loadWeights(Path file, TrmConfig config, Consumer<String> warnings) {
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, float[]> w = readWeights(st, config, true, warnings);
            Set<String> used = new java.util.HashSet<>();
            for (String name : w.keySet()) used.add(resolve(st, name));
            for (String name : st.names()) if (!used.contains(name)) warnings.accept(file + ": ignoring tensor '" + name + "'");
            return w;
        }
    }

    /** The number of puzzle-table rows a weights file holds (to size a config for a converted official file). */
    public static int puzzleRows(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            String name = resolve(st, TrmParameters.PUZZLE);
            if (name == null) throw new DataException(file + ": no tensor '" + TrmParameters.PUZZLE + "' (with or without prefix)");
            return Math.toIntExact(st.info(name).shape()[0]);
        }
    }

    private static Map<String, float[]> readWeights(SafeTensors st, TrmConfig config, boolean resizeTable, Consumer<String> warnings) {
        Path file = st.file();
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, int[]> e : ModelShapes.of(config).entrySet()) {
            String key = e.getKey();
            String name = resolve(st, key);
            if (name == null) {
                throw new DataException(file + ": no tensor '" + key + "' (nor with prefix " + String.join(" or ", OFFICIAL_PREFIXES)
                        + "); not weights of this model (" + (config.mlpT() ? "mlp_t" : "attention") + ", " + config.layers() + " layers)");
            }
            SafeTensors.Info info = st.info(name);
            int[] want = e.getValue();
            long[] have = info.shape();
            if (key.equals(TrmParameters.PUZZLE) && resizeTable && have.length == 2 && have[1] == want[1] && have[0] != want[0]) {
                warnings.accept(file + ": puzzle table has " + have[0] + " rows, this model " + want[0]
                        + "; replacing it by its mean row (as the official load_checkpoint does)");
                out.put(key, meanRowBroadcast(st.floats(name), Math.toIntExact(have[0]), want[1], want[0]));
                continue;
            }
            if (!Arrays.equals(have, toLong(want))) {
                throw new DataException(file + ": tensor '" + name + "' has shape " + Arrays.toString(have) + ", the config needs "
                        + Arrays.toString(want) + (key.equals(TrmParameters.PUZZLE) ? " (a different dataset's puzzle identifiers?)" : ""));
            }
            out.put(key, st.floats(name));
        }
        return out;
    }

    /** The name a weight has in the file: bare or with one of the official prefixes; null when absent. */
    private static String resolve(SafeTensors st, String key) {
        String found = st.has(key) ? key : null;
        for (String p : OFFICIAL_PREFIXES) {
            if (st.has(p + key)) {
                if (found != null) throw new DataException(st.file() + ": tensor '" + key + "' appears twice ('" + found + "' and '" + p + key + "')");
                found = p + key;
            }
        }
        return found;
    }

    /** [rows, d] -> the mean row (computed in double) repeated newRows times. */
    static float[] meanRowBroadcast(float[] table, int rows, int d, int newRows) {
        double[] mean = new double[d];
        for (int r = 0; r < rows; r++) for (int j = 0; j < d; j++) mean[j] += table[r * d + j]; // rows * d fits: it is an array
        float[] out = new float[Math.multiplyExact(newRows, d)];
        for (int j = 0; j < d; j++) {
            float m = (float) (mean[j] / rows);
            for (int r = 0; r < newRows; r++) out[r * d + j] = m;
        }
        return out;
    }

    private static TensorData readTensor(SafeTensors st, String name) {
        SafeTensors.Info i = st.info(name);
        return switch (i.dtype()) {
            case "F32", "F16" -> new TensorData.F32(i.shape(), st.floats(name));
            case "BF16" -> new TensorData.BF16(i.shape(), st.floats(name));
            case "F64" -> new TensorData.F64(i.shape(), st.doubles(name));
            case "I32" -> new TensorData.I32(i.shape(), st.ints(name));
            case "I64" -> new TensorData.I64(i.shape(), st.longs(name));
            default -> throw new DataException(st.file() + ": tensor '" + name + "' has dtype " + i.dtype() + ", which checkpoints do not use");
        };
    }

    private static String required(Map<String, String> meta, String key, Path file) {
        String v = meta.get(key);
        if (v == null) throw new DataException(file + ": metadata lacks '" + key + "'");
        return v;
    }

    static long[] toLong(int[] s) {
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return l;
    }

    // ---- model <-> weights ---------------------------------------------------------------------------------------

    /** The model's tensors read back from the backend, under the official names (for {@link #save}). */
    public static Map<String, float[]> weightsOf(TrmParameters p, Backend be) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : p.namedTensors().entrySet()) out.put(e.getKey(), be.read(e.getValue()));
        return out;
    }

    /** Uploads weights (every tensor of the model, sizes checked) into the model's tensors. */
    public static void copyInto(Map<String, float[]> weights, TrmParameters p, Backend be) {
        for (Map.Entry<String, Tensor> e : p.namedTensors().entrySet()) {
            float[] v = weights.get(e.getKey());
            if (v == null) throw new IllegalArgumentException("weights lack '" + e.getKey() + "'");
            if (v.length != e.getValue().size()) {
                throw new IllegalArgumentException("weight '" + e.getKey() + "' has " + v.length + " values, the model " + e.getValue().size());
            }
            be.write(e.getValue(), v);
        }
    }

    // ---- checkpoint vs data -----------------------------------------------------------------------------------------

    /**
     * Refuses, before any work, a model whose task or shape does not fit a dataset split: task (when the checkpoint
     * knows it), vocabulary, sequence length and puzzle identifiers must agree.
     *
     * @param what the checkpoint, for the message
     */
    public static void checkMatchesData(TrmConfig c, TaskKind task, DatasetMetadata data, String what) {
        String dataName = data.task().cliName() + " data (" + data.split() + " split)";
        if (task != null && task != data.task()) {
            throw new DataException(what + " was trained on " + task.cliName() + ", not on " + dataName);
        }
        if (c.vocabSize() != data.vocabSize() || c.seqLen() != data.seqLen()) {
            throw new DataException(what + " has vocabulary " + c.vocabSize() + " and sequence length " + c.seqLen() + ", the "
                    + dataName + " " + data.vocabSize() + " and " + data.seqLen());
        }
        if (c.numPuzzleIds() != data.numPuzzleIdentifiers()) {
            throw new DataException(what + " has " + c.numPuzzleIds() + " puzzle identifiers, the " + dataName + " "
                    + data.numPuzzleIdentifiers() + " (a different dataset build: its puzzle embeddings would be meaningless)");
        }
    }

    /** The task a config's shape implies: 900 tokens of vocabulary 6 Maze, of 12 ARC; n*n cells of n+2 Sudoku. */
    public static TaskKind inferTask(TrmConfig c) {
        if (c.seqLen() == 900 && c.vocabSize() == 6) return TaskKind.MAZE;
        if (c.seqLen() == 900 && c.vocabSize() == 12) return TaskKind.ARC;
        int side = (int) Math.round(Math.sqrt(c.seqLen()));
        if (side * side == c.seqLen() && c.vocabSize() == side + 2) return TaskKind.SUDOKU;
        return null;
    }
}
