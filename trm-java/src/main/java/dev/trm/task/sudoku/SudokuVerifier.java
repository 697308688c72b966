package dev.trm.task.sudoku;

import dev.trm.data.DataException;

/**
 * Checks puzzles before they become training data: givens must not repeat a digit in a row, column or box; the puzzle
 * must have exactly one solution; a given answer must be that solution. Puzzles without an answer get the solver's.
 */
public final class SudokuVerifier {
    private final SudokuSolver solver;

    public SudokuVerifier(SudokuShape shape) {
        this.solver = new SudokuSolver(shape);
    }

    /** Returns the puzzle with its verified (or computed) unique solution, or throws naming the puzzle's file:line. */
    public SudokuPuzzle verify(SudokuPuzzle p) {
        String conflict = conflict(p.shape(), p.question());
        if (conflict != null) throw new DataException(p.where() + ": inconsistent givens: " + conflict);
        if (p.answer() != null) {
            String bad = conflict(p.shape(), p.answer());
            if (bad != null) throw new DataException(p.where() + ": answer is not a valid grid: " + bad);
        }
        SudokuSolver.Result r = solver.solve(p.question(), 2);
        if (r.solutions() == 0) throw new DataException(p.where() + ": puzzle has no solution");
        if (r.solutions() > 1) throw new DataException(p.where() + ": puzzle has more than one solution");
        if (p.answer() != null && !java.util.Arrays.equals(p.answer(), r.solution())) {
            throw new DataException(p.where() + ": answer differs from the puzzle's unique solution");
        }
        return p.answer() != null ? p : p.withAnswer(r.solution());
    }

    /** The first repeated digit in a row, column or box, in words, or null when there is none. Blanks (0) are skipped. */
    public static String conflict(SudokuShape shape, byte[] values) {
        int n = shape.side();
        for (int r = 0; r < n; r++) {
            int seen = 0;
            for (int c = 0; c < n; c++) {
                int v = values[r * n + c];
                if (v == 0) continue;
                if ((seen & (1 << v)) != 0) return "digit " + v + " appears twice in row " + (r + 1);
                seen |= 1 << v;
            }
        }
        for (int c = 0; c < n; c++) {
            int seen = 0;
            for (int r = 0; r < n; r++) {
                int v = values[r * n + c];
                if (v == 0) continue;
                if ((seen & (1 << v)) != 0) return "digit " + v + " appears twice in column " + (c + 1);
                seen |= 1 << v;
            }
        }
        int[] boxSeen = new int[n];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                int v = values[r * n + c];
                if (v == 0) continue;
                int b = shape.box(r, c);
                if ((boxSeen[b] & (1 << v)) != 0) return "digit " + v + " appears twice in box " + (b + 1);
                boxSeen[b] |= 1 << v;
            }
        }
        return null;
    }

    /** True when values is a complete grid (no blanks) without repeats. */
    public static boolean isSolvedGrid(SudokuShape shape, byte[] values) {
        for (byte v : values) if (v < 1 || v > shape.side()) return false;
        return conflict(shape, values) == null;
    }
}
