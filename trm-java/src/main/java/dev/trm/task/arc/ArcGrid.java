package dev.trm.task.arc;

import dev.trm.task.Dihedral;
import java.util.Arrays;

/** An ARC grid: rows x cols colours 0..9 (0 = black), row-major, 1x1 to 30x30. Equality is by content. */
public record ArcGrid(int rows, int cols, byte[] cells) {
    public static final int MAX_SIDE = 30;

    public int get(int r, int c) {
        return cells[r * cols + c];
    }

    public ArcGrid transform(int dihedral) {
        byte[] out = Dihedral.apply(cells, rows, cols, dihedral);
        return Dihedral.swapsAxes(dihedral) ? new ArcGrid(cols, rows, out) : new ArcGrid(rows, cols, out);
    }

    /** Maps each colour c to map[c]. */
    public ArcGrid recolour(int[] map) {
        byte[] out = new byte[cells.length];
        for (int i = 0; i < out.length; i++) out[i] = (byte) map[cells[i]];
        return new ArcGrid(rows, cols, out);
    }

    public int[][] toRows() {
        int[][] out = new int[rows][cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) out[r][c] = get(r, c);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ArcGrid g && g.rows == rows && g.cols == cols && Arrays.equals(g.cells, cells);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * rows + cols) + Arrays.hashCode(cells);
    }

    @Override
    public String toString() {
        return rows + "x" + cols + Arrays.toString(cells);
    }
}
