package dev.trm.train;

/**
 * The official {@code cosine_schedule_with_warmup_lr_lambda} (spec 4.4): for 1-based step s, base s / warmup while s <
 * warmup, then base (min + (1 - min) 0.5 (1 + cos(pi progress))) with progress = (s - warmup) / (total - warmup).
 * Every official config has min = 1: constant after warmup.
 */
public final class LrSchedule {
    private LrSchedule() {}

    public static double at(long step, double base, long warmup, long total, double minRatio) {
        if (step < warmup) return base * step / Math.max(1, warmup);
        double progress = (double) (step - warmup) / Math.max(1, total - warmup);
        return base * (minRatio + Math.max(0, (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress))));
    }
}
