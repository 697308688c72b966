package dev.trm.eval;

import java.util.Map;
import java.util.SortedMap;

/**
 * ARC scores as the official evaluator reports them (spec 6.5). {@code passAtK.get(k)} is the mean over tasks of the
 * fraction of each task's test inputs whose true output is among the top k voted answers (the headline is k = 2);
 * {@code passAtKPerInput} is the same over all test inputs. Tasks whose test outputs are unknown are not scored.
 *
 * @param scoredTasks tasks with known outputs
 * @param testInputs their test inputs
 * @param answeredInputs test inputs that received at least one prediction
 * @param votes predictions counted (summed over evaluations when votes accumulate)
 * @param submission the Kaggle submission.json content: task id -> per test input {attempt_1, attempt_2}
 */
public record ArcMetrics(int scoredTasks, int testInputs, int answeredInputs, long votes, SortedMap<Integer, Double> passAtK,
        SortedMap<Integer, Double> passAtKPerInput, Map<String, Object> submission) {}
