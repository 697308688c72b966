package dev.trm.train;

import dev.trm.data.Dataset;

/**
 * The official training sampler (spec 6.2): the group order is a concatenation of random permutations of the
 * groups, one per epoch; walking it, each group contributes one random puzzle (augmented version) with all of its
 * examples in random order, truncated to the space left in the batch. (The official loader drops the last incomplete
 * batch of each eval_interval-long iteration; this stream simply continues into the next epoch, which changes no
 * batch's composition rule.)
 *
 * <p>Its whole state is the RNG, the epoch and the position in it, so a resumed run draws the same batches.
 */
public final class BatchSampler {
    private final Dataset data;
    private final Rng rng;
    private final int[] order;
    private long epoch = -1;
    private int position;

    public BatchSampler(Dataset data, long seed) {
        this.data = data;
        this.rng = new Rng(seed);
        this.order = new int[data.groupCount()];
        if (order.length == 0) throw new IllegalArgumentException(data.directory() + ": the training split has no groups");
    }

    /** The next {@code batch} example indices. */
    public long[] next(int batch) {
        long[] out = new long[batch];
        int filled = 0;
        while (filled < batch) {
            if (epoch < 0 || position == order.length) newEpoch();
            int group = order[position++];
            int start = data.groupStart(group), end = data.groupEnd(group);
            int puzzle = start + rng.nextInt(end - start);
            int e0 = data.puzzleStart(puzzle), n = data.puzzleEnd(puzzle) - e0;
            int[] examples = new int[n];
            for (int i = 0; i < n; i++) examples[i] = e0 + i;
            rng.shuffle(examples, n);
            for (int i = 0; i < n && filled < batch; i++) out[filled++] = examples[i];
        }
        return out;
    }

    private void newEpoch() {
        epoch++;
        position = 0;
        permutationSeedState = rng.state();
        for (int i = 0; i < order.length; i++) order[i] = i;
        rng.shuffle(order, order.length);
    }

    /** State for a checkpoint: rng state, epoch, position; the permutation is re-drawn on restore. */
    public long[] state() {
        return new long[] {rng.state(), epoch, position, permutationSeedState};
    }

    // The rng state at the start of the current epoch, so that restore can re-draw the same permutation.
    private long permutationSeedState;

    public void restore(long[] s) {
        rng.setState(s[3]);
        epoch = s[1] - 1;
        if (s[1] >= 0) newEpoch();
        epoch = s[1];
        position = (int) s[2];
        rng.setState(s[0]);
    }
}
