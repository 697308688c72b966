package dev.trm.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Imports a dataset in the official HRM/TRM layout (spec 6.1: {@code identifiers.json},
 * {@code {train,test}/dataset.json}, {@code {train,test}/all__*.npy}, ARC's {@code test_puzzles.json}) into our format,
 * checking shapes, CSR indices and token ranges on the way.
 */
public final class OfficialImport {
    private OfficialImport() {}

    /** True when {@code dir} looks like an official build (identifiers.json and a split with all__inputs.npy). */
    public static boolean looksOfficial(Path dir) {
        return Files.isDirectory(dir) && Files.isRegularFile(dir.resolve("identifiers.json"))
                && (Files.isRegularFile(dir.resolve("train/all__inputs.npy")) || Files.isRegularFile(dir.resolve("test/all__inputs.npy")));
    }

    /** Imports every split present; {@code task} may be null to infer it from vocab and sequence length. */
    public static List<DatasetMetadata> importDataset(Path source, TaskKind task, DatasetOutput out) {
        Path idFile = source.resolve("identifiers.json");
        List<String> identifiers = Json.asList(Json.read(idFile), idFile.toString()).stream()
                .map(o -> Json.asString(o, idFile.toString())).toList();
        boolean any = false;
        for (String split : List.of("train", "test")) {
            Path dir = source.resolve(split);
            if (!Files.isRegularFile(dir.resolve("dataset.json"))) continue;
            any = true;
            importSplit(dir, split, task, identifiers, out);
        }
        if (!any) throw new DataException(source + ": no train/dataset.json or test/dataset.json");
        Path testPuzzles = source.resolve("test_puzzles.json");
        if (Files.isRegularFile(testPuzzles)) {
            try {
                out.writeFile("test_puzzles.json", Files.readString(testPuzzles));
            } catch (java.io.IOException e) {
                throw new DataException(testPuzzles + ": cannot read: " + e.getMessage(), e);
            }
        }
        return out.commit(identifiers);
    }

    private static void importSplit(Path dir, String split, TaskKind task, List<String> identifiers, DatasetOutput out) {
        Path metaFile = dir.resolve("dataset.json");
        String where = metaFile.toString();
        Map<String, Object> m = Json.asObject(Json.read(metaFile), where);
        int vocab = (int) Json.asLong(Json.field(m, "vocab_size", where), where + " vocab_size");
        int seqLen = (int) Json.asLong(Json.field(m, "seq_len", where), where + " seq_len");
        int pad = (int) Json.asLong(Json.field(m, "pad_id", where), where + " pad_id");
        Object ign = Json.field(m, "ignore_label_id", where);
        int ignore = ign == null ? -1 : (int) Json.asLong(ign, where + " ignore_label_id");
        int blank = (int) Json.asLong(Json.field(m, "blank_identifier_id", where), where + " blank_identifier_id");
        long numIds = Json.asLong(Json.field(m, "num_puzzle_identifiers", where), where + " num_puzzle_identifiers");
        if (numIds != identifiers.size()) {
            throw new DataException(where + ": num_puzzle_identifiers " + numIds + " but identifiers.json has " + identifiers.size());
        }
        List<Object> sets = Json.asList(Json.field(m, "sets", where), where + " sets");
        if (sets.size() != 1) throw new DataException(where + ": only single-set datasets can be imported, found " + sets);
        String set = Json.asString(sets.get(0), where + " sets");
        TaskKind kind = task != null ? task : infer(vocab, seqLen, where);
        TokenLayout layout = new TokenLayout(kind, vocab, seqLen, pad, ignore, blank);
        DatasetWriter w = out.split(split, layout);
        try (Npy inputs = Npy.open(dir.resolve(set + "__inputs.npy"));
                Npy labels = Npy.open(dir.resolve(set + "__labels.npy"));
                Npy ids = Npy.open(dir.resolve(set + "__puzzle_identifiers.npy"));
                Npy puzzleIdx = Npy.open(dir.resolve(set + "__puzzle_indices.npy"));
                Npy groupIdx = Npy.open(dir.resolve(set + "__group_indices.npy"))) {
            long examples = checkMatrix(inputs, seqLen);
            if (checkMatrix(labels, seqLen) != examples) throw new DataException(labels.file() + ": row count differs from inputs");
            long puzzles = ids.size();
            if (puzzleIdx.size() != puzzles + 1) throw new DataException(puzzleIdx.file() + ": expected " + (puzzles + 1) + " entries");
            if (puzzleIdx.get(0) != 0 || puzzleIdx.get(puzzles) != examples) {
                throw new DataException(puzzleIdx.file() + ": must run from 0 to the example count " + examples);
            }
            long groups = groupIdx.size() - 1;
            if (groups < 0 || groupIdx.get(0) != 0 || groupIdx.get(groups) != puzzles) {
                throw new DataException(groupIdx.file() + ": must run from 0 to the puzzle count " + puzzles);
            }
            byte[] in = new byte[seqLen];
            byte[] lab = new byte[seqLen];
            long e = 0;
            int puzzle = 0;
            for (long g = 0; g < groups; g++) {
                long pEnd = groupIdx.get(g + 1);
                if (pEnd < puzzle) throw new DataException(groupIdx.file() + ": decreasing at " + (g + 1));
                for (; puzzle < pEnd; puzzle++) {
                    long eEnd = puzzleIdx.get(puzzle + 1);
                    if (eEnd <= e) throw new DataException(puzzleIdx.file() + ": puzzle " + puzzle + " has no examples");
                    for (; e < eEnd; e++) {
                        row(inputs, e, in, vocab);
                        row(labels, e, lab, vocab);
                        w.addExample(in, lab);
                    }
                    long id = ids.get(puzzle);
                    if (id < 0 || id >= identifiers.size()) {
                        throw new DataException(ids.file() + ": puzzle " + puzzle + " has identifier " + id + " outside identifiers.json");
                    }
                    w.endPuzzle((int) id);
                }
                w.endGroup();
            }
        }
    }

    private static long checkMatrix(Npy a, int seqLen) {
        long[] s = a.shape();
        if (s.length != 2 || s[1] != seqLen) {
            throw new DataException(a.file() + ": shape " + Arrays.toString(s) + ", expected [examples, " + seqLen + "]");
        }
        return s[0];
    }

    private static void row(Npy a, long example, byte[] dst, int vocab) {
        long base = example * dst.length;
        for (int i = 0; i < dst.length; i++) {
            long t = a.get(base + i);
            if (t < 0 || t >= vocab) {
                throw new DataException(a.file() + ": example " + example + " token " + t + " outside vocab " + vocab);
            }
            dst[i] = (byte) t;
        }
    }

    private static TaskKind infer(int vocab, int seqLen, String where) {
        if (vocab == 11 && seqLen == 81) return TaskKind.SUDOKU;
        if (vocab == 6 && seqLen == 900) return TaskKind.MAZE;
        if (vocab == 12 && seqLen == 900) return TaskKind.ARC;
        throw new DataException(where + ": cannot tell the task from vocab " + vocab + " and seq_len " + seqLen + "; pass --task");
    }

}
