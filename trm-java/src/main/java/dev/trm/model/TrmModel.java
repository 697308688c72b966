package dev.trm.model;

import dev.trm.backend.Backend;
import dev.trm.backend.IntTensor;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.RopeTables;
import dev.trm.backend.Tensor;

/**
 * One supervision step of TRM (spec 2.1), forward and backward, over any {@link Backend}:
 *
 * <pre>
 *   x = embed(inputs, puzzle ids)                                   [B, S, D]
 *   T-1 times, no gradient:  n times z = net(z + y + x);  y = net(y + z)
 *   with gradient:           n times z = net(z + y + x);  y = net(y + z)     (the n+1 calls keep activations)
 *   logits = lm_head(y[:, P:])  [B, L, V];   q = q_head(y[:, 0])  [B, 2]
 *   carry = (y, z), detached
 * </pre>
 *
 * Gradient flows only inside the last recursion process: y and z entering it are constants, x is not (it reaches the
 * token and puzzle embeddings through every latent update). Buffers are allocated once per batch size.
 */
public final class TrmModel {
    private final TrmConfig c;
    private final Backend be;
    private final TrmParameters p;
    private final RopeTables rope;
    private final float embedScale;
    private Workspace ws;

    private boolean keepTrainLogits;

    public TrmModel(TrmConfig config, Backend backend, TrmParameters parameters) {
        this.c = config;
        this.be = backend;
        this.p = parameters;
        try (var use = backend.memory().use(MemoryUse.SCRATCH)) {
            this.rope = config.rope() ? backend.rope(config.seq(), config.headDim(), config.ropeTheta()) : null;
        }
        this.embedScale = (float) Math.sqrt(config.hiddenSize());
    }

    /**
     * Every buffer a step needs for one batch size, allocated once. The training buffers (the n+1 calls' saved
     * activations and the gradients) are made on the first training step only, so an inference-only model holds just
     * one call's activations.
     */
    private final class Workspace {
        final int batch;
        final TrmNet net;
        final NetActivations scratch;          // the no-grad calls reuse one set
        final Tensor x, yTail, y0, logits, q;
        Training training;

        Workspace(int batch) {
            this.batch = batch;
            int s = c.seq(), d = c.hiddenSize(), len = c.seqLen(), v = c.vocabSize();
            try (var use = be.memory().use(MemoryUse.CALL_ACTIVATIONS)) {
                net = new TrmNet(c, be, p, rope, batch);
                scratch = new NetActivations(be, c, batch, false);
                x = be.activation(batch, s, d);
            }
            try (var use = be.memory().use(MemoryUse.HEADS)) {
                yTail = be.activation(batch, len, d);
                y0 = be.activation(batch, 1, d);  // qHead's workspace (unwritten where y is read in place)
                logits = be.activation(batch, len, v);
                q = be.tensor(batch, 1, 2);
            }
        }

        Training training() {
            if (training == null) training = new Training(batch, scratch);
            return training;
        }

        void free() {
            net.free();
            scratch.free(be);
            for (Tensor t : new Tensor[] {x, yTail, y0, logits, q}) be.free(t);
            if (training != null) {
                for (NetActivations a : training.saved) a.free(be);
                for (Tensor t : new Tensor[] {training.perSeq, training.qLoss, training.dLogits, training.dyTail,
                        training.dy0, training.dq, training.g, training.dx, training.dPuzzleSlots}) {
                    if (t != null) be.free(t);
                }
                be.free(training.correct);
                be.free(training.tokensCorrect);
            }
        }
    }

    /** The training step's own buffers: saved activations of the n+1 grad calls, losses, gradients. */
    private final class Training {
        final NetActivations[] saved;
        final Tensor perSeq, qLoss, dLogits, dyTail, dy0, dq, g, dx, dPuzzleSlots;
        final IntTensor correct, tokensCorrect;

