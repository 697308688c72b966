package dev.trm.task.sudoku;

import dev.trm.data.DataException;

/**
 * A Sudoku board of side {@code n = boxRows * boxCols} with boxes of boxRows x boxCols cells: 4x4 (2x2 boxes), 6x6
 * (2 rows x 3 columns) and 9x9 (3x3). Tokens (spec 6.3, generalised): PAD = 0, blank = 1, digit d = d + 1, so the
 * vocabulary is n + 2 (11 for 9x9) and the sequence is n*n cells, row-major.
 */
public record SudokuShape(int boxRows, int boxCols) {
    public static final SudokuShape CLASSIC = new SudokuShape(3, 3);
    public static final int PAD = 0;
    public static final int BLANK = 1;

    public SudokuShape {
        if (boxRows < 1 || boxCols < 1 || boxRows * boxCols > 9) {
            throw new IllegalArgumentException("box " + boxRows + "x" + boxCols + ": side must be at most 9");
        }
    }

    /** The standard shape of a side: 4 -> 2x2, 6 -> 2x3, 9 -> 3x3. */
    public static SudokuShape ofSide(int n) {
        return switch (n) {
            case 4 -> new SudokuShape(2, 2);
            case 6 -> new SudokuShape(2, 3);
            case 9 -> CLASSIC;
            default -> throw new DataException("unsupported Sudoku size " + n + "x" + n + " (4, 6 or 9)");
        };
    }

    /** The shape whose cell count is {@code cells} (16, 36 or 81), or null. */
    public static SudokuShape ofCells(int cells) {
        return switch (cells) {
            case 16 -> ofSide(4);
            case 36 -> ofSide(6);
            case 81 -> CLASSIC;
            default -> null;
        };
    }

    public int side() {
        return boxRows * boxCols;
    }

    public int cells() {
        return side() * side();
    }

    public int vocabSize() {
        return side() + 2;
    }

    public int box(int row, int col) {
        return (row / boxRows) * boxRows + col / boxCols;
    }

    @Override
    public String toString() {
        return side() + "x" + side();
    }
}
