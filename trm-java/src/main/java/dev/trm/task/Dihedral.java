package dev.trm.task;

/**
 * The 8 symmetries of a rectangle, numbered as in HRM/TRM's {@code dihedral_transform} (numpy semantics): 0 identity,
 * 1 rot90 (counter-clockwise, {@code np.rot90}), 2 rot180, 3 rot270, 4 flip left-right, 5 flip up-down, 6 transpose,
 * 7 anti-transpose ({@code fliplr(rot90(x))}). Transforms 1, 3, 6, 7 swap height and width.
 */
public final class Dihedral {
    /** inverse(t): the transform that undoes t. */
    private static final int[] INVERSE = {0, 3, 2, 1, 4, 5, 6, 7};

    private Dihedral() {}

    public static int inverse(int t) {
        return INVERSE[t];
    }

    public static boolean swapsAxes(int t) {
        return t == 1 || t == 3 || t == 6 || t == 7;
    }

    /** Applies t to a row-major rows x cols grid; the result is row-major with swapped dims when swapsAxes(t). */
    public static byte[] apply(byte[] cells, int rows, int cols, int t) {
        if (t == 0) return cells.clone();
        int outRows = swapsAxes(t) ? cols : rows;
        int outCols = swapsAxes(t) ? rows : cols;
        byte[] out = new byte[cells.length];
        int h = rows, w = cols;
        for (int i = 0; i < outRows; i++) {
            for (int j = 0; j < outCols; j++) {
                int r, c;
                switch (t) {
                    case 1 -> { r = j; c = w - 1 - i; }
                    case 2 -> { r = h - 1 - i; c = w - 1 - j; }
                    case 3 -> { r = h - 1 - j; c = i; }
                    case 4 -> { r = i; c = w - 1 - j; }
                    case 5 -> { r = h - 1 - i; c = j; }
                    case 6 -> { r = j; c = i; }
                    case 7 -> { r = h - 1 - j; c = w - 1 - i; }
                    default -> throw new IllegalArgumentException("dihedral transform " + t + " outside 0..7");
                }
                out[i * outCols + j] = cells[r * cols + c];
            }
        }
        return out;
    }
}
