package dev.trm.task.maze;

import dev.trm.data.DataException;
import java.util.SplittableRandom;

/**
 * Random mazes the way Lehnert et al. (Searchformer) make them and HRM filters them (datasets.md 5.2): a side x side
 * grid with no border ring; the wall count is uniform in [floor(N/10)*3, floor(N/10)*5] (30-50% of N cells), placed on
 * distinct random cells; S and G are the first two of the shuffled open cells; a pair is kept when the BFS shortest path
 * is longer than {@code minSteps} steps (HRM: "> 110" for 30x30, i.e. at least 111 steps). Up to 100 (S, G) draws per
 * wall layout; one maze per layout, so no two mazes share walls. The label is the solver's deterministic shortest path.
 */
public final class MazeGenerator {
    private final int side;
    private final int minSteps;
    private final SplittableRandom random;
    private long layouts;
    private long searches;

    /** @param minSteps exclusive lower bound on the shortest path length in steps (110 for Maze-Hard) */
    public MazeGenerator(int side, int minSteps, long seed) {
        if (side < 2 || side > 30) throw new DataException("maze size must be 2..30, got " + side);
        this.side = side;
        this.minSteps = minSteps;
        this.random = new SplittableRandom(seed);
    }

    /** The Maze-Hard threshold scaled to a side: 110 for 30, about 3.7 x side otherwise. */
    public static int defaultMinSteps(int side) {
        return side == 30 ? 110 : Math.max(1, (int) Math.round(side * 110.0 / 30.0));
    }

    public Maze generate(long maxLayouts) {
        int n = side * side;
        int lo = (n / 10) * 3, hi = (n / 10) * 5;
        int[] cells = new int[n];
        for (long layout = 0; layout < maxLayouts; layout++) {
            layouts++;
            int walls = lo + random.nextInt(hi - lo + 1);
            for (int i = 0; i < n; i++) cells[i] = i;
            shuffle(cells, n);
            byte[] grid = new byte[n];
            java.util.Arrays.fill(grid, (byte) MazeTokens.OPEN);
            for (int i = 0; i < walls; i++) grid[cells[i]] = MazeTokens.WALL;
            int open = n - walls;
            if (open < 2) continue;
            int[] openCells = java.util.Arrays.copyOfRange(cells, walls, n);
            // Connected components once per layout: a pair in different components, or in one too small to hold a
            // path of minSteps + 1 steps, is rejected without a search. Same accepted distribution, far fewer BFS runs.
            int[] component = new int[n];
            int[] dist = new int[n];
            int[] queue = new int[n];
            int[] componentSize = components(grid, component);
            for (int tries = 0; tries < 100; tries++) {
                shuffle(openCells, 2); // only the first two matter: a partial Fisher-Yates draw
                int s = openCells[0], g = openCells[1];
                if (component[s] != component[g] || componentSize[component[s]] <= minSteps + 1) continue;
                searches++;
                int d = MazeSolver.distance(grid, side, s, g, dist, queue);
                if (d > minSteps) {
                    byte[] question = grid.clone();
                    question[s] = MazeTokens.START;
                    question[g] = MazeTokens.GOAL;
                    byte[] answer = MazeSolver.solve(question, side);
                    return new Maze(side, question, answer, "trm-generator-" + side + "x" + side, Integer.toString(d), "generated");
                }
            }
        }
        throw new DataException("no " + side + "x" + side + " maze with a shortest path over " + minSteps
                + " steps in " + maxLayouts + " wall layouts; lower the threshold");
    }

    /** Wall layouts drawn so far (the rejection rate is layouts per maze). */
    public long layouts() {
        return layouts;
    }

    /** Breadth-first searches run so far. */
    public long searches() {
        return searches;
    }

    /** Labels open cells with their 4-connected component (walls get -1); returns the size of each component. */
    private int[] components(byte[] grid, int[] component) {
        java.util.Arrays.fill(component, -1);
        int[] sizes = new int[grid.length];
        int[] stack = new int[grid.length];
        int count = 0;
        for (int start = 0; start < grid.length; start++) {
            if (grid[start] == MazeTokens.WALL || component[start] >= 0) continue;
            int top = 0;
            stack[top++] = start;
            component[start] = count;
            while (top > 0) {
                int cell = stack[--top];
                sizes[count]++;
                int r = cell / side, c = cell % side;
                if (r > 0) top = visit(grid, component, stack, top, cell - side, count);
                if (r < side - 1) top = visit(grid, component, stack, top, cell + side, count);
                if (c > 0) top = visit(grid, component, stack, top, cell - 1, count);
                if (c < side - 1) top = visit(grid, component, stack, top, cell + 1, count);
            }
            count++;
        }
        return sizes;
    }

    private static int visit(byte[] grid, int[] component, int[] stack, int top, int cell, int label) {
        if (grid[cell] != MazeTokens.WALL && component[cell] < 0) {
            component[cell] = label;
            stack[top++] = cell;
        }
        return top;
    }

    /** Shuffles so that the first k entries are a uniform random draw without replacement. */
    private void shuffle(int[] a, int k) {
        for (int i = 0; i < Math.min(k, a.length - 1); i++) {
            int j = i + random.nextInt(a.length - i);
            int t = a[i]; a[i] = a[j]; a[j] = t;
        }
    }
}
