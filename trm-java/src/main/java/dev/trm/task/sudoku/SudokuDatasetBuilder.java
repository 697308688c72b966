package dev.trm.task.sudoku;

import dev.trm.data.DataException;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.DatasetOutput;
import dev.trm.data.DatasetWriter;
import dev.trm.data.TaskKind;
import dev.trm.data.TokenLayout;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds Sudoku splits as HRM/TRM's {@code build_sudoku_dataset.py} does (spec 6.4): each training puzzle is a group of
 * itself plus N shuffled copies ({@link SudokuAugmentation}, no de-duplication), one example per puzzle, all under
 * identifier 0; test puzzles are one group each, not augmented. Puzzles must already be verified (answers present).
 */
public final class SudokuDatasetBuilder {
    private SudokuDatasetBuilder() {}

    public static List<DatasetMetadata> build(List<SudokuPuzzle> train, List<SudokuPuzzle> test, int augment, long seed,
            DatasetOutput out) {
        SudokuShape shape = !train.isEmpty() ? train.get(0).shape() : test.get(0).shape();
        for (SudokuPuzzle p : train) checkShape(p, shape);
        for (SudokuPuzzle p : test) checkShape(p, shape);
        TokenLayout layout = TokenLayout.of(TaskKind.SUDOKU, shape.vocabSize(), shape.cells());
        SplittableRandom rnd = new SplittableRandom(seed);
        if (!train.isEmpty()) {
            DatasetWriter w = out.split("train", layout);
            for (SudokuPuzzle p : train) {
                w.addExample(p.inputTokens(), p.labelTokens());
                w.endPuzzle(0);
                for (int k = 0; k < augment; k++) {
                    SudokuAugmentation a = SudokuAugmentation.random(shape, rnd);
                    w.addExample(SudokuTokens.encode(a.apply(p.question())), SudokuTokens.encode(a.apply(p.answer())));
                    w.endPuzzle(0);
                }
                w.endGroup();
            }
        }
        if (!test.isEmpty()) {
            DatasetWriter w = out.split("test", layout);
            for (SudokuPuzzle p : test) {
                w.addExample(p.inputTokens(), p.labelTokens());
                w.endPuzzle(0);
                w.endGroup();
            }
        }
        return out.commit(List.of("<blank>"));
    }

    private static void checkShape(SudokuPuzzle p, SudokuShape shape) {
        if (!p.shape().equals(shape)) throw new DataException(p.where() + ": a " + p.shape() + " puzzle among " + shape + " puzzles");
        if (p.answer() == null) throw new IllegalArgumentException(p.where() + ": unverified puzzle (no answer)");
    }
}
