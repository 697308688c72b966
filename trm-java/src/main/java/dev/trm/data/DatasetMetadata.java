package dev.trm.data;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one split of a dataset holds, with the semantics of the official {@code dataset.json} (spec 6.1): token ids run
 * over {@code [0, vocabSize)}, every example is {@code seqLen} tokens, {@code padId} fills unused cells, labels equal to
 * {@code ignoreLabelId} are not scored (the loss maps them to -100), identifier {@code blankIdentifierId} pads short
 * batches. A group is one original puzzle, a puzzle one augmented version with its own identifier, an example one
 * (input, label) pair.
 *
 * @param fingerprint SHA-256 (hex) of the split's arrays, its token facts and the identifier names: equal fingerprints
 *     mean the same training data, so checkpoints can record which data (and which identifier rows) they were trained on
 * @param identifiers identifier names, index = puzzle identifier id; shared by the splits of one dataset
 */
public record DatasetMetadata(
        TaskKind task,
        String split,
        int vocabSize,
        int seqLen,
        int padId,
        int ignoreLabelId,
        int blankIdentifierId,
        int numPuzzleIdentifiers,
        int totalGroups,
        int totalPuzzles,
        long totalExamples,
        double meanPuzzleExamples,
        List<String> sets,
        String fingerprint,
        List<String> identifiers) {

    public static final int FORMAT_VERSION = 1;

    /** The dataset.json fields (identifiers live in identifiers.json beside the split folders). */
    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "trm-dataset");
        m.put("format_version", FORMAT_VERSION);
        m.put("task", task.cliName());
        m.put("split", split);
        m.put("vocab_size", vocabSize);
        m.put("seq_len", seqLen);
        m.put("pad_id", padId);
        m.put("ignore_label_id", ignoreLabelId < 0 ? null : ignoreLabelId);
        m.put("blank_identifier_id", blankIdentifierId);
        m.put("num_puzzle_identifiers", numPuzzleIdentifiers);
        m.put("total_groups", totalGroups);
        m.put("total_puzzles", totalPuzzles);
        m.put("total_examples", totalExamples);
        m.put("mean_puzzle_examples", meanPuzzleExamples);
        m.put("sets", sets);
        m.put("fingerprint", fingerprint);
        return m;
    }

    static DatasetMetadata fromJson(Map<String, Object> m, String where, List<String> identifiers) {
        String format = Json.asString(Json.field(m, "format", where), where + " format");
        if (!format.equals("trm-dataset")) throw new DataException(where + ": not a trm dataset (format " + format + ")");
        long version = Json.asLong(Json.field(m, "format_version", where), where + " format_version");
        if (version != FORMAT_VERSION) {
            throw new DataException(where + ": dataset format version " + version + ", this build reads " + FORMAT_VERSION);
        }
        List<String> sets = Json.asList(Json.field(m, "sets", where), where + " sets").stream()
                .map(o -> Json.asString(o, where + " sets")).toList();
        return new DatasetMetadata(
                TaskKind.parse(Json.asString(Json.field(m, "task", where), where + " task")),
                Json.asString(Json.field(m, "split", where), where + " split"),
                intField(m, "vocab_size", where),
                intField(m, "seq_len", where),
                intField(m, "pad_id", where),
                m.get("ignore_label_id") == null ? -1 : intField(m, "ignore_label_id", where),
                intField(m, "blank_identifier_id", where),
                intField(m, "num_puzzle_identifiers", where),
                intField(m, "total_groups", where),
                intField(m, "total_puzzles", where),
                Json.asLong(Json.field(m, "total_examples", where), where + " total_examples"),
                Json.asDouble(Json.field(m, "mean_puzzle_examples", where), where + " mean_puzzle_examples"),
                sets,
                Json.asString(Json.field(m, "fingerprint", where), where + " fingerprint"),
                identifiers);
    }

    private static int intField(Map<String, Object> m, String key, String where) {
        long v = Json.asLong(Json.field(m, key, where), where + " " + key);
        if (v < 0 || v > Integer.MAX_VALUE) throw new DataException(where + ": " + key + " out of range: " + v);
        return (int) v;
    }
}
