package dev.trm.task.arc;

import dev.trm.data.DataException;
import dev.trm.data.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Reads ARC tasks from the layouts users have:
 * <ul>
 *   <li>a folder of per-task JSON files {@code {"train": [...], "test": [...]}} (ARC-AGI-1/-2), searched recursively
 *       (ConceptARC's {@code corpus/<Concept>/<Concept><n>.json}); the task id is the file name without .json;</li>
 *   <li>a single task file;</li>
 *   <li>a Kaggle {@code *_challenges.json} mapping task id to {train, test (inputs only)}, with the test outputs taken
 *       from the sibling {@code *_solutions.json} when it exists (task id to the list of test output grids).</li>
 * </ul>
 * Every grid is checked: rectangular, 1x1 to 30x30, colours 0..9; errors name the file and task id.
 */
public final class ArcReader {
    private ArcReader() {}

    public static List<ArcTask> read(Path path) {
        if (Files.isDirectory(path)) {
            List<Path> files;
            try (Stream<Path> walk = Files.walk(path)) {
                files = walk.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".json")).sorted().toList();
            } catch (IOException e) {
                throw new DataException(path + ": cannot list: " + e.getMessage(), e);
            }
            if (files.isEmpty()) throw new DataException(path + ": no .json task files");
            List<ArcTask> tasks = new ArrayList<>();
            for (Path f : files) {
                if (f.getFileName().toString().endsWith("_solutions.json")) continue;
                tasks.addAll(readFile(f));
            }
            return tasks;
        }
        if (!Files.isRegularFile(path)) throw new DataException(path + ": no such file or folder");
        return readFile(path);
    }

    private static List<ArcTask> readFile(Path file) {
        Map<String, Object> top = Json.asObject(Json.read(file), file.toString());
        if (top.containsKey("train") && top.containsKey("test")) {
            String name = file.getFileName().toString();
            String id = name.substring(0, name.length() - ".json".length());
            return List.of(task(id, top, null, file));
        }
        // Kaggle layout: task id -> task; outputs from the solutions file.
        Map<String, Object> solutions = null;
        String fname = file.getFileName().toString();
        if (fname.contains("challenges")) {
            Path sol = file.resolveSibling(fname.replace("challenges", "solutions"));
            if (Files.isRegularFile(sol)) solutions = Json.asObject(Json.read(sol), sol.toString());
        }
        List<ArcTask> tasks = new ArrayList<>();
        for (Map.Entry<String, Object> e : top.entrySet()) {
            String where = file + ": task " + e.getKey();
            Map<String, Object> t = Json.asObject(e.getValue(), where);
            List<Object> outs = null;
            if (solutions != null) {
                if (!solutions.containsKey(e.getKey())) throw new DataException(where + ": missing from the solutions file");
                outs = Json.asList(solutions.get(e.getKey()), where + " solutions");
            }
            tasks.add(task(e.getKey(), t, outs, file));
        }
        if (tasks.isEmpty()) throw new DataException(file + ": no tasks");
        return tasks;
    }

    private static ArcTask task(String id, Map<String, Object> t, List<Object> testOutputs, Path file) {
        String where = file + ": task " + id;
        List<ArcPair> train = pairs(Json.asList(Json.field(t, "train", where), where + " train"), null, where + " train");
        List<ArcPair> test = pairs(Json.asList(Json.field(t, "test", where), where + " test"), testOutputs, where + " test");
        if (train.isEmpty()) throw new DataException(where + ": no train pairs");
        if (test.isEmpty()) throw new DataException(where + ": no test pairs");
        if (testOutputs != null && testOutputs.size() != test.size()) {
            throw new DataException(where + ": " + test.size() + " test inputs but " + testOutputs.size() + " solutions");
        }
        return new ArcTask(id, List.copyOf(train), List.copyOf(test), file.toString());
    }

    private static List<ArcPair> pairs(List<Object> list, List<Object> outputs, String where) {
        List<ArcPair> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String w = where + " pair " + (i + 1);
            Map<String, Object> p = Json.asObject(list.get(i), w);
            ArcGrid in = grid(Json.field(p, "input", w), w + " input");
            ArcGrid o = null;
            if (p.containsKey("output")) o = grid(p.get("output"), w + " output");
            else if (outputs != null) o = grid(outputs.get(i), w + " solution");
            out.add(new ArcPair(in, o));
        }
        return out;
    }

    /** Parses a JSON list of rows into a grid, checking shape and colours. */
    public static ArcGrid grid(Object value, String where) {
        List<Object> rows = Json.asList(value, where);
        if (rows.isEmpty()) throw new DataException(where + ": empty grid");
        if (rows.size() > ArcGrid.MAX_SIDE) throw new DataException(where + ": " + rows.size() + " rows, more than 30");
        int cols = -1;
        byte[] cells = null;
        for (int r = 0; r < rows.size(); r++) {
            List<Object> row = Json.asList(rows.get(r), where + " row " + (r + 1));
            if (cols < 0) {
                cols = row.size();
                if (cols == 0) throw new DataException(where + ": empty row 1");
                if (cols > ArcGrid.MAX_SIDE) throw new DataException(where + ": " + cols + " columns, more than 30");
                cells = new byte[rows.size() * cols];
            } else if (row.size() != cols) {
                throw new DataException(where + ": not rectangular: row " + (r + 1) + " has " + row.size()
                        + " cells, row 1 has " + cols);
            }
            for (int c = 0; c < cols; c++) {
                Object v = row.get(c);
                if (!(v instanceof Long l) || l < 0 || l > 9) {
                    throw new DataException(where + ": colour " + v + " at row " + (r + 1) + ", column " + (c + 1) + " is not 0-9");
                }
                cells[r * cols + c] = (byte) (long) l;
            }
        }
        return new ArcGrid(rows.size(), cols, cells);
    }

    /** The task as the official JSON layout (train and test pairs with outputs where known). */
    public static Map<String, Object> toJson(ArcTask t) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("train", t.train().stream().map(ArcReader::pairJson).toList());
        m.put("test", t.test().stream().map(ArcReader::pairJson).toList());
        return m;
    }

    private static Map<String, Object> pairJson(ArcPair p) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("input", p.input().toRows());
        if (p.output() != null) m.put("output", p.output().toRows());
        return m;
    }
}
