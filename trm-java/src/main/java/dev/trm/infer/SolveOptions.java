package dev.trm.infer;

/**
 * How {@link TrmSolver#solve} runs.
 *
 * @param steps supervision steps K per puzzle, at least 1; {@link #MODEL_DEFAULT} (0) means the model's
 *     {@code halt_max_steps} (16 in every published configuration), which is what the official evaluator runs
 * @param earlyHalt stop a puzzle at the first step whose q_halt logit is positive (sigmoid(q_halt) > 0.5): its answer
 *     and step count are those of that step. The official evaluator never halts early; training does.
 * @param batchSize puzzles run together through the model (memory grows with it; the answers do not depend on it), or
 *     {@link #AUTO_BATCH} (0) for {@link TrmSolver#autoBatchSize}: as many as fit in half the free heap, at most 32
 *     (on a GPU: up to 256 per graph launch, fewer puzzles padded to the next power of two)
 * @param recordSteps keep every step's logits and q values in {@link SolveResult#trace()} (for inspection; costs
 *     K x puzzles x seq_len x vocab floats, and runs all K steps even when every puzzle halted early)
 */
public record SolveOptions(int steps, boolean earlyHalt, int batchSize, boolean recordSteps) {
    public static final int MODEL_DEFAULT = 0;
    public static final int AUTO_BATCH = 0;

    public SolveOptions {
        if (steps < 0) throw new IllegalArgumentException("steps must be >= 1 (or 0 for the model's halt_max_steps), got " + steps);
        if (batchSize < 0) throw new IllegalArgumentException("batchSize must be >= 1 (or 0 for automatic), got " + batchSize);
    }

    /** The official evaluation: halt_max_steps steps, no early halting. */
    public static SolveOptions defaults() {
        return new SolveOptions(MODEL_DEFAULT, false, AUTO_BATCH, false);
    }

    public SolveOptions withSteps(int k) {
        return new SolveOptions(k, earlyHalt, batchSize, recordSteps);
    }

    public SolveOptions withEarlyHalt(boolean on) {
        return new SolveOptions(steps, on, batchSize, recordSteps);
    }

    public SolveOptions withBatchSize(int b) {
        return new SolveOptions(steps, earlyHalt, b, recordSteps);
    }

    public SolveOptions withRecordSteps(boolean on) {
        return new SolveOptions(steps, earlyHalt, batchSize, on);
    }
}
