package dev.trm.task.maze;

import java.util.Arrays;

/**
 * Breadth-first search on the 4-neighbourhood (unit steps, walls blocked). Path length is counted in steps, so a path
 * of k steps marks k - 1 cells between S and G. The labelled shortest path is deterministic: walking from S, always
 * step to the first neighbour, in the order up, down, left, right, that is one step closer to G.
 */
public final class MazeSolver {
    private static final int[] DR = {-1, 1, 0, 0};
    private static final int[] DC = {0, 0, -1, 1};

    private MazeSolver() {}

    /** Step distances from {@code from} to every cell (-1 = unreachable); cells with token WALL are blocked. */
    public static int[] distances(byte[] grid, int side, int from) {
        int[] dist = new int[grid.length];
        Arrays.fill(dist, -1);
        int[] queue = new int[grid.length];
        int head = 0, tail = 0;
        dist[from] = 0;
        queue[tail++] = from;
        while (head < tail) {
            int cell = queue[head++];
            int r = cell / side, c = cell % side;
            for (int k = 0; k < 4; k++) {
                int r2 = r + DR[k], c2 = c + DC[k];
                if (r2 < 0 || r2 >= side || c2 < 0 || c2 >= side) continue;
                int next = r2 * side + c2;
                if (dist[next] >= 0 || grid[next] == MazeTokens.WALL) continue;
                dist[next] = dist[cell] + 1;
                queue[tail++] = next;
            }
        }
        return dist;
    }

    /** Step distance from one cell to another (-1 when unreachable); the search stops as soon as it reaches {@code to}. */
    public static int distance(byte[] grid, int side, int from, int to) {
        return distance(grid, side, from, to, new int[grid.length], new int[grid.length]);
    }

    /** As {@link #distance(byte[], int, int, int)} with caller-owned scratch arrays of grid.length (for tight loops). */
    public static int distance(byte[] grid, int side, int from, int to, int[] dist, int[] queue) {
        if (from == to) return 0;
        Arrays.fill(dist, -1);
        int head = 0, tail = 0;
        dist[from] = 0;
        queue[tail++] = from;
        while (head < tail) {
            int cell = queue[head++];
            int r = cell / side, c = cell % side;
            for (int k = 0; k < 4; k++) {
                int r2 = r + DR[k], c2 = c + DC[k];
                if (r2 < 0 || r2 >= side || c2 < 0 || c2 >= side) continue;
                int next = r2 * side + c2;
                if (dist[next] >= 0 || grid[next] == MazeTokens.WALL) continue;
                dist[next] = dist[cell] + 1;
                if (next == to) return dist[next];
                queue[tail++] = next;
            }
        }
        return -1;
    }

    /** Shortest S-to-G distance in steps, or -1 when G is unreachable. */
    public static int shortestDistance(Maze m) {
        return distances(m.question(), m.side(), m.find(MazeTokens.START))[m.find(MazeTokens.GOAL)];
    }

    /** The answer grid with the deterministic shortest path marked, or null when G is unreachable. */
    public static byte[] solve(byte[] question, int side) {
        int start = indexOf(question, MazeTokens.START), goal = indexOf(question, MazeTokens.GOAL);
        int[] toGoal = distances(question, side, goal);
        if (toGoal[start] < 0) return null;
        byte[] answer = question.clone();
        int cell = start;
        while (toGoal[cell] > 1) {
            int r = cell / side, c = cell % side;
            for (int k = 0; k < 4; k++) {
                int r2 = r + DR[k], c2 = c + DC[k];
                if (r2 < 0 || r2 >= side || c2 < 0 || c2 >= side) continue;
                int next = r2 * side + c2;
                if (toGoal[next] == toGoal[cell] - 1) {
                    cell = next;
                    break;
                }
            }
            answer[cell] = MazeTokens.PATH;
        }
        return answer;
    }

    private static int indexOf(byte[] g, int token) {
        for (int i = 0; i < g.length; i++) if (g[i] == token) return i;
        throw new IllegalArgumentException("no cell with token " + token);
    }

    /**
     * Why {@code answer} is not a shortest S-to-G path for {@code question}, or null when it is: the marked cells must be
     * open in the question, everything else unchanged, and together with S and G form a 4-connected simple path whose
     * step count equals the BFS distance.
     */
    public static String whyNotShortestPath(byte[] question, byte[] answer, int side) {
        if (answer.length != question.length) return "answer has " + answer.length + " cells, question " + question.length;
        int start = indexOf(question, MazeTokens.START), goal = indexOf(question, MazeTokens.GOAL);
        int marked = 0;
        for (int i = 0; i < question.length; i++) {
            if (answer[i] == MazeTokens.PATH) {
                if (question[i] != MazeTokens.OPEN) return "path cell at row " + (i / side + 1) + ", column " + (i % side + 1) + " is not open";
                marked++;
            } else if (answer[i] != question[i]) {
                return "cell at row " + (i / side + 1) + ", column " + (i % side + 1) + " changed to '"
                        + MazeTokens.character(answer[i]) + "'";
            }
        }
        int best = distances(question, side, start)[goal];
        if (best < 0) return "G is unreachable from S";
        if (marked != best - 1) return "path marks " + marked + " cells, a shortest path has " + (best - 1);
        // Walk from S along marked cells; each step must have exactly one unvisited continuation.
        boolean[] seen = new boolean[question.length];
        int cell = start, steps = 0;
        seen[start] = true;
        while (true) {
            int r = cell / side, c = cell % side;
            int next = -1;
            boolean reachesGoal = false;
            for (int k = 0; k < 4; k++) {
                int r2 = r + DR[k], c2 = c + DC[k];
                if (r2 < 0 || r2 >= side || c2 < 0 || c2 >= side) continue;
                int n = r2 * side + c2;
                if (n == goal) reachesGoal = true;
                if (answer[n] == MazeTokens.PATH && !seen[n]) {
                    if (next >= 0) return "path branches at row " + (r + 1) + ", column " + (c + 1);
                    next = n;
                }
            }
            if (reachesGoal && steps == best - 1) return null;
            if (next < 0) return "path from S breaks off at row " + (r + 1) + ", column " + (c + 1);
            seen[next] = true;
            cell = next;
            steps++;
        }
    }
}
