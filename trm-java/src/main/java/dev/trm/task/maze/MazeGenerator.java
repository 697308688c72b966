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
            int walls = lo + random.nextInt(hi - lo + 1);
            for (int i = 0; i < n; i++) cells[i] = i;
            shuffle(cells, n);
            byte[] grid = new byte[n];
            java.util.Arrays.fill(grid, (byte) MazeTokens.OPEN);
            for (int i = 0; i < walls; i++) grid[cells[i]] = MazeTokens.WALL;
            int open = n - walls;
            if (open < 2) continue;
            int[] openCells = java.util.Arrays.copyOfRange(cells, walls, n);
            for (int tries = 0; tries < 100; tries++) {
                shuffle(openCells, 2); // only the first two matter: a partial Fisher-Yates draw
                int s = openCells[0], g = openCells[1];
                int[] dist = MazeSolver.distances(grid, side, s);
                if (dist[g] > minSteps) {
                    byte[] question = grid.clone();
                    question[s] = MazeTokens.START;
                    question[g] = MazeTokens.GOAL;
                    byte[] answer = MazeSolver.solve(question, side);
                    return new Maze(side, question, answer, "trm-generator-" + side + "x" + side, Integer.toString(dist[g]), "generated");
                }
            }
        }
        throw new DataException("no " + side + "x" + side + " maze with a shortest path over " + minSteps
                + " steps in " + maxLayouts + " wall layouts; lower the threshold");
    }

    /** Shuffles so that the first k entries are a uniform random draw without replacement. */
    private void shuffle(int[] a, int k) {
        for (int i = 0; i < Math.min(k, a.length - 1); i++) {
            int j = i + random.nextInt(a.length - i);
            int t = a[i]; a[i] = a[j]; a[j] = t;
        }
    }
}
