package dev.trm.backend;

/** The predicted class of one row of logits on the host: the first index of its largest value (as torch.argmax). */
public final class Argmax {
    private Argmax() {}

    /** The first index i in [0, count) with v[offset + i] largest (NaN never wins). */
    public static int firstMax(float[] v, int offset, int count) {
        int best = 0;
        for (int j = 1; j < count; j++) if (v[offset + j] > v[offset + best]) best = j;
        return best;
    }
}
