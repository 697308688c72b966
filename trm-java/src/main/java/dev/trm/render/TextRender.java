package dev.trm.render;

import dev.trm.data.TaskKind;
import dev.trm.task.arc.ArcGrid;
import dev.trm.task.arc.ArcTokens;
import dev.trm.task.maze.MazeTokens;
import dev.trm.task.sudoku.SudokuShape;

/** Plain-text pictures of puzzles and token sequences, for terminals and logs. */
public final class TextRender {
    private TextRender() {}

    /** A Sudoku board (0 = blank, shown '.') with box separators. */
    public static String sudoku(byte[] values, SudokuShape shape) {
        int n = shape.side();
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < n; r++) {
            if (r > 0 && r % shape.boxRows() == 0) {
                for (int c = 0; c < n; c++) sb.append(c > 0 && c % shape.boxCols() == 0 ? "+-" : "").append("--");
                sb.setLength(sb.length() - 1);
                sb.append('\n');
            }
            for (int c = 0; c < n; c++) {
                if (c > 0) sb.append(c % shape.boxCols() == 0 ? " | " : " ");
                int v = values[r * n + c];
                sb.append(v <= 0 ? '.' : (char) ('0' + v));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** A maze grid of tokens as its "# SGo" characters, one row per line. */
    public static String maze(byte[] tokens, int side) {
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < side; r++) {
            for (int c = 0; c < side; c++) sb.append(MazeTokens.character(tokens[r * side + c]));
            sb.append('\n');
        }
        return sb.toString();
    }

    /** An ARC grid as digits, one row per line. */
    public static String arc(ArcGrid g) {
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < g.rows(); r++) {
            for (int c = 0; c < g.cols(); c++) sb.append((char) ('0' + g.get(r, c)));
            sb.append('\n');
        }
        return sb.toString();
    }

    /**
     * Any task's token sequence. Sudoku: the board (tokens minus 1; PAD shown '?'). Maze: characters. ARC: the 30x30
     * canvas with PAD as '.', EOS as '#', colours as digits, trailing all-PAD rows and columns dropped.
     */
    public static String tokens(TaskKind task, int[] tokens) {
        int side = (int) Math.round(Math.sqrt(tokens.length));
        switch (task) {
            case SUDOKU -> {
                SudokuShape shape = SudokuShape.ofCells(tokens.length);
                byte[] v = new byte[tokens.length];
                for (int i = 0; i < v.length; i++) v[i] = (byte) (tokens[i] - 1);
                if (shape != null) return sudoku(v, shape);
                return java.util.Arrays.toString(tokens) + "\n";
            }
            case MAZE -> {
                byte[] b = new byte[tokens.length];
                for (int i = 0; i < b.length; i++) b[i] = (byte) tokens[i];
                return maze(b, side);
            }
            default -> {
                int lastRow = -1, lastCol = -1;
                for (int i = 0; i < tokens.length; i++) {
                    if (tokens[i] != ArcTokens.PAD) {
                        lastRow = Math.max(lastRow, i / side);
                        lastCol = Math.max(lastCol, i % side);
                    }
                }
                StringBuilder sb = new StringBuilder();
                for (int r = 0; r <= lastRow; r++) {
                    for (int c = 0; c <= lastCol; c++) {
                        int t = tokens[r * side + c];
                        sb.append(t == ArcTokens.PAD ? '.' : t == ArcTokens.EOS ? '#' : t >= 2 && t <= 11 ? (char) ('0' + t - 2) : '?');
                    }
                    sb.append('\n');
                }
                return sb.toString();
            }
        }
    }
}
