package dev.trm.model;

import dev.trm.backend.Argmax;

/** Reading answers off the logits [B, L, V] on the host: the predicted token at every position. */
public final class Predictions {
    private Predictions() {}

    /** The first index of the largest logit at each position of slot {@code slot} (as torch.argmax). */
    public static int[] argmax(float[] logits, int slot, int len, int vocab) {
        int[] t = new int[len];
        for (int p = 0; p < len; p++) t[p] = Argmax.firstMax(logits, (slot * len + p) * vocab, vocab);
        return t;
    }
}
