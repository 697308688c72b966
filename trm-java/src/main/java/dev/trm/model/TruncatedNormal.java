package dev.trm.model;

import java.util.SplittableRandom;

/**
 * The official {@code trunc_normal_init_} (a port of JAX's): a normal truncated at +-2 of its own sigma, rescaled so
 * that the standard deviation AFTER truncation is the requested one (spec 1.8). The official code samples through
 * erfinv; rejection sampling from a standard normal draws from the same distribution.
 */
public final class TruncatedNormal {
    private TruncatedNormal() {}

    /** std of a standard normal truncated to [-2, 2]: sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))). */
    public static final double TRUNCATED_STD = 0.8796256610342398;

    public static void fill(float[] out, double std, SplittableRandom rng) {
        if (std == 0) {
            java.util.Arrays.fill(out, 0f);
            return;
        }
        double compStd = std / TRUNCATED_STD;
        for (int i = 0; i < out.length; i++) {
            double z;
            do {
                z = gaussian(rng);
            } while (z < -2 || z > 2);
            out[i] = (float) (z * compStd);
        }
    }

    private static double gaussian(SplittableRandom rng) {
        // Marsaglia polar method: exact normal samples from uniform ones.
        double u, v, s;
        do {
            u = 2 * rng.nextDouble() - 1;
            v = 2 * rng.nextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        return u * Math.sqrt(-2 * Math.log(s) / s);
    }
}
