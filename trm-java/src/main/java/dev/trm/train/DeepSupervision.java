package dev.trm.train;

import dev.trm.backend.Backend;
import dev.trm.backend.IntTensor;
import dev.trm.data.Dataset;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.StepResult;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;

/**
 * Training by deep supervision exactly as the official code (spec 2.2, 3, 4): a persistent batch of slots; every
 * optimizer step runs ONE supervision step for every slot; halted slots take the loader's row of a fresh batch (the
 * rows of running slots are discarded) and restart from the initial y and z; a slot halts after N_sup steps, or when
 * q_halt > 0 unless the exploration rule (p = 0.1) demands a minimum of U{2..N_sup} steps. The loss covers all slots,
 * halted or not; then AdamATan2, sign-SGD on the puzzle rows used, and the EMA.
 */
public final class DeepSupervision {
    private final TrmConfig c;
    private final TrainConfig tc;
    private final Backend be;
    private final TrmParameters params;
    private final TrmModel model;
    private final Dataset data;
    private final BatchSampler sampler;
    private final Rng rng;
    private final AdamAtan2 adam;
    private final Ema ema;

    // The persistent slots: the example each works on (host copies), its supervision steps, and whether it halted.
    private final int batch, len;
    private final int[] inputs, labels, ids, steps;
    private final boolean[] halted;
    private final Carry carry;
    private final IntTensor inputsT, labelsT, idsT;
    private long step;

    public DeepSupervision(TrmConfig c, TrainConfig tc, Backend be, TrmParameters params, Dataset train) {
        if (train.seqLen() != c.seqLen() || train.metadata().vocabSize() != c.vocabSize()) {
            throw new IllegalArgumentException(train.directory() + ": data has seq_len " + train.seqLen() + ", vocab "
                    + train.metadata().vocabSize() + " but the model expects seq_len " + c.seqLen() + ", vocab "
                    + c.vocabSize());
        }
        if (train.metadata().numPuzzleIdentifiers() > c.numPuzzleIds()) {
            throw new IllegalArgumentException(train.directory() + ": data has " + train.metadata().numPuzzleIdentifiers()
                    + " puzzle identifiers but the model's table has " + c.numPuzzleIds() + " rows");
        }
        this.c = c;
        this.tc = tc;
        this.be = be;
        this.params = params;
        this.model = new TrmModel(c, be, params);
        this.data = train;
        this.sampler = new BatchSampler(train, tc.seed() * 31 + 1);
        this.rng = new Rng(tc.seed() * 31 + 2);
        this.adam = new AdamAtan2(be, params);
        this.ema = tc.emaRate() > 0 ? new Ema(be, params, tc.emaRate()) : null;
        this.batch = tc.batch();
        this.len = c.seqLen();
        inputs = new int[batch * len];
        labels = new int[batch * len];
        ids = new int[batch];
        steps = new int[batch];
        halted = new boolean[batch];
        java.util.Arrays.fill(halted, true);
        carry = model.initialCarry(batch);
        inputsT = be.intTensor(batch, len);
        labelsT = be.intTensor(batch, len);
        idsT = be.intTensor(batch);
    }

    /** One optimizer step: refill halted slots, one supervision step for all, backward, updates. */
    public StepMetrics step() {
        long t0 = System.nanoTime();
        step++;
        long[] fresh = sampler.next(batch);
        int resets = 0;
        int[] resetSlots = new int[batch];
        for (int b = 0; b < batch; b++) {
            if (!halted[b]) continue;
            long e = fresh[b];
            data.input(e, inputs, b * len);
            data.lossLabel(e, labels, b * len);
            ids[b] = data.puzzleIdentifier(data.puzzleOf(e));
            steps[b] = 0;
            resetSlots[resets++] = b;
        }
        if (resets > 0) model.resetSlots(carry, java.util.Arrays.copyOf(resetSlots, resets));
        be.writeInts(inputsT, inputs);
        be.writeInts(labelsT, labels);
        be.writeInts(idsT, ids);

        params.zeroGrad(be);
        StepResult r = model.trainStep(new Batch(inputsT, labelsT, idsT), carry);

        // Halting (spec 2.2), decided with this step's q_halt; halted slots take new data next step.
        int nSup = c.haltMaxSteps();
        for (int b = 0; b < batch; b++) {
            steps[b]++;
            boolean h = steps[b] >= nSup;
            if (nSup > 1) {
                h |= r.qHalt()[b] > 0;
                int minSteps = rng.nextDouble() < c.haltExplorationProb() ? 2 + rng.nextInt(nSup - 1) : 0;
                h &= steps[b] >= minSteps;
            }
            halted[b] = h;
        }
        StepMetrics m = metrics(r, t0);

        double lr = LrSchedule.at(step, tc.lr(), tc.warmupSteps(), tc.totalSteps(), tc.lrMinRatio());
        double puzzleLr = LrSchedule.at(step, tc.puzzleLr(), tc.warmupSteps(), tc.totalSteps(), tc.lrMinRatio());
        adam.step(lr, tc.weightDecay(), tc.beta1(), tc.beta2());
        be.puzzleSignSgd(params.puzzleTable(), idsT, model.puzzleSlotGrad(), puzzleLr, tc.puzzleWeightDecay());
        if (ema != null) ema.update();
        return new StepMetrics(step, lr, m.lmLoss(), m.qHaltLoss(), m.loss(), m.halted(), m.accuracy(),
                m.exactAccuracy(), m.qHaltAccuracy(), m.meanSteps(), (System.nanoTime() - t0) / 1e6);
    }

    /** Metrics over the slots that halted at this step (the official train metrics), losses over the batch. */
    private StepMetrics metrics(StepResult r, long t0) {
        float[] logits = be.read(model.logits());
        int v = c.vocabSize(), count = 0;
        double acc = 0, exact = 0, qAcc = 0, stepSum = 0;
        for (int b = 0; b < batch; b++) {
            if (!halted[b]) continue;
            int valid = 0, right = 0;
            for (int t = 0; t < len; t++) {
                int y = labels[b * len + t];
                if (y < 0) continue;
                valid++;
                int row = (b * len + t) * v, arg = 0;
                for (int j = 1; j < v; j++) if (logits[row + j] > logits[row + arg]) arg = j;
                if (arg == y) right++;
            }
            if (valid == 0) continue;
            count++;
            acc += (double) right / valid;
            exact += r.seqCorrect()[b];
            qAcc += ((r.qHalt()[b] >= 0) == (r.seqCorrect()[b] == 1)) ? 1 : 0;
            stepSum += steps[b];
        }
        double n = count == 0 ? Double.NaN : count;
        return new StepMetrics(step, 0, r.lmLoss() / batch, r.qHaltLoss() / batch, r.loss() / batch, count,
                acc / n, exact / n, qAcc / n, stepSum / n, (System.nanoTime() - t0) / 1e6);
    }

    public long steps() {
        return step;
    }

    /** The weights evaluation uses: the EMA copy with the live buffers, or the live weights without EMA. */
    public TrmParameters evalParameters() {
        return ema != null ? ema.evalCopy() : params;
    }

    public TrmParameters parameters() {
        return params;
    }

    public AdamAtan2 optimizer() {
        return adam;
    }

    public Ema ema() {
        return ema;
    }
}
