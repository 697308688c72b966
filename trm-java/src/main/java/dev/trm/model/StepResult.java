package dev.trm.model;

/**
 * The losses of one supervision step (spec 3), summed over the batch as the official ACTLossHead does: lmLoss =
 * sum_b mean-token-CE_b, qHaltLoss = sum_b BCE_b, loss = lmLoss + 0.5 qHaltLoss. The trainer backpropagates loss / B.
 * Per slot: perSeqLoss, seqCorrect (all valid tokens right), qHalt logits.
 */
public record StepResult(double lmLoss, double qHaltLoss, double loss,
                         double[] perSeqLoss, int[] seqCorrect, float[] qHalt) {}