        Training(int batch, NetActivations noGrad) {
            int s = c.seq(), d = c.hiddenSize(), len = c.seqLen(), v = c.vocabSize();
            saved = new NetActivations[c.lCycles() + 1];
            try (var use = be.memory().use(MemoryUse.SAVED_ACTIVATIONS)) {
                // the last (the answer update) runs on the no-grad set's buffers: see NetActivations.withBackwardOver
                for (int i = 0; i < saved.length - 1; i++) saved[i] = new NetActivations(be, c, batch, true);
                saved[saved.length - 1] = NetActivations.withBackwardOver(be, c, batch, noGrad);
            }
            try (var use = be.memory().use(MemoryUse.HEADS)) {
                perSeq = be.tensor(batch);
                qLoss = be.tensor(batch);
                correct = be.intTensor(batch);
                tokensCorrect = be.intTensor(batch);
                // the loss writes the logits' gradient over the logits, unless they are to stay readable
                dLogits = keepTrainLogits ? be.activation(batch, len, v) : null;
                dyTail = be.activation(batch, len, d);
                dy0 = be.activation(batch, 1, d);  // haltingBceBackward's (likewise)
                dq = be.tensor(batch, 1, 2);
            }
            try (var use = be.memory().use(MemoryUse.BACKWARD_WORKSPACE)) {
                g = be.activation(batch, s, d);
                dx = be.tensor(batch, s, d);
                dPuzzleSlots = be.tensor(batch, d);
            }
        }
    }

    private Workspace workspace(int batch) {
        if (ws == null || ws.batch != batch) {
            Workspace old = ws;
            ws = null;                   // never left pointing at freed buffers, even if the allocation below fails
            if (old != null) old.free(); // device memory goes back at once, not when the backend closes
            ws = new Workspace(batch);
        }
        return ws;
    }

    public TrmConfig config() {
        return c;
    }

    /**
     * Releases the model's own buffers (its workspace and RoPE tables; see {@link Backend#free}), not the
     * parameters it was given. The model must not be used again.
     */
    public void free() {
        if (ws != null) {
            Workspace old = ws;
            ws = null;
            old.free();
        }
        if (rope != null) {
            be.free(rope.cos());
            be.free(rope.sin());
        }
    }

    public Backend backend() {
        return be;
    }

    public TrmParameters parameters() {
        return p;
    }

    /** A carry for B slots, every slot at the initial y0 = H_init, z0 = L_init. */
    public Carry initialCarry(int batch) {
        Carry carry;
        try (var use = be.memory().use(MemoryUse.CARRY)) {
            carry = new Carry(be.activation(batch, c.seq(), c.hiddenSize()), be.activation(batch, c.seq(), c.hiddenSize()));
        }
        resetCarry(carry);
        return carry;
    }

    /** Every slot of the carry back to the initial y and z (reusing its buffers for a new batch). */
    public void resetCarry(Carry carry) {
        be.broadcastRow(p.hInit(), carry.y());
        be.broadcastRow(p.lInit(), carry.z());
    }

    /** Uploads one batch; labels may be null for inference. */
    public Batch batch(int[] inputs, int[] labels, int[] puzzleIds) {
        int b = puzzleIds.length;
        IntTensor in, lab = null, ids;
        try (var use = be.memory().use(MemoryUse.BATCH)) {
            in = be.intTensor(b, c.seqLen());
            if (labels != null) lab = be.intTensor(b, c.seqLen());
            ids = be.intTensor(b);
        }
        be.writeInts(in, inputs);
        if (lab != null) be.writeInts(lab, labels);
        be.writeInts(ids, puzzleIds);
        return new Batch(in, lab, ids);
    }

    /**
     * Logits [B, L, V] of the last no-grad step (valid until the next step). After a training step they hold the
     * logits' gradient, which the loss writes over them, unless {@link #keepTrainLogits} was set.
     */
    public Tensor logits() {
        return ws.logits;
    }

