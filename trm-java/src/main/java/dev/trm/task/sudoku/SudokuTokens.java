package dev.trm.task.sudoku;

/** The Sudoku token ids of spec 6.3: PAD 0, blank 1, digit d -> d + 1. */
public final class SudokuTokens {
    private SudokuTokens() {}

    public static byte[] encode(byte[] values) {
        byte[] t = new byte[values.length];
        for (int i = 0; i < values.length; i++) t[i] = (byte) (values[i] + 1);
        return t;
    }

    /** Tokens back to cell values: 1 -> 0 (blank), d + 1 -> d; PAD and out-of-range tokens become -1. */
    public static byte[] decode(int[] tokens, int side) {
        byte[] v = new byte[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            int t = tokens[i];
            v[i] = (byte) (t >= 1 && t <= side + 1 ? t - 1 : -1);
        }
        return v;
    }

    /** Text form: '.' for blank, digits 1..9. */
    public static String text(byte[] values) {
        StringBuilder sb = new StringBuilder(values.length);
        for (byte b : values) sb.append(b <= 0 ? '.' : (char) ('0' + b));
        return sb.toString();
    }
}
