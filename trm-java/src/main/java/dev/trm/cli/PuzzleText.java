package dev.trm.cli;

import dev.trm.data.DataException;
import dev.trm.data.Json;
import dev.trm.data.TaskKind;
import dev.trm.task.arc.ArcPair;
import dev.trm.task.arc.ArcReader;
import dev.trm.task.arc.ArcTask;
import dev.trm.task.arc.ArcTokens;
import dev.trm.task.maze.Maze;
import dev.trm.task.maze.MazeReader;
import dev.trm.task.maze.MazeTokens;
import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuReader;
import dev.trm.task.sudoku.SudokuTokens;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Puzzles in each task's text format, read with the task readers, and answers written back in the same form:
 * <ul>
 *   <li>Sudoku: one puzzle per line ('.' or '0' for blanks) or the Sudoku-Extreme CSV; answer: one line of digits;</li>
 *   <li>Maze: the Maze-Hard CSV, or plain grids of "# SG" characters, one row per line, mazes separated by an empty
 *       line; answer: the grid with the path marked 'o', flattened to one line;</li>
 *   <li>ARC: task JSON (a file, a folder, or a Kaggle challenges file); every test input is a puzzle whose identifier
 *       is the task's row in the training data's identifiers.json; answer: one JSON line
 *       {@code {"task": id, "test": i, "output": [[...]]}}.</li>
 * </ul>
 */
final class PuzzleText {
    /** Parsed puzzles: token rows, identifiers, and how to print each answer. */
    record Puzzles(List<int[]> inputs, int[] puzzleIds, List<String> labels) {}

    private PuzzleText() {}

    static Puzzles read(TaskKind task, Path file, int seqLen, List<String> identifiers) {
        return switch (task) {
            case SUDOKU -> sudoku(file, seqLen);
            case MAZE -> maze(file, seqLen);
            case ARC -> arc(file, seqLen, identifiers);
        };
    }

    /** The answer line for a puzzle's predicted tokens. */
    static String format(TaskKind task, int[] tokens, String label) {
        return switch (task) {
            case SUDOKU -> SudokuTokens.text(SudokuTokens.decode(tokens, (int) Math.round(Math.sqrt(tokens.length))));
            case MAZE -> {
                byte[] b = new byte[tokens.length];
                for (int i = 0; i < b.length; i++) b[i] = (byte) tokens[i];
                yield MazeTokens.text(b);
            }
            case ARC -> {
                Map<String, Object> m = new LinkedHashMap<>();
                int bar = label.lastIndexOf('#');
                m.put("task", label.substring(0, bar));
                m.put("test", Integer.parseInt(label.substring(bar + 1)));
                m.put("output", ArcTokens.crop(tokens).toRows());
                yield Json.write(m);
            }
        };
    }

    private static Puzzles sudoku(Path file, int seqLen) {
        List<int[]> in = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        for (SudokuPuzzle p : SudokuReader.read(file)) {
            if (p.shape().cells() != seqLen) {
                throw new DataException(p.where() + ": a " + p.shape() + " Sudoku, but the model takes " + seqLen + " cells");
            }
            in.add(ints(p.inputTokens()));
            labels.add(p.where());
        }
        return new Puzzles(in, new int[in.size()], labels);
    }

    private static Puzzles maze(Path file, int seqLen) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage(), e);
        }
        List<int[]> in = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        String first = lines.stream().filter(l -> !l.isEmpty()).findFirst().orElse("");
        if (first.contains(",") && first.toLowerCase(java.util.Locale.ROOT).contains("question")) {
            for (Maze m : MazeReader.read(file)) {
                if (m.question().length != seqLen) {
                    throw new DataException(m.where() + ": a " + m.side() + "x" + m.side() + " maze, but the model takes " + seqLen + " cells");
                }
                in.add(ints(m.question()));
                labels.add(m.where());
            }
            return new Puzzles(in, new int[in.size()], labels);
        }
        // Plain grids: consecutive non-empty lines are one maze.
        int side = (int) Math.round(Math.sqrt(seqLen));
        List<String> rows = new ArrayList<>();
        int startLine = 0;
        for (int i = 0; i <= lines.size(); i++) {
            String l = i < lines.size() ? lines.get(i).replace("\r", "") : "";
            if (!l.isEmpty()) {
                if (rows.isEmpty()) startLine = i + 1;
                rows.add(l);
                continue;
            }
            if (rows.isEmpty()) continue;
            String where = file + ":" + startLine;
            if (rows.size() != side) throw new DataException(where + ": maze has " + rows.size() + " rows, the model takes " + side + "x" + side);
            int[] t = new int[seqLen];
            for (int r = 0; r < side; r++) {
                String row = rows.get(r);
                if (row.length() != side) {
                    throw new DataException(file + ":" + (startLine + r) + ": row has " + row.length() + " characters, expected " + side);
                }
                for (int c = 0; c < side; c++) {
                    int tok = MazeTokens.token(row.charAt(c));
                    if (tok < 0 || tok == MazeTokens.PATH) {
                        throw new DataException(file + ":" + (startLine + r) + ": character '" + row.charAt(c) + "' at column " + (c + 1)
                                + " is not one of \"# SG\"");
                    }
                    t[r * side + c] = tok;
                }
            }
            in.add(t);
            labels.add(where);
            rows.clear();
        }
        if (in.isEmpty()) throw new DataException(file + ": no mazes");
        return new Puzzles(in, new int[in.size()], labels);
    }

    private static Puzzles arc(Path file, int seqLen, List<String> identifiers) {
        if (seqLen != ArcTokens.SEQ_LEN) throw new DataException("the model takes " + seqLen + " tokens, ARC grids are " + ArcTokens.SEQ_LEN);
        Map<String, Integer> idOf = new java.util.HashMap<>();
        for (int i = 0; i < identifiers.size(); i++) idOf.putIfAbsent(identifiers.get(i), i);
        List<int[]> in = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        for (ArcTask t : ArcReader.read(file)) {
            Integer id = idOf.get(t.id());
            if (id == null) {
                throw new DataException(t.where() + ": task " + t.id() + " is not among the " + identifiers.size()
                        + " identifiers of the training data (the model only knows tasks it was trained on)");
            }
            List<ArcPair> test = t.test();
            for (int i = 0; i < test.size(); i++) {
                in.add(ints(ArcTokens.encode(test.get(i).input(), 0, 0)));
                ids.add(id);
                labels.add(t.id() + "#" + i);
            }
        }
        return new Puzzles(in, ids.stream().mapToInt(Integer::intValue).toArray(), labels);
    }

    static List<String> identifiers(Path file) {
        if (!Files.isRegularFile(file)) throw new DataException(file + ": missing");
        return Json.asList(Json.read(file), file.toString()).stream().map(o -> Json.asString(o, file.toString())).toList();
    }

    private static int[] ints(byte[] b) {
        int[] t = new int[b.length];
        for (int i = 0; i < b.length; i++) t[i] = b[i];
        return t;
    }
}
