package dev.trm.task.sudoku;

/**
 * One Sudoku as read from a file: cell values row-major, 0 = blank, 1..n digits.
 *
 * @param source the file's source column (or file name) for provenance
 * @param answer the full solution, or null when the file gave none
 * @param rating the rating column as written (Sudoku-Extreme: tdoku backtracks), or "" when absent
 * @param where file and line, for error messages
 */
public record SudokuPuzzle(String source, SudokuShape shape, byte[] question, byte[] answer, String rating, String where) {

    public SudokuPuzzle withAnswer(byte[] solved) {
        return new SudokuPuzzle(source, shape, question, solved, rating, where);
    }

    /** Tokens of the question: blank 1, digit d -> d + 1 (spec 6.3). */
    public byte[] inputTokens() {
        return SudokuTokens.encode(question);
    }

    /** Tokens of the answer (every cell a digit). */
    public byte[] labelTokens() {
        if (answer == null) throw new IllegalStateException(where + ": no answer");
        return SudokuTokens.encode(answer);
    }

    public int givens() {
        int g = 0;
        for (byte b : question) if (b != 0) g++;
        return g;
    }
}
