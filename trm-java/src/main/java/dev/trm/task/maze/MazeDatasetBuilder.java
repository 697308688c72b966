package dev.trm.task.maze;

import dev.trm.data.DataException;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.DatasetOutput;
import dev.trm.data.DatasetWriter;
import dev.trm.data.TaskKind;
import dev.trm.data.TokenLayout;
import dev.trm.task.Dihedral;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds Maze splits as HRM's {@code build_maze_dataset.py} does: one group per maze, identifier 0. With augmentation
 * (the builder's {@code --aug}, off by default as in the README run) each training maze's group also holds
 * {@code min(N, 7)} distinct dihedral transforms of it, drawn at random; N >= 7 gives all 8 symmetries. Test mazes are
 * not augmented.
 */
public final class MazeDatasetBuilder {
    private MazeDatasetBuilder() {}

    public static List<DatasetMetadata> build(List<Maze> train, List<Maze> test, int augment, long seed, DatasetOutput out) {
        int side = !train.isEmpty() ? train.get(0).side() : test.get(0).side();
        for (Maze m : train) checkSide(m, side);
        for (Maze m : test) checkSide(m, side);
        TokenLayout layout = TokenLayout.of(TaskKind.MAZE, MazeTokens.VOCAB, side * side);
        SplittableRandom rnd = new SplittableRandom(seed);
        int extra = Math.min(Math.max(augment, 0), 7);
        if (!train.isEmpty()) {
            DatasetWriter w = out.split("train", layout);
            for (Maze m : train) {
                w.addExample(m.question(), m.answer());
                w.endPuzzle(0);
                int[] ts = {1, 2, 3, 4, 5, 6, 7};
                for (int i = ts.length - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1);
                    int t = ts[i]; ts[i] = ts[j]; ts[j] = t;
                }
                for (int k = 0; k < extra; k++) {
                    w.addExample(Dihedral.apply(m.question(), side, side, ts[k]), Dihedral.apply(m.answer(), side, side, ts[k]));
                    w.endPuzzle(0);
                }
                w.endGroup();
            }
        }
        if (!test.isEmpty()) {
            DatasetWriter w = out.split("test", layout);
            for (Maze m : test) {
                w.addExample(m.question(), m.answer());
                w.endPuzzle(0);
                w.endGroup();
            }
        }
        return out.commit(List.of("<blank>"));
    }

    private static void checkSide(Maze m, int side) {
        if (m.side() != side) throw new DataException(m.where() + ": a " + m.side() + "x" + m.side() + " maze among " + side + "x" + side);
        if (m.answer() == null) throw new IllegalArgumentException(m.where() + ": maze without answer");
    }
}
