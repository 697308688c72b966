package dev.trm.model;

/** Reading answers off the logits [B, L, V] on the host: the predicted token at every position. */
public final class Predictions {
    private Predictions() {}

    /** The first index of the largest logit at each position of slot {@code slot} (as torch.argmax). */
    public static int[] argmax(float[] logits, int slot, int len, int vocab) {
        int[] t = new int[len];
        for (int p = 0; p < len; p++) {
            int base = (slot * len + p) * vocab, best = 0;
            for (int c = 1; c < vocab; c++) if (logits[base + c] > logits[base + best]) best = c;
            t[p] = best;
        }
        return t;
    }
}
