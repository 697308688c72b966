package dev.trm.train;

/**
 * Optimisation settings (spec 4.4). The official values: Sudoku and Maze lr 1e-4, weight decay 1.0, puzzle lr 1e-4,
 * puzzle decay 1.0; ARC lr 1e-4, decay 0.1, puzzle lr 1e-2, puzzle decay 0.1; global batch 768; warmup 2000 steps;
 * lr_min_ratio 1 (constant after warmup); betas (0.9, 0.95); EMA 0.999.
 *
 * @param batch        global batch: slots of the persistent deep-supervision batch
 * @param totalSteps   optimizer steps of the run (the cosine phase spans warmup..totalSteps)
 * @param evalInterval steps between evaluations (0: only at the end)
 * @param emaRate      0 disables EMA (evaluation then uses the live weights)
 */
public record TrainConfig(
        int batch,
        long totalSteps,
        double lr,
        double weightDecay,
        double puzzleLr,
        double puzzleWeightDecay,
        double beta1,
        double beta2,
        long warmupSteps,
        double lrMinRatio,
        double emaRate,
        long evalInterval,
        long seed) {

    public TrainConfig {
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1");
        if (totalSteps < 1) throw new IllegalArgumentException("steps must be >= 1");
        if (lr <= 0 || puzzleLr < 0) throw new IllegalArgumentException("learning rates must be positive");
        if (emaRate < 0 || emaRate >= 1) throw new IllegalArgumentException("ema rate must be in [0, 1)");
    }

    /** The official hyper-parameters of a task ("sudoku", "maze" or "arc"), with the run's batch and length. */
    public static TrainConfig official(String task, int batch, long totalSteps, long seed) {
        boolean arc = task.equals("arc");
        return new TrainConfig(batch, totalSteps, 1e-4, arc ? 0.1 : 1.0, arc ? 1e-2 : 1e-4, arc ? 0.1 : 1.0,
                0.9, 0.95, 2000, 1.0, 0.999, 0, seed);
    }

    public TrainConfig withLr(double lr, double puzzleLr) {
        return new TrainConfig(batch, totalSteps, lr, weightDecay, puzzleLr, puzzleWeightDecay, beta1, beta2,
                warmupSteps, lrMinRatio, emaRate, evalInterval, seed);
    }

    public TrainConfig withWarmup(long warmup) {
        return new TrainConfig(batch, totalSteps, lr, weightDecay, puzzleLr, puzzleWeightDecay, beta1, beta2,
                warmup, lrMinRatio, emaRate, evalInterval, seed);
    }

    public TrainConfig withWeightDecay(double wd, double puzzleWd) {
        return new TrainConfig(batch, totalSteps, lr, wd, puzzleLr, puzzleWd, beta1, beta2,
                warmupSteps, lrMinRatio, emaRate, evalInterval, seed);
    }

    public TrainConfig withEvalInterval(long interval) {
        return new TrainConfig(batch, totalSteps, lr, weightDecay, puzzleLr, puzzleWeightDecay, beta1, beta2,
                warmupSteps, lrMinRatio, emaRate, interval, seed);
    }

    public TrainConfig withEma(double rate) {
        return new TrainConfig(batch, totalSteps, lr, weightDecay, puzzleLr, puzzleWeightDecay, beta1, beta2,
                warmupSteps, lrMinRatio, rate, evalInterval, seed);
    }
}