    /**
     * Whether a training step leaves {@link #logits()} readable, with the logits' gradient in a buffer of its own
     * ([B, L, V] more): for checks against a reference. Off by default: the gradient is written over the logits. Set
     * it before the first training step.
     */
    public void keepTrainLogits(boolean keep) {
        if (ws != null && ws.training != null && keep != (ws.training.dLogits != null)) {
            throw new IllegalStateException("keepTrainLogits must be set before the first training step");
        }
        keepTrainLogits = keep;
    }

    /** Per slot [B], the valid tokens of the last training step whose argmax equals the label (training metrics). */
    public IntTensor tokensCorrect() {
        return ws.training().tokensCorrect;
    }

    /** q [B, 1, 2] of the last step: column 0 q_halt, column 1 q_continue. */
    public Tensor q() {
        return ws.q;
    }

    /** Per-slot gradient of the puzzle-embedding row [B, D] of the last training step. */
    public Tensor puzzleSlotGrad() {
        return ws.training().dPuzzleSlots;
    }

    /**
     * One supervision step without gradient (inference / evaluation): updates the carry, leaves logits and q in
     * {@link #logits()} and {@link #q()}.
     */
    public void forward(Batch batch, Carry carry) {
        Workspace w = workspace(batch.size());
        // x, and the first call's input z + y + x in the same pass; each call then writes the next one's input
        be.embedInject(batch.inputs(), batch.puzzleIds(), p.embed().value(), p.puzzleTable(), w.x, embedScale,
                carry.z(), carry.y(), w.scratch.input);
        for (int cycle = 0; cycle < c.hCycles(); cycle++) {
            recursionNoGrad(w, carry, cycle < c.hCycles() - 1 ? w.scratch.input : null);
        }
        heads(w, carry.y());
    }

    /**
     * One training supervision step: forward, losses, backward. Parameter gradients of loss / B accumulate into
     * {@link Parameter#grad()} (zero them first); the puzzle rows' gradient per slot lands in {@link #puzzleSlotGrad()}.
     */
    public StepResult trainStep(Batch batch, Carry carry) {
        enqueueTrainStep(batch, carry);
        return result(ws, ws.training());
    }

    /**
     * {@link #trainStep} without reading anything back: every op is enqueued on the backend, so on a GPU the step
     * can be captured into a graph. The losses and flags stay in {@link #perSequenceLoss()}, {@link #haltingLoss()}
     * and {@link #sequenceCorrect()}.
     */
    public void enqueueTrainStep(Batch batch, Carry carry) {
        if (batch.labels() == null) throw new IllegalArgumentException("a training step needs labels");
        p.requireGradients();
        int b = batch.size();
        Workspace w = workspace(b);
        Training t = w.training();
        int n = c.lCycles();
        // Each call's last norm writes the next call's injected input; the first input (z + y + x) comes with x.
        be.embedInject(batch.inputs(), batch.puzzleIds(), p.embed().value(), p.puzzleTable(), w.x, embedScale,
                carry.z(), carry.y(), c.hCycles() > 1 ? w.scratch.input : t.saved[0].input);
        for (int cycle = 0; cycle < c.hCycles() - 1; cycle++) {
            recursionNoGrad(w, carry, cycle < c.hCycles() - 2 ? w.scratch.input : t.saved[0].input);
        }

        // The process with gradient: z_{i+1} = net(z_i + y + x) into saved[i], y' = net(y + z_n) into saved[n].
        Tensor z = null;
        for (int i = 0; i < n; i++) {
            // the next input: z_{i+1} + y + x for the next latent call, z_n + y for the answer update
            z = w.net.forwardInjected(t.saved[i], null, carry.y(), i < n - 1 ? w.x : null, t.saved[i + 1].input);
        }
        Tensor yNew = w.net.forwardInjected(t.saved[n], null, null, null, null);
        heads(w, yNew);

        // Losses (spec 3): gradients are of (lm_loss + 0.5 q_halt_loss) / B.
        double scale = 1.0 / b;
        Tensor dLogits = t.dLogits != null ? t.dLogits : w.logits;   // in place unless kept (see keepTrainLogits)
        be.crossEntropy(w.logits, batch.labels(), c.loss() == TrmConfig.LossType.STABLEMAX, scale, t.perSeq, t.correct,
                t.tokensCorrect, dLogits);

        // Heads backward into g = d y' [B, S, D]: the lm head into slots P.., then the halting loss (its target is the
        // token loss's seqCorrect) and its gradient through the q head into slot 0.
        be.linearBackward(w.yTail, p.lmHead().value(), dLogits, t.dyTail, false, p.lmHead().grad(), null);
        be.zero(t.g);
        be.sliceSeqBackward(t.dyTail, c.puzzleEmbLen(), t.g);
        be.haltingBceBackward(w.q, t.correct, 0.5 * scale, t.qLoss, t.dq, yNew, p.qWeight().value(),
                p.qWeight().grad(), p.qBias().grad(), t.g, w.y0, t.dy0);

        // y' = net(y + z_n): y is a constant here, so d(y + z_n) flows only into z_n.
        w.net.backward(t.saved[n], t.g);
        be.zero(t.dx);
        // z_{i+1} = net(z_i + y + x): d(z_i + y + x) goes to z_i (constant for i = 0) and to x. g carries d z_n, then
        // each d z_i in turn, in place.
        for (int i = n - 1; i >= 0; i--) {
            w.net.backward(t.saved[i], t.g);
            be.accumulate(t.dx, t.g);
        }
        be.embedBackward(batch.inputs(), t.dx, p.embed().grad(), t.dPuzzleSlots, embedScale);

        // The new carry, detached.
        be.copy(z, carry.z());
        be.copy(yNew, carry.y());
    }

