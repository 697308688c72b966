package dev.trm.cli;

import dev.trm.data.Dataset;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.TaskKind;
import dev.trm.eval.ArcEvaluator;
import dev.trm.eval.ArcMetrics;
import dev.trm.eval.Evaluator;
import dev.trm.eval.SequenceEvaluator;
import dev.trm.eval.SequenceMetrics;
import dev.trm.task.arc.ArcDatasetBuilder;
import dev.trm.task.arc.ArcReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The task's official evaluator for a dataset (shared by {@code trm eval} and {@code trm train}), and its metrics as JSON. */
final class TaskEvaluation {
    private TaskEvaluation() {}

    /** Sudoku and Maze: token and exact accuracy; ARC: voting over augmentations, pass@K (needs test_puzzles.json). */
    static Evaluator<?> evaluatorFor(Path dataDir, Dataset ds) {
        DatasetMetadata m = ds.metadata();
        if (m.task() == TaskKind.ARC) {
            Path tp = dataDir.resolve(ArcDatasetBuilder.TEST_PUZZLES);
            if (!Files.isRegularFile(tp)) throw new CliException(tp + ": missing; ARC evaluation needs the original test tasks");
            return new ArcEvaluator(m.identifiers(), ArcReader.read(tp), ArcEvaluator.Options.standard());
        }
        return new SequenceEvaluator(m.task(), m.ignoreLabelId());
    }

    /** The metrics as a flat JSON object, for metrics.jsonl. */
    static Map<String, Object> toJson(Object result) {
        Map<String, Object> o = new LinkedHashMap<>();
        switch (result) {
            case SequenceMetrics s -> {
                o.put("examples", s.examples());
                o.put("accuracy", s.tokenAccuracy());
                o.put("exact_accuracy", s.exactAccuracy());
                o.put("mean_halt_confidence", s.meanHaltConfidence());
                if (!Double.isNaN(s.validShortestPathRate())) o.put("valid_shortest_paths", s.validShortestPathRate());
            }
            case ArcMetrics a -> {
                o.put("tasks", a.scoredTasks());
                o.put("test_inputs", a.testInputs());
                a.passAtK().forEach((k, v) -> o.put("pass@" + k, v));
                // the curve's "exact accuracy" for ARC is the headline metric, pass@2 per task
                if (a.passAtK().containsKey(2)) o.put("exact_accuracy", a.passAtK().get(2));
            }
            default -> o.put("result", result.toString());
        }
        return o;
    }
}
