package dev.trm.task.maze;

/**
 * A square maze as token ids (see {@link MazeTokens}), row-major, {@code side x side}.
 *
 * @param answer the question with one shortest S-to-G path's cells (S and G excluded) marked PATH, or null if unknown
 * @param where file and line (or "generated"), for error messages
 */
public record Maze(int side, byte[] question, byte[] answer, String source, String rating, String where) {

    public Maze withAnswer(byte[] a) {
        return new Maze(side, question, a, source, rating, where);
    }

    public int find(int token) {
        for (int i = 0; i < question.length; i++) if (question[i] == token) return i;
        return -1;
    }
}