    /** Per-slot token loss [B] of the last training step (mean CE over valid tokens). */
    public Tensor perSequenceLoss() {
        return ws.training().perSeq;
    }

    /** Per-slot halting BCE [B] of the last training step. */
    public Tensor haltingLoss() {
        return ws.training().qLoss;
    }

    /** Per-slot flag [B] of the last training step: every valid token predicted right. */
    public IntTensor sequenceCorrect() {
        return ws.training().correct;
    }

    /**
     * One full recursion process without gradient, in place on the carry: w.scratch.input holds the first call's
     * injected input (z + y + x). Each call writes its output straight into the carry and, in its last norm, the
     * next call's input (no separate add, no copy); the answer update writes the next process's first input into
     * then (when non-null).
     */
    private void recursionNoGrad(Workspace w, Carry carry, Tensor then) {
        int n = c.lCycles();
        for (int i = 0; i < n; i++) {
            // z = net(z + y + x); next: z + y + x again, or y + z for the answer update
            w.net.forwardInjected(w.scratch, carry.z(), carry.y(), i < n - 1 ? w.x : null, w.scratch.input);
        }
        // y = net(y + z); next: the following process's z + y + x
        w.net.forwardInjected(w.scratch, carry.y(), then == null ? null : carry.z(), then == null ? null : w.x, then);
    }

    private void heads(Workspace w, Tensor y) {
        be.sliceSeq(y, c.puzzleEmbLen(), w.yTail);
        be.linear(w.yTail, p.lmHead().value(), null, w.logits);
        be.qHead(y, p.qWeight().value(), p.qBias().value(), w.y0, w.q);
    }

    private StepResult result(Workspace w, Training t) {
        double[] perSeq = be.readDouble(t.perSeq);
        double[] qLoss = be.readDouble(t.qLoss);
        double lm = 0, qh = 0;
        for (double v : perSeq) lm += v;
        for (double v : qLoss) qh += v;
        float[] q = be.read(w.q);
        float[] halt = new float[w.batch];
        for (int i = 0; i < halt.length; i++) halt[i] = q[2 * i];
        return new StepResult(lm, qh, lm + 0.5 * qh, perSeq, be.readInts(t.correct), halt);
    }
}
