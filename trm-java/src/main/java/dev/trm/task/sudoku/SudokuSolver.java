package dev.trm.task.sudoku;

import java.util.SplittableRandom;

/**
 * An exact Sudoku solver: candidate bitmasks, naked and hidden singles to a fixpoint, then depth-first search on the
 * cell with the fewest candidates. It counts solutions up to a limit, which is how uniqueness is checked (limit 2).
 * Not thread-safe (it reuses per-depth scratch arrays); use one per thread.
 */
public final class SudokuSolver {
    /** The outcome of a solve. {@code solutions} is capped at the limit; {@code solution} is the first one found. */
    public record Result(int solutions, byte[] solution, long guesses) {
        public boolean unique() {
            return solutions == 1;
        }
    }

    private final SudokuShape shape;
    private final int n;
    private final int cells;
    private final int full;
    private final int[][] peers;
    private final int[][] units;
    private final int[][] stack;
    private final int[] queue;
    private int queueSize;
    private SplittableRandom random;
    private int limit;
    private int found;
    private long guesses;
    private byte[] first;

    public SudokuSolver(SudokuShape shape) {
        this.shape = shape;
        this.n = shape.side();
        this.cells = shape.cells();
        this.full = (1 << n) - 1;
        this.units = new int[3 * n][n];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                int cell = r * n + c;
                units[r][c] = cell;
                units[n + c][r] = cell;
                int b = shape.box(r, c);
                int k = (r % shape.boxRows()) * shape.boxCols() + c % shape.boxCols();
                units[2 * n + b][k] = cell;
            }
        }
        this.peers = new int[cells][];
        for (int cell = 0; cell < cells; cell++) {
            int r = cell / n, c = cell % n;
            int count = 0;
            int[] tmp = new int[3 * n];
            for (int other = 0; other < cells; other++) {
                if (other == cell) continue;
                int r2 = other / n, c2 = other % n;
                if (r2 == r || c2 == c || shape.box(r2, c2) == shape.box(r, c)) tmp[count++] = other;
            }
            peers[cell] = java.util.Arrays.copyOf(tmp, count);
        }
        this.stack = new int[cells + 2][cells];
        this.queue = new int[cells * 4];
    }

    public SudokuShape shape() {
        return shape;
    }

    /** Solves with deterministic value order, stopping after {@code limit} solutions. Givens: 0 = blank, 1..n. */
    public Result solve(byte[] givens, int limit) {
        return solve(givens, limit, null);
    }

    /** As {@link #solve(byte[], int)}, trying candidate values in random order (for generating full grids). */
    public Result solve(byte[] givens, int limit, SplittableRandom random) {
        if (givens.length != cells) throw new IllegalArgumentException("expected " + cells + " cells");
        this.random = random;
        this.limit = limit;
        this.found = 0;
        this.guesses = 0;
        this.first = null;
        int[] cand = stack[0];
        java.util.Arrays.fill(cand, full);
        queueSize = 0;
        for (int cell = 0; cell < cells; cell++) {
            int v = givens[cell];
            if (v == 0) continue;
            if (v < 0 || v > n) throw new IllegalArgumentException("digit " + v + " outside 1.." + n);
            int bit = 1 << (v - 1);
            if ((cand[cell] & bit) == 0) return new Result(0, null, 0);
            cand[cell] = bit;
            queue[queueSize++] = cell;
            if (!drain(cand)) return new Result(0, null, 0);
        }
        if (hiddenSingles(cand)) search(0);
        return new Result(found, first, guesses);
    }

    /** Counts solutions up to 2 and reports whether there is exactly one. */
    public boolean hasUniqueSolution(byte[] givens) {
        return solve(givens, 2).solutions() == 1;
    }

    private void search(int depth) {
        int[] cand = stack[depth];
        int best = -1, bestCount = Integer.MAX_VALUE;
        for (int cell = 0; cell < cells; cell++) {
            int m = cand[cell];
            if ((m & (m - 1)) != 0) {
                int count = Integer.bitCount(m);
                if (count < bestCount) {
                    bestCount = count;
                    best = cell;
                    if (count == 2) break;
                }
            }
        }
        if (best < 0) {
            if (found++ == 0) {
                first = new byte[cells];
                for (int cell = 0; cell < cells; cell++) first[cell] = (byte) (Integer.numberOfTrailingZeros(cand[cell]) + 1);
            }
            return;
        }
        int[] next = stack[depth + 1];
        int options = cand[best];
        int[] order = new int[bestCount];
        for (int i = 0, m = options; i < bestCount; i++, m &= m - 1) order[i] = Integer.lowestOneBit(m);
        if (random != null) {
            for (int i = bestCount - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = order[i]; order[i] = order[j]; order[j] = t;
            }
        }
        for (int bit : order) {
            guesses++;
            System.arraycopy(cand, 0, next, 0, cells);
            next[best] = bit;
            queueSize = 0;
            queue[queueSize++] = best;
            if (drain(next) && hiddenSingles(next)) search(depth + 1);
            if (found >= limit) return;
        }
    }

    /** Removes each newly fixed cell's digit from its peers; false on a contradiction. */
    private boolean drain(int[] cand) {
        while (queueSize > 0) {
            int cell = queue[--queueSize];
            int bit = cand[cell];
            for (int p : peers[cell]) {
                int m = cand[p];
                if ((m & bit) != 0) {
                    m &= ~bit;
                    if (m == 0) return false;
                    cand[p] = m;
                    if ((m & (m - 1)) == 0) queue[queueSize++] = p;
                }
            }
        }
        return true;
    }

    /** A digit with one possible place in a unit goes there; repeats until nothing changes. False on contradiction. */
    private boolean hiddenSingles(int[] cand) {
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int[] unit : units) {
                int once = 0, twice = 0, fixed = 0;
                for (int cell : unit) {
                    int m = cand[cell];
                    twice |= once & m;
                    once |= m;
                    if ((m & (m - 1)) == 0) fixed |= m;
                }
                if (once != full) return false;
                int singles = once & ~twice & ~fixed;
                while (singles != 0) {
                    int bit = Integer.lowestOneBit(singles);
                    singles &= singles - 1;
                    for (int cell : unit) {
                        if ((cand[cell] & bit) != 0) {
                            cand[cell] = bit;
                            queue[queueSize++] = cell;
                            break;
                        }
                    }
                    if (!drain(cand)) return false;
                    changed = true;
                }
            }
        }
        return true;
    }
}
