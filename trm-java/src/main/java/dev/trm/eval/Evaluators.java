package dev.trm.eval;

import dev.trm.data.DataException;
import dev.trm.data.Dataset;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.TaskKind;
import dev.trm.task.arc.ArcDatasetBuilder;
import dev.trm.task.arc.ArcReader;
import java.nio.file.Files;
import java.nio.file.Path;

/** The right evaluator for a dataset split: ARC voting (with the dataset's test_puzzles.json) or token metrics. */
public final class Evaluators {
    private Evaluators() {}

    /**
     * @param root the dataset folder (holding test_puzzles.json for ARC)
     * @param accumulateVotes ARC only: keep votes across evaluations, as the official evaluator does
     */
    public static Evaluator<?> forDataset(Path root, Dataset split, boolean accumulateVotes) {
        DatasetMetadata m = split.metadata();
        if (m.task() != TaskKind.ARC) return new SequenceEvaluator(m.task(), m.ignoreLabelId());
        Path puzzles = root.resolve(ArcDatasetBuilder.TEST_PUZZLES);
        if (!Files.isRegularFile(puzzles)) {
            throw new DataException(puzzles + ": missing; ARC evaluation needs the original test tasks");
        }
        return new ArcEvaluator(m.identifiers(), ArcReader.read(puzzles),
                new ArcEvaluator.Options(ArcEvaluator.DEFAULT_KS, accumulateVotes));
    }
}
