package dev.trm.model;

/** Small configurations for tests: every code path of the full presets at a size a finite difference can afford. */
public final class TinyConfigs {
    private TinyConfigs() {}

    /** Attention + RoPE: D 16, 2 heads of 8, L 6, P 2 (S 8), T 2, n 2, stablemax. */
    public static TrmConfig attention() {
        return new TrmConfig(7, 6, 16, 2, 4, 2, 2, 2, false, true, 10000.0, 1e-5, 2, 3, 16, 0.1,
                TrmConfig.LossType.STABLEMAX);
    }

    /** Token mixer (mlp_t), no positional encoding, softmax loss. */
    public static TrmConfig mixer() {
        return new TrmConfig(7, 6, 16, 2, 4, 2, 2, 2, true, false, 10000.0, 1e-5, 2, 3, 16, 0.1,
                TrmConfig.LossType.SOFTMAX);
    }
}
