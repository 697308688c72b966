package dev.trm.task.sudoku;

import java.util.SplittableRandom;

/**
 * One validity-preserving Sudoku shuffle (spec 6.4, HRM's {@code shuffle_sudoku}), applied identically to a board and
 * its solution: a digit permutation with blank fixed, a transpose with p = 0.5 (square boxes only: transposing a 6x6
 * board would turn its 2x3 boxes into 3x2), a random band order with a random row order inside each band, and the same
 * for column stacks. {@code out[i] = digitMap[in'[cellMap[i]]]} where in' is the transposed board when transposed.
 */
public record SudokuAugmentation(SudokuShape shape, int[] digitMap, boolean transpose, int[] cellMap) {

    public static SudokuAugmentation random(SudokuShape shape, SplittableRandom rnd) {
        int n = shape.side();
        int[] digits = permutation(n, rnd);
        int[] digitMap = new int[n + 1];
        for (int d = 1; d <= n; d++) digitMap[d] = digits[d - 1] + 1;
        boolean transpose = shape.boxRows() == shape.boxCols() && rnd.nextDouble() < 0.5;
        int[] rowPerm = blockPermutation(n / shape.boxRows(), shape.boxRows(), rnd);
        int[] colPerm = blockPermutation(n / shape.boxCols(), shape.boxCols(), rnd);
        int[] cellMap = new int[n * n];
        for (int i = 0; i < n * n; i++) cellMap[i] = rowPerm[i / n] * n + colPerm[i % n];
        return new SudokuAugmentation(shape, digitMap, transpose, cellMap);
    }

    /** Blocks in random order, lines in random order inside each block: b * size + perm(size) for b in perm(blocks). */
    private static int[] blockPermutation(int blocks, int size, SplittableRandom rnd) {
        int[] order = permutation(blocks, rnd);
        int[] out = new int[blocks * size];
        int k = 0;
        for (int b : order) for (int i : permutation(size, rnd)) out[k++] = b * size + i;
        return out;
    }

    static int[] permutation(int n, SplittableRandom rnd) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i]; p[i] = p[j]; p[j] = t;
        }
        return p;
    }

    /** Applies the shuffle to cell values (0 = blank stays blank). */
    public byte[] apply(byte[] values) {
        int n = shape.side();
        byte[] src = values;
        if (transpose) {
            src = new byte[values.length];
            for (int r = 0; r < n; r++) for (int c = 0; c < n; c++) src[c * n + r] = values[r * n + c];
        }
        byte[] out = new byte[values.length];
        for (int i = 0; i < out.length; i++) out[i] = (byte) digitMap[src[cellMap[i]]];
        return out;
    }
}
