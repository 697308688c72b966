package dev.trm.cli;

import dev.trm.eval.ArcMetrics;
import dev.trm.eval.SequenceMetrics;
import java.util.LinkedHashMap;
import java.util.Map;

/** A task's evaluation metrics as one flat JSON object, for metrics.jsonl. */
final class TaskEvaluation {
    private TaskEvaluation() {}

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
