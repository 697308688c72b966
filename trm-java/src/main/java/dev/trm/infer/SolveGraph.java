package dev.trm.infer;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.IntTensor;
import dev.trm.backend.Tensor;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;

/**
 * A whole solve of one batch size on a backend that captures graphs (a GPU): the carry reset and all K supervision
 * steps, each followed by the per-puzzle bookkeeping ({@link Backend#solveRecord}), recorded once as one graph and
 * replayed for every later batch of the same size. Per batch the host uploads the tokens and puzzle ids, launches the
 * graph and reads four small results back: the only synchronisation.
 *
 * <p>With early halting, each step after the first is wrapped in {@link Backend#runUnlessAllSet} on the puzzles'
 * step counts: on a GPU with conditional graph nodes the steps after every puzzle has halted are skipped inside the
 * launch; elsewhere they run, and the ended puzzles keep their answers.
 *
 * <p>It owns a model instance (activations and carry for {@code rows} puzzles), its inputs and state tensors and the
 * graph; {@link #close} frees them. Not thread safe: the solver serialises its use.
 */
final class SolveGraph implements AutoCloseable {
    final int rows, steps;
    final boolean earlyHalt;
    private final Backend backend;
    private final TrmModel model;
    private final Batch batch;
    private final Carry carry;
    private final IntTensor answers, stepsUsed, halted;  // [rows, L], [rows], [rows]
    private final Tensor qHalts;                         // [rows, steps]: q_halt of every step a puzzle ran
    private Backend.Replay graph;                        // null until the first (eager) run has made every buffer
    private boolean captureTried;

    /** The results of one batch: host copies of the state tensors. */
    record Results(int[] answers, float[] qHalts, int[] stepsUsed, int[] halted) {}

    SolveGraph(TrmConfig config, Backend backend, TrmParameters parameters, int rows, int steps, boolean earlyHalt) {
        this.backend = backend;
        this.rows = rows;
        this.steps = steps;
        this.earlyHalt = earlyHalt;
        this.model = new TrmModel(config, backend, parameters);
        int len = config.seqLen();
        // Made one by one, so that a failure (device memory) frees what was made before it and leaves nothing.
        java.util.List<Runnable> undo = new java.util.ArrayList<>();
        try (var use = backend.memory().use(MemoryUse.BATCH)) {
            IntTensor inputs = backend.intTensor(rows, len);
            undo.add(() -> backend.free(inputs));
            IntTensor ids = backend.intTensor(rows);
            undo.add(() -> backend.free(ids));
            this.batch = new Batch(inputs, null, ids);
            this.carry = model.initialCarry(rows);
            undo.add(() -> {
                backend.free(carry.y());
                backend.free(carry.z());
            });
            this.answers = backend.intTensor(rows, len);
            undo.add(() -> backend.free(answers));
            this.stepsUsed = backend.intTensor(rows);
            undo.add(() -> backend.free(stepsUsed));
            this.halted = backend.intTensor(rows);
            undo.add(() -> backend.free(halted));
            this.qHalts = backend.tensor(rows, steps);
        } catch (RuntimeException e) {
            for (Runnable u : undo.reversed()) u.run();
            model.free();
            throw e;
        }
    }

    /** Solves one batch: tokens [rows * L] and puzzle ids [rows]. */
    Results run(int[] tokens, int[] puzzleIds) {
        backend.writeIntsAsync(batch.inputs(), tokens);
        backend.writeIntsAsync(batch.puzzleIds(), puzzleIds);
        if (graph != null) {
            graph.replay();
        } else {
            solve();  // the first run is eager: it makes the model's buffers, which the graph then replays in place
            if (!captureTried) {
                captureTried = true;
                graph = captureOrNull();
            }
        }
        return new Results(backend.readInts(answers), backend.read(qHalts), backend.readInts(stepsUsed),
                backend.readInts(halted));
    }

    /**
     * The graph of {@link #solve}: with early halting one that can skip steps, and if the device refuses that (its
     * conditional nodes are new, and cuBLAS's kernels must be allowed inside them), a plain one; null if even that
     * fails, and solves go on eagerly (same results, more launches). Each cause is printed once.
     */
    private Backend.Replay captureOrNull() {
        if (earlyHalt) {
            try {
                return backend.captureSkippable(this::solve);
            } catch (RuntimeException e) {
                System.err.println("warning: the early-halt solve could not be captured with conditional nodes; "
                        + "capturing every step instead: " + e);
            }
        }
        try {
            return backend.capture(this::solve);
        } catch (RuntimeException e) {
            System.err.println("warning: the solve could not be captured as a graph; running it eagerly: " + e);
            return null;
        }
    }

    /** The work the graph records: reset, then K steps with their bookkeeping. Enqueues only; reads nothing back. */
    private void solve() {
        backend.zero(stepsUsed);
        backend.zero(halted);
        model.resetCarry(carry);
        for (int s = 0; s < steps; s++) {
            int step = s;
            Runnable one = () -> {
                model.forward(batch, carry);
                backend.solveRecord(model.logits(), model.q(), step, steps, earlyHalt, answers, qHalts, stepsUsed, halted);
            };
            if (earlyHalt && s > 0) backend.runUnlessAllSet(stepsUsed, one);  // nothing to skip before step 0
            else one.run();
        }
    }

    @Override
    public void close() {
        try {
            if (graph != null) graph.close();
        } finally {
            freeBuffers();
        }
    }

    private void freeBuffers() {
        model.free();
        backend.free(batch.inputs());
        backend.free(batch.puzzleIds());
        backend.free(carry.y());
        backend.free(carry.z());
        backend.free(answers);
        backend.free(stepsUsed);
        backend.free(halted);
        backend.free(qHalts);
    }
}
