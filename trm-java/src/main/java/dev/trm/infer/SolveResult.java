package dev.trm.infer;

import java.util.List;

/**
 * What {@link TrmSolver#solve} returns.
 *
 * @param solutions one per puzzle, in input order
 * @param steps the K that ran (the option, or the model's halt_max_steps)
 * @param trace every step's logits and q values, or null unless {@link SolveOptions#recordSteps()}
 */
public record SolveResult(List<Solution> solutions, int steps, StepTrace trace) {}
