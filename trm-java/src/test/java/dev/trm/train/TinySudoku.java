package dev.trm.train;

import dev.trm.data.DatasetOutput;
import dev.trm.task.sudoku.SudokuDatasetBuilder;
import dev.trm.task.sudoku.SudokuGenerator;
import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuShape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A small generated 4x4 Sudoku dataset for training tests. */
public final class TinySudoku {
    private TinySudoku() {}

    /** The small model the training tests train on it: token mixer, D 32, 2 layers, T = n = 2, one puzzle id. */
    public static dev.trm.model.TrmConfig smallModel(dev.trm.data.Dataset d) {
        return new dev.trm.model.TrmConfig(d.metadata().vocabSize(), d.seqLen(), 32, 2, 4, 2, 2, 2, true, false, 10000.0,
                1e-5, 2, 1, 4, 0.1, dev.trm.model.TrmConfig.LossType.STABLEMAX);
    }

    /** Writes {@code dir/sudoku4} with train and test splits of generated puzzles with unique solutions. */
    public static Path build(Path dir, int train, int test, int blanks, long seed) {
        SudokuGenerator gen = new SudokuGenerator(SudokuShape.ofSide(4), seed);
        List<SudokuPuzzle> tr = new ArrayList<>(), te = new ArrayList<>();
        for (int i = 0; i < train; i++) tr.add(gen.generate(new SudokuGenerator.Difficulty(blanks, 0)));
        for (int i = 0; i < test; i++) te.add(gen.generate(new SudokuGenerator.Difficulty(blanks, 0)));
        Path out = dir.resolve("sudoku4");
        try (DatasetOutput o = DatasetOutput.create(out, true)) {
            SudokuDatasetBuilder.build(tr, te, 0, seed, o);
        }
        return out;
    }
}
