package dev.trm.eval;

import dev.trm.data.TaskKind;
import dev.trm.task.maze.MazeSolver;

/**
 * Token and exact accuracy for Sudoku and Maze; for Maze also whether the prediction is a valid shortest path. Labels
 * equal to {@code ignoreLabelId} are not scored (none occur in Sudoku or Maze); examples without scored tokens are
 * skipped, as in the official metrics.
 */
public final class SequenceEvaluator implements Evaluator<SequenceMetrics> {
    private final TaskKind task;
    private final int ignoreLabelId;
    private long examples;
    private double tokenAccuracySum;
    private long exact;
    private double confidenceSum;
    private long validPaths;

    public SequenceEvaluator(TaskKind task, int ignoreLabelId) {
        this.task = task;
        this.ignoreLabelId = ignoreLabelId;
    }

    @Override
    public void begin() {
        examples = 0;
        tokenAccuracySum = 0;
        exact = 0;
        confidenceSum = 0;
        validPaths = 0;
    }

    @Override
    public void add(EvalExample e) {
        int scored = 0, right = 0;
        for (int i = 0; i < e.label().length; i++) {
            if (e.label()[i] == ignoreLabelId || e.label()[i] == -100) continue;
            scored++;
            if (e.prediction()[i] == e.label()[i]) right++;
        }
        if (scored == 0) return;
        examples++;
        tokenAccuracySum += (double) right / scored;
        if (right == scored) exact++;
        confidenceSum += e.haltConfidence();
        if (task == TaskKind.MAZE && isShortestPath(e)) validPaths++;
    }

    private static boolean isShortestPath(EvalExample e) {
        int side = (int) Math.round(Math.sqrt(e.input().length));
        byte[] q = new byte[e.input().length];
        byte[] p = new byte[q.length];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) e.input()[i];
            int t = e.prediction()[i];
            p[i] = (byte) (t >= 0 && t < 6 ? t : 0);
        }
        try {
            return MazeSolver.whyNotShortestPath(q, p, side) == null;
        } catch (IllegalArgumentException noStartOrGoal) {
            return false;
        }
    }

    @Override
    public SequenceMetrics result() {
        double n = Math.max(1, examples);
        return new SequenceMetrics(examples, tokenAccuracySum / n, exact / n, confidenceSum / n,
                task == TaskKind.MAZE ? validPaths / n : Double.NaN);
    }
}
