package dev.trm.train;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
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

    // The persistent slots live in backend tensors (spec 2.2): the example each works on, its supervision steps and
    // whether it halted; the host only prepares each step's fresh batch and exploration draws, uploaded ahead.
    private final int batch, len;
    private final int[] freshInputs, freshLabels, freshIds, minSteps;
    private final float[] scheduleRow = new float[Backend.SCHEDULE_FIELDS];
    private final Carry carry;
    private final IntTensor inputsT, labelsT, idsT, stepsT, haltedT, freshInputsT, freshLabelsT, freshIdsT, minStepsT,
            cursorT;
    private final Tensor scheduleT, metricsRing;
    private final Batch slots;
    private long step;

    // Metrics leave the device every METRICS_RING steps at the latest (or when asked): no per-step host read.
    private static final int METRICS_RING = 64;
    private final java.util.ArrayDeque<double[]> pending = new java.util.ArrayDeque<>();  // {step, lr, start ns}
    private final java.util.List<StepMetrics> drained = new java.util.ArrayList<>();
    private long cursorSeen;
    private Backend.Replay captured;
    private double stepLr, stepPuzzleLr;  // this step's, for the backends that take them by value
    private boolean captureTried;

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
        freshInputs = new int[batch * len];
        freshLabels = new int[batch * len];
        freshIds = new int[batch];
        minSteps = new int[batch];
        carry = model.initialCarry(batch);
        try (var use = be.memory().use(MemoryUse.BATCH)) {
            inputsT = be.intTensor(batch, len);
            labelsT = be.intTensor(batch, len);
            idsT = be.intTensor(batch);
            stepsT = be.intTensor(batch);
            haltedT = be.intTensor(batch);
            int[] all = new int[batch];
            java.util.Arrays.fill(all, 1);
            be.writeInts(haltedT, all);  // every slot starts halted: the first step fills them all
            freshInputsT = be.intTensor(batch, len);
            freshLabelsT = be.intTensor(batch, len);
            freshIdsT = be.intTensor(batch);
            minStepsT = be.intTensor(batch);
            cursorT = be.intTensor(1);
            scheduleT = be.tensor(Backend.SCHEDULE_FIELDS);
            metricsRing = be.tensor(METRICS_RING, Backend.METRIC_FIELDS);
        }
        slots = new Batch(inputsT, labelsT, idsT);
    }

    /**
     * Runs every step's device part eagerly instead of replaying a captured graph (for comparison and debugging;
     * the default captures where the backend can).
     */
    public void disableGraphs() {
        captureTried = true;
        if (captured != null) {
            captured.close();
            captured = null;
        }
    }

    /** One optimizer step, its metrics read back at once: {@link #stepAsync()} then {@link #drain()}. */
    public StepMetrics step() {
        stepAsync();
        java.util.List<StepMetrics> m = drain();
        return m.get(m.size() - 1);
    }

    /**
     * One optimizer step, enqueued: the host prepares the fresh batch and the exploration draws and uploads them;
     * the backend refills halted slots, runs the supervision step, backward, halting, metrics and the updates
     * without returning a value. On a backend that can record ops (a GPU), the device part is captured once, after
     * a first eager step has made every buffer, and each later step is one replay.
     */
    public void stepAsync() {
        long t0 = System.nanoTime();
        step++;
        long[] fresh = sampler.next(batch);
        for (int b = 0; b < batch; b++) {
            long e = fresh[b];
            data.input(e, freshInputs, b * len);
            data.lossLabel(e, freshLabels, b * len);
            freshIds[b] = data.puzzleIdentifier(data.puzzleOf(e));
        }
        // Exploration (spec 2.2): with probability p a slot must run at least U{2..N_sup} steps before q_halt may
        // stop it. The draws do not depend on the model, so they are made here, one per slot, in slot order.
        int nSup = c.haltMaxSteps();
        for (int b = 0; b < batch; b++) {
            minSteps[b] = nSup > 1 && rng.nextDouble() < c.haltExplorationProb() ? 2 + rng.nextInt(nSup - 1) : 0;
        }
        double lr = LrSchedule.at(step, tc.lr(), tc.warmupSteps(), tc.totalSteps(), tc.lrMinRatio());
        double puzzleLr = LrSchedule.at(step, tc.puzzleLr(), tc.warmupSteps(), tc.totalSteps(), tc.lrMinRatio());
        long t = adam.steps() + 1;
        scheduleRow[0] = (float) lr;
        scheduleRow[1] = (float) (1 - Math.pow(tc.beta1(), t));
        scheduleRow[2] = (float) (1 - Math.pow(tc.beta2(), t));
        scheduleRow[3] = (float) puzzleLr;
        scheduleRow[4] = t;
        be.writeIntsAsync(freshInputsT, freshInputs);
        be.writeIntsAsync(freshLabelsT, freshLabels);
        be.writeIntsAsync(freshIdsT, freshIds);
        be.writeIntsAsync(minStepsT, minSteps);
        be.writeAsync(scheduleT, scheduleRow);

        stepLr = lr;
        stepPuzzleLr = puzzleLr;
        if (captured != null) {
            captured.replay();
        } else {
            deviceStep();
            if (!captureTried) {
                captureTried = true;
                try {
                    captured = be.capture(this::deviceStep);
                } catch (RuntimeException e) {
                    // Training goes on, one eager step at a time; the cause is printed once.
                    System.err.println("warning: the training step could not be captured as a graph; running it "
                            + "eagerly: " + e);
                }
            }
        }
        adam.setSteps(t);
        pending.add(new double[] {step, lr, t0});
        if (pending.size() == METRICS_RING) drainInto(drained);
    }

    /** The step's device part: everything between the uploads and the metrics ring, no host read. */
    private void deviceStep() {
        be.actRefill(haltedT, freshInputsT, freshLabelsT, freshIdsT, inputsT, labelsT, idsT, stepsT, params.hInit(),
                params.lInit(), carry.y(), carry.z());
        params.zeroGrad(be);
        model.enqueueTrainStep(slots, carry);
        // Halting (spec 2.2), decided with this step's q_halt; halted slots take new data next step.
        be.actHalt(model.q(), minStepsT, stepsT, haltedT, c.haltMaxSteps());
        be.trainMetrics(model.tokensCorrect(), labelsT, haltedT, stepsT, model.sequenceCorrect(), model.q(),
                model.perSequenceLoss(), model.haltingLoss(), metricsRing, cursorT);
        if (be.canCapture()) {
            // read from the schedule row in backend memory: the captured step replays with each step's values
            adam.step(scheduleT, tc.weightDecay(), tc.beta1(), tc.beta2());
            be.puzzleSignSgd(params.puzzleTable(), idsT, model.puzzleSlotGrad(), scheduleT, tc.puzzleWeightDecay());
        } else {
            // eager backends take the scalars by value, in double, as the official optimizer does
            adam.step(stepLr, tc.weightDecay(), tc.beta1(), tc.beta2());
            be.puzzleSignSgd(params.puzzleTable(), idsT, model.puzzleSlotGrad(), stepPuzzleLr, tc.puzzleWeightDecay());
        }
        if (ema != null) ema.update();
    }

    /** Steps enqueued whose metrics the host has not read yet. */
    public int pendingMetrics() {
        return pending.size() + drained.size();
    }

    /**
     * The metrics of every step since the last drain, in order (one read of the ring). Losses are divided by the
     * batch; accuracies cover the slots that halted at that step (NaN when none did), as the official trainer logs.
     * The time of each step is the mean over the drained steps (they ran asynchronously).
     */
    public java.util.List<StepMetrics> drain() {
        drainInto(drained);
        java.util.List<StepMetrics> out = new java.util.ArrayList<>(drained);
        drained.clear();
        return out;
    }

    private void drainInto(java.util.List<StepMetrics> out) {
        if (pending.isEmpty()) return;
        float[] ring = be.read(metricsRing);
        long cursor = be.readInts(cursorT)[0];
        if (cursor - cursorSeen != pending.size()) {
            throw new IllegalStateException("metrics ring out of step: " + (cursor - cursorSeen) + " rows for "
                    + pending.size() + " steps");
        }
        double millis = (System.nanoTime() - pending.peekFirst()[2]) / 1e6 / pending.size();
        for (long row = cursorSeen; row < cursor; row++) {
            double[] p = pending.pollFirst();
            int at = (int) (row % METRICS_RING) * Backend.METRIC_FIELDS;
            double lm = ring[at + Backend.METRIC_LM_LOSS], qh = ring[at + Backend.METRIC_Q_LOSS];
            double count = ring[at + Backend.METRIC_COUNT], n = count == 0 ? Double.NaN : count;
            out.add(new StepMetrics((long) p[0], p[1], lm / batch, qh / batch, (lm + 0.5 * qh) / batch, (int) count,
                    ring[at + Backend.METRIC_ACCURACY] / n, ring[at + Backend.METRIC_EXACT] / n,
                    ring[at + Backend.METRIC_Q_ACCURACY] / n, ring[at + Backend.METRIC_STEPS] / n, millis));
        }
        cursorSeen = cursor;
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
        drainInto(drained);  // the state must be that of a finished step
        m.put("slots.inputs", i32(be.readInts(inputsT), batch, len));
        m.put("slots.labels", i32(be.readInts(labelsT), batch, len));
        m.put("slots.ids", i32(be.readInts(idsT), batch));
        m.put("slots.steps", i32(be.readInts(stepsT), batch));
        m.put("slots.halted", i32(be.readInts(haltedT), batch));
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
        be.writeInts(inputsT, ints(m, "slots.inputs", where, batch * len));
        be.writeInts(labelsT, ints(m, "slots.labels", where, batch * len));
        be.writeInts(idsT, ints(m, "slots.ids", where, batch));
        be.writeInts(stepsT, ints(m, "slots.steps", where, batch));
        be.writeInts(haltedT, ints(m, "slots.halted", where, batch));
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
