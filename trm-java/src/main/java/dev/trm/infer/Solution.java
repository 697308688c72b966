package dev.trm.infer;

/**
 * The answer to one puzzle.
 *
 * @param tokens the predicted tokens [seq_len]: argmax over the vocabulary of the last used step's logits
 * @param stepsUsed supervision steps run for this puzzle (K, or fewer with early halting)
 * @param haltConfidence sigmoid(q_halt) after each used step [stepsUsed]: the model's own estimate that its answer
 *     is right (the ARC evaluator ranks votes by it)
 * @param halted whether the model asked to stop (q_halt > 0) at its last used step
 */
public record Solution(int[] tokens, int stepsUsed, float[] haltConfidence, boolean halted) {

    /** sigmoid(q_halt) of the final step. */
    public float confidence() {
        return haltConfidence[stepsUsed - 1];
    }
}
