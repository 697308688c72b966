package dev.trm.eval;

/**
 * One test example as the model saw and answered it.
 *
 * @param puzzleIdentifier the example's puzzle identifier (ARC: which augmented version)
 * @param input the input tokens [seqLen]
 * @param label the label tokens [seqLen] as stored (ignore_label_id cells are not scored)
 * @param prediction the argmax tokens of the final step's logits [seqLen]
 * @param haltConfidence sigmoid(q_halt_logit) of the final step, in [0, 1]
 */
public record EvalExample(int puzzleIdentifier, int[] input, int[] label, int[] prediction, double haltConfidence) {}
