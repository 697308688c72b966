package dev.trm.infer;

/**
 * Every supervision step's raw outputs, kept when {@link SolveOptions#recordSteps()} is on.
 *
 * @param logits [steps, puzzles, seqLen, vocab] row-major: the lm_head logits after each step
 * @param q [steps, puzzles, 2] row-major: q_halt (column 0) and q_continue (column 1) logits after each step
 */
public record StepTrace(int steps, int puzzles, int seqLen, int vocab, float[] logits, float[] q) {}
