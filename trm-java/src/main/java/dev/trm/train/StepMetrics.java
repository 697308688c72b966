package dev.trm.train;

/**
 * What one optimizer step reports (spec 3). Losses are divided by the batch, as the official trainer logs them.
 * Accuracies count only the slots that halted at this step (with at least one valid label), as the official metrics
 * do; they are NaN when no slot halted.
 *
 * @param halted        slots that halted at this step
 * @param meanSteps     mean supervision steps of the halted slots
 * @param qHaltAccuracy fraction of halted slots where (q_halt >= 0) == sequence correct
 */
public record StepMetrics(long step, double lr, double lmLoss, double qHaltLoss, double loss, int halted,
                          double accuracy, double exactAccuracy, double qHaltAccuracy, double meanSteps,
                          double millis) {}
