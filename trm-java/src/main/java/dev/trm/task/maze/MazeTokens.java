package dev.trm.task.maze;

/**
 * Maze token ids (spec 6.3): the charset {@code "# SGo"} maps to 1..5 ('#' wall 1, ' ' open 2, 'S' start 3, 'G' goal 4,
 * 'o' path 5, labels only); 0 = PAD (unused). Vocabulary 6.
 */
public final class MazeTokens {
    public static final String CHARSET = "# SGo";
    public static final int PAD = 0;
    public static final int WALL = 1;
    public static final int OPEN = 2;
    public static final int START = 3;
    public static final int GOAL = 4;
    public static final int PATH = 5;
    public static final int VOCAB = 6;

    private MazeTokens() {}

    /** The token of a maze character, or -1. */
    public static int token(char c) {
        int i = CHARSET.indexOf(c);
        return i < 0 ? -1 : i + 1;
    }

    public static char character(int token) {
        return token >= 1 && token <= 5 ? CHARSET.charAt(token - 1) : '?';
    }

    public static String text(byte[] tokens) {
        StringBuilder sb = new StringBuilder(tokens.length);
        for (byte t : tokens) sb.append(character(t));
        return sb.toString();
    }
}
