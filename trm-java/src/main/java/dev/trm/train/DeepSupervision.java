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
import dev.trm.backend.Tensor;
import dev.trm.io.TensorData;
import dev.trm.model.Parameter;
import dev.trm.model.Predictions;
import java.util.LinkedHashMap;
import java.util.Map;

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
            int[] pred = Predictions.argmax(logits, b, len, v);
            for (int t = 0; t < len; t++) {
                int y = labels[b * len + t];
                if (y < 0) continue;
                valid++;
                if (pred[t] == y) right++;
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

    // ---- resume: everything a run needs to continue bit for bit ----------------------------------------------------

    /**
     * The whole training state as named tensors: live weights and buffers ("live." + official name), the EMA shadow
     * ("ema."), AdamATan2 moments ("adam.m.", "adam.v."), the persistent slots (their examples, supervision steps,
     * halted flags and carry) and every counter and RNG state. Restoring it with {@link #restoreState} continues the
     * run exactly as if it had never stopped.
     */
    public Map<String, TensorData> exportState() {
        Map<String, TensorData> m = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : params.namedTensors().entrySet()) m.put("live." + e.getKey(), f32(e.getValue()));
        if (ema != null) {
            for (Parameter q : ema.shadow().parameters()) m.put("ema." + q.name(), f32(q.value()));
        }
        for (Map.Entry<String, Tensor> e : adam.firstMoments().entrySet()) m.put("adam.m." + e.getKey(), f32(e.getValue()));
        for (Map.Entry<String, Tensor> e : adam.secondMoments().entrySet()) m.put("adam.v." + e.getKey(), f32(e.getValue()));
        m.put("slots.inputs", i32(inputs, batch, len));
        m.put("slots.labels", i32(labels, batch, len));
        m.put("slots.ids", i32(ids, batch));
        m.put("slots.steps", i32(steps, batch));
        int[] h = new int[batch];
        for (int b = 0; b < batch; b++) h[b] = halted[b] ? 1 : 0;
        m.put("slots.halted", i32(h, batch));
        m.put("slots.carry_y", f32(carry.y()));
        m.put("slots.carry_z", f32(carry.z()));
        long[] sampler = this.sampler.state();
        m.put("counters", new TensorData.I64(new long[] {7}, new long[] {step, adam.steps(), rng.state(),
                sampler[0], sampler[1], sampler[2], sampler[3]}));
        return m;
    }

    /** Restores {@link #exportState()}'s tensors; a missing or mis-sized tensor is one clear error naming it. */
    public void restoreState(Map<String, TensorData> m, String where) {
        for (Map.Entry<String, Tensor> e : params.namedTensors().entrySet()) be.write(e.getValue(), floats(m, "live." + e.getKey(), where));
        if (ema != null) {
            for (Parameter q : ema.shadow().parameters()) be.write(q.value(), floats(m, "ema." + q.name(), where));
        }
        for (Map.Entry<String, Tensor> e : adam.firstMoments().entrySet()) be.write(e.getValue(), floats(m, "adam.m." + e.getKey(), where));
        for (Map.Entry<String, Tensor> e : adam.secondMoments().entrySet()) be.write(e.getValue(), floats(m, "adam.v." + e.getKey(), where));
        System.arraycopy(ints(m, "slots.inputs", where, inputs.length), 0, inputs, 0, inputs.length);
        System.arraycopy(ints(m, "slots.labels", where, labels.length), 0, labels, 0, labels.length);
        System.arraycopy(ints(m, "slots.ids", where, batch), 0, ids, 0, batch);
        System.arraycopy(ints(m, "slots.steps", where, batch), 0, steps, 0, batch);
        int[] h = ints(m, "slots.halted", where, batch);
        for (int b = 0; b < batch; b++) halted[b] = h[b] != 0;
        be.write(carry.y(), floats(m, "slots.carry_y", where));
        be.write(carry.z(), floats(m, "slots.carry_z", where));
        if (!(m.get("counters") instanceof TensorData.I64 c) || c.values().length != 7) {
            throw new IllegalArgumentException(where + ": no valid 'counters' tensor");
        }
        long[] v = c.values();
        step = v[0];
        adam.setSteps(v[1]);
        rng.setState(v[2]);
        sampler.restore(new long[] {v[3], v[4], v[5], v[6]});
    }

    private TensorData f32(Tensor t) {
        long[] shape = java.util.Arrays.stream(t.shape()).asLongStream().toArray();
        return new TensorData.F32(shape, be.read(t));
    }

    private static TensorData i32(int[] v, int... shape) {
        return new TensorData.I32(java.util.Arrays.stream(shape).asLongStream().toArray(), v.clone());
    }

    private static float[] floats(Map<String, TensorData> m, String name, String where) {
        if (!(m.get(name) instanceof TensorData.F32 f)) throw new IllegalArgumentException(where + ": no F32 tensor '" + name + "'");
        return f.values();
    }

    private static int[] ints(Map<String, TensorData> m, String name, String where, int n) {
        if (!(m.get(name) instanceof TensorData.I32 t) || t.values().length != n) {
            throw new IllegalArgumentException(where + ": no I32 tensor '" + name + "' of " + n + " values (batch changed?)");
        }
        return t.values();
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
