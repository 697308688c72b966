package dev.trm.task.arc;

/**
 * The ARC sequence encoding (spec 6.3): a grid sits in a 30x30 canvas at (r0, c0), flattened row-major to 900 tokens;
 * PAD = 0, EOS = 1, colour c -> c + 2 (vocab 12). EOS fills the row just below the grid across the grid's columns and
 * the column just right of it across the grid's rows, each only if inside the canvas; the corner stays PAD.
 */
public final class ArcTokens {
    public static final int SIDE = 30;
    public static final int SEQ_LEN = SIDE * SIDE;
    public static final int PAD = 0;
    public static final int EOS = 1;
    public static final int VOCAB = 12;

    private ArcTokens() {}

    public static byte[] encode(ArcGrid g, int r0, int c0) {
        byte[] t = new byte[SEQ_LEN];
        encodeInto(g, r0, c0, t);
        return t;
    }

    /** Encodes into dst (900 tokens, overwritten). */
    public static void encodeInto(ArcGrid g, int r0, int c0, byte[] dst) {
        if (r0 < 0 || c0 < 0 || r0 + g.rows() > SIDE || c0 + g.cols() > SIDE) {
            throw new IllegalArgumentException("grid " + g.rows() + "x" + g.cols() + " at " + r0 + "," + c0 + " leaves the canvas");
        }
        java.util.Arrays.fill(dst, (byte) PAD);
        for (int r = 0; r < g.rows(); r++) {
            for (int c = 0; c < g.cols(); c++) dst[(r0 + r) * SIDE + c0 + c] = (byte) (g.get(r, c) + 2);
        }
        int eosRow = r0 + g.rows(), eosCol = c0 + g.cols();
        if (eosRow < SIDE) for (int c = c0; c < eosCol; c++) dst[eosRow * SIDE + c] = EOS;
        if (eosCol < SIDE) for (int r = r0; r < eosRow; r++) dst[r * SIDE + eosCol] = EOS;
    }

    /** All-PAD labels: the loss ignores every cell (a test pair whose output is unknown). */
    public static byte[] ignored() {
        return new byte[SEQ_LEN];
    }

    /**
     * The official crop ({@code _crop} of HRM/TRM's evaluator): the largest-area top-left rectangle whose cells are all
     * colour tokens, minus 2. Rows are scanned from the top; the admissible width only shrinks. Empty grid -> 0x0.
     */
    public static ArcGrid crop(int[] tokens) {
        if (tokens.length != SEQ_LEN) throw new IllegalArgumentException("expected " + SEQ_LEN + " tokens");
        int maxArea = 0, bestRows = 0, bestCols = 0;
        int numCols = SIDE;
        for (int numRows = 1; numRows <= SIDE; numRows++) {
            for (int c = 1; c <= numCols; c++) {
                int x = tokens[(numRows - 1) * SIDE + c - 1];
                if (x < 2 || x > 11) {
                    numCols = c - 1;
                    break;
                }
            }
            int area = numRows * numCols;
            if (area > maxArea) {
                maxArea = area;
                bestRows = numRows;
                bestCols = numCols;
            }
        }
        byte[] cells = new byte[bestRows * bestCols];
        for (int r = 0; r < bestRows; r++) {
            for (int c = 0; c < bestCols; c++) cells[r * bestCols + c] = (byte) (tokens[r * SIDE + c] - 2);
        }
        return new ArcGrid(bestRows, bestCols, cells);
    }
}
