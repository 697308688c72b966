package dev.trm.infer;

import dev.trm.backend.Backend;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.checkpoint.Checkpoint;
import dev.trm.checkpoint.CheckpointContents;
import dev.trm.data.DataException;
import dev.trm.data.TaskKind;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.TrmConfig;
import dev.trm.model.Predictions;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A trained TRM, ready to solve puzzles: the library entry point for other JVM programs.
 *
 * <pre>{@code
 * try (TrmSolver solver = TrmSolver.load(Path.of("run/model.safetensors"))) {
 *     SolveResult r = solver.solve(inputs, puzzleIds, SolveOptions.defaults().withEarlyHalt(true));
 *     int[] answer = r.solutions().get(0).tokens();
 * }
 * }</pre>
 *
 * Each puzzle starts from the initial carry (y = H_init, z = L_init) and runs up to K supervision steps of the model's
 * no-gradient forward pass (spec 2.1); its answer is the argmax of the last used step's logits.
 *
 * <p>Thread safety: {@link #solve} may be called from any number of threads at once. The weights are uploaded once
 * and only read; each call borrows a model instance (its own activation buffers and carry) from a pool, creating one
 * when none is idle, and returns it afterwards, so concurrent calls never share mutable state and the pool grows to
 * the peak number of concurrent callers. On the CPU backend all calls share its one thread pool. {@link #close} must
 * not race with calls in flight.
 *
 * <p>On a GPU, solves take turns on the backend's stream, and each chunk of puzzles is one CUDA graph launch: the
 * carry reset and all K steps, the answers and halting recorded per puzzle on the device ({@link SolveGraph}), read
 * back once. With early halting the steps after every puzzle of the chunk has halted are skipped inside the launch
 * where the GPU's graphs have conditional nodes. Recording the steps' trace runs the steps one by one instead.
 */
public final class TrmSolver implements AutoCloseable {
    private final TrmConfig config;
    private final TaskKind task;
    private final long step;
    private final Backend backend;
    private final boolean ownsBackend;
    private final TrmParameters parameters;
    private final ConcurrentLinkedDeque<TrmModel> idle = new ConcurrentLinkedDeque<>();
    /** On a GPU: the captured solves, least recently used first (guarded by the backend's lock). */
    private final java.util.SequencedMap<GraphKey, SolveGraph> graphs = new java.util.LinkedHashMap<>();
    private volatile boolean closed;

    private TrmSolver(TrmConfig config, TaskKind task, long step, Map<String, float[]> weights, Backend backend, boolean ownsBackend) {
        this.config = config;
        this.task = task;
        this.step = step;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.parameters = TrmParameters.forInference(config, backend);
        Checkpoint.copyInto(weights, parameters, backend);
    }

    /** Loads a checkpoint (a file, or a run folder holding model.safetensors) onto a new CPU backend. */
    public static TrmSolver load(Path checkpoint) {
        CpuBackend be = new CpuBackend();
        try {
            return load(checkpoint, be, true);
        } catch (RuntimeException e) {
            be.close();
            throw e;
        }
    }

    /** Loads a checkpoint onto the given backend, which the caller keeps owning (closing the solver leaves it open). */
    public static TrmSolver load(Path checkpoint, Backend backend) {
        return load(checkpoint, backend, false);
    }

    private static TrmSolver load(Path checkpoint, Backend backend, boolean owns) {
        Path file = Files.isDirectory(checkpoint) ? checkpoint.resolve("model.safetensors") : checkpoint;
        if (!Files.isRegularFile(file)) throw new DataException(file + ": no such checkpoint file");
        CheckpointContents c = Checkpoint.load(file);
        if (!c.hasWeights()) throw new DataException(file + ": holds no model weights (a train_state file?)");
        TaskKind task = c.task() != null ? c.task() : Checkpoint.inferTask(c.config());
        return new TrmSolver(c.config(), task, c.step(), c.weights(), backend, owns);
    }

    /**
     * A solver over weights already in memory (official names, see {@code ModelShapes}), e.g. from
     * {@link Checkpoint#loadWeights} for a converted official checkpoint. The caller keeps owning the backend.
     */
    public static TrmSolver of(TrmConfig config, TaskKind task, Map<String, float[]> weights, Backend backend) {
        return new TrmSolver(config, task != null ? task : Checkpoint.inferTask(config), 0, weights, backend, false);
    }

    public TrmConfig config() {
        return config;
    }

    /** The task the model was trained on (from the checkpoint, else inferred from its shape), or null if unknown. */
    public TaskKind task() {
        return task;
    }

    /** The training step the weights are from (0 when unknown). */
    public long step() {
        return step;
    }

    public String backendName() {
        return backend.name();
    }

    /**
     * Solves puzzles.
     *
     * @param inputs one row of seq_len token ids per puzzle, each in [0, vocab)
     * @param puzzleIds one puzzle identifier per puzzle, in [0, numPuzzleIds) (0 for Sudoku and Maze)
     * @throws IllegalArgumentException naming the first bad puzzle (wrong length, token or identifier)
     */
    public SolveResult solve(int[][] inputs, int[] puzzleIds, SolveOptions options) {
        if (closed) throw new IllegalStateException("solver is closed");
        validate(inputs, puzzleIds);
        int k = options.steps() == SolveOptions.MODEL_DEFAULT ? config.haltMaxSteps() : options.steps();
        int n = inputs.length, len = config.seqLen(), v = config.vocabSize();
        Solution[] out = new Solution[n];
        float[] traceLogits = null, traceQ = null;
        if (options.recordSteps()) {
            traceLogits = new float[Math.toIntExact((long) k * n * len * v)];
            traceQ = new float[k * n * 2];
        }
        if (backend.canCapture() && !options.recordSteps()) {
            // A GPU: each chunk is one graph launch (SolveGraph); solves take turns on the backend's one stream.
            int cap = options.batchSize() == SolveOptions.AUTO_BATCH ? DEVICE_AUTO_BATCH : options.batchSize();
            synchronized (backend) {
                if (closed) throw new IllegalStateException("solver is closed");
                return solveGraphs(inputs, puzzleIds, options.earlyHalt(), k, cap, out);
            }
        }
        int batchSize = options.batchSize() == SolveOptions.AUTO_BATCH ? autoBatchSize(config) : options.batchSize();
        if (!(backend instanceof CpuBackend)) {
            // A GPU backend runs one stream: solves take turns on it, and every chunk has the same size (the last
            // one padded), so the model's buffers are made once instead of once per chunk size.
            synchronized (backend) {
                return solveChunks(inputs, puzzleIds, options, k, Math.min(batchSize, n), true, traceLogits, traceQ, out);
            }
        }
        return solveChunks(inputs, puzzleIds, options, k, batchSize, false, traceLogits, traceQ, out);
    }

    private SolveResult solveChunks(int[][] inputs, int[] puzzleIds, SolveOptions options, int k, int batchSize,
                                    boolean padded, float[] traceLogits, float[] traceQ, Solution[] out) {
        int n = inputs.length, len = config.seqLen(), v = config.vocabSize();
        TrmModel model = idle.pollFirst();
        if (model == null) model = new TrmModel(config, backend, parameters);
        try {
            for (int start = 0; start < n; start += batchSize) {
                int end = Math.min(n, start + batchSize);
                runChunk(model, inputs, puzzleIds, start, end, padded ? batchSize : end - start, k, options, out,
                        traceLogits, traceQ);
            }
        } finally {
            if (!closed) idle.addFirst(model);
            else model.free();  // closed while this solve ran: its buffers go now
        }
        StepTrace trace = options.recordSteps() ? new StepTrace(k, n, len, v, traceLogits, traceQ) : null;
        return new SolveResult(List.of(out), k, trace);
    }

    /**
     * Chunks of up to {@code cap} puzzles, each solved by one graph launch. A chunk has {@code rows} slots: cap, or
     * for fewer puzzles the next power of two (so that a service solving batches of varying size keeps a handful of
     * graphs, not one per size); spare slots repeat the chunk's first puzzle and are ignored.
     */
    private SolveResult solveGraphs(int[][] inputs, int[] ids, boolean earlyHalt, int k, int cap, Solution[] out) {
        int n = inputs.length, len = config.seqLen();
        if (n == 0) return new SolveResult(List.of(), k, null);
        int rows = Math.min(cap, n <= 1 ? 1 : Integer.highestOneBit(n - 1) << 1);
        GraphKey key = new GraphKey(rows, k, earlyHalt);
        SolveGraph g = graphs.remove(key);  // re-inserted last: most recently used
        if (g == null) {
            // Room first: the graphs kept hold at most twice the rows of the largest chunk (each keeps a model's
            // activations for its rows), so sizes that come and go never pile up device memory.
            int kept = rows;
            for (SolveGraph other : graphs.values()) kept += other.rows;
            while (!graphs.isEmpty() && (graphs.size() >= GRAPHS_KEPT || kept > 2 * Math.max(rows, cap))) {
                SolveGraph evicted = graphs.pollFirstEntry().getValue();
                kept -= evicted.rows;
                evicted.close();
            }
            g = new SolveGraph(config, backend, parameters, rows, k, earlyHalt);
        }
        graphs.put(key, g);
        for (int start = 0; start < n; start += rows) {
            int b = Math.min(rows, n - start);
            Chunk chunk = chunk(inputs, ids, start, b, rows);
            SolveGraph.Results r = g.run(chunk.tokens(), chunk.ids());
            for (int i = 0; i < b; i++) {
                int used = r.stepsUsed()[i];
                float[] confidence = new float[used];
                for (int s = 0; s < used; s++) confidence[s] = sigmoid(r.qHalts()[i * k + s]);
                out[start + i] = new Solution(java.util.Arrays.copyOfRange(r.answers(), i * len, (i + 1) * len), used,
                        confidence, r.halted()[i] != 0);
            }
        }
        return new SolveResult(List.of(out), k, null);
    }

    /** One chunk's model input: tokens [rows * L] and puzzle ids [rows]. */
    private record Chunk(int[] tokens, int[] ids) {}

    /** Puzzles start..start+b-1 as {@code rows} >= b rows; the spare rows repeat the first puzzle (ignored after). */
    private Chunk chunk(int[][] inputs, int[] ids, int start, int b, int rows) {
        int len = config.seqLen();
        int[] tokens = new int[rows * len], chunkIds = new int[rows];
        for (int i = 0; i < rows; i++) {
            int p = start + (i < b ? i : 0);
            System.arraycopy(inputs[p], 0, tokens, i * len, len);
            chunkIds[i] = ids[p];
        }
        return new Chunk(tokens, chunkIds);
    }

    /** Convenience for one puzzle. */
    public Solution solve(int[] input, int puzzleId, SolveOptions options) {
        return solve(new int[][] {input}, new int[] {puzzleId}, options).solutions().getFirst();
    }

    /** Puzzles start..end-1 in one batch of {@code rows} >= end - start rows (the extra rows repeat the first). */
    private void runChunk(TrmModel model, int[][] inputs, int[] ids, int start, int end, int rows, int k,
            SolveOptions o, Solution[] out, float[] traceLogits, float[] traceQ) {
        int b = end - start;
        Chunk chunk = chunk(inputs, ids, start, b, rows);
        Batch batch = model.batch(chunk.tokens(), null, chunk.ids());
        Carry carry = model.initialCarry(rows);
        try {
            runSteps(model, batch, carry, start, b, k, o, out, traceLogits, traceQ);
        } finally {
            backend.free(batch.inputs());
            backend.free(batch.puzzleIds());
            backend.free(carry.y());
            backend.free(carry.z());
        }
    }

    private void runSteps(TrmModel model, Batch batch, Carry carry, int start, int b, int k, SolveOptions o,
            Solution[] out, float[] traceLogits, float[] traceQ) {
        int len = config.seqLen(), v = config.vocabSize(), n = out.length;
        float[][] confidence = new float[b][k];
        boolean[] done = new boolean[b];
        int remaining = b;
        for (int s = 0; s < k && (remaining > 0 || o.recordSteps()); s++) {
            model.forward(batch, carry);
            float[] logits = backend.read(model.logits());   // [rows, L, V]: the first b are this chunk's
            float[] q = backend.read(model.q());              // [rows, 1, 2]
            if (traceLogits != null) {
                System.arraycopy(logits, 0, traceLogits, Math.toIntExact(((long) s * n + start) * len * v), b * len * v);
                System.arraycopy(q, 0, traceQ, (s * n + start) * 2, 2 * b);
            }
            for (int i = 0; i < b; i++) {
                if (done[i]) continue;
                float qHalt = q[2 * i];
                confidence[i][s] = sigmoid(qHalt);
                boolean halt = o.earlyHalt() && qHalt > 0;
                if (halt || s == k - 1) {
                    out[start + i] = new Solution(Predictions.argmax(logits, i, len, v), s + 1, Arrays.copyOf(confidence[i], s + 1), qHalt > 0);
                    done[i] = true;
                    remaining--;
                }
            }
        }
    }

    private void validate(int[][] inputs, int[] ids) {
        if (inputs.length != ids.length) {
            throw new IllegalArgumentException(inputs.length + " puzzles but " + ids.length + " puzzle identifiers");
        }
        for (int p = 0; p < inputs.length; p++) {
            if (inputs[p] == null || inputs[p].length != config.seqLen()) {
                throw new IllegalArgumentException("puzzle " + p + ": " + (inputs[p] == null ? "null" : inputs[p].length + " tokens")
                        + ", the model takes " + config.seqLen());
            }
            for (int i = 0; i < inputs[p].length; i++) {
                int t = inputs[p][i];
                if (t < 0 || t >= config.vocabSize()) {
                    throw new IllegalArgumentException("puzzle " + p + ": token " + t + " at position " + i + " outside the vocabulary [0, "
                            + config.vocabSize() + ")");
                }
            }
            if (ids[p] < 0 || ids[p] >= config.numPuzzleIds()) {
                throw new IllegalArgumentException("puzzle " + p + ": identifier " + ids[p] + " outside [0, " + config.numPuzzleIds() + ")");
            }
        }
    }

    /**
     * Puzzles per forward pass that fit in half the heap not yet in use, between 1 and 32. An inference model holds
     * one net call's activations and its inputs and outputs (training buffers are made only by a training step),
     * {@link #bytesPerExample} per puzzle: about 12 MB for Sudoku (S = 97), 70 MB for Maze and ARC (S = 916).
     */
    public static int autoBatchSize(TrmConfig c) {
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        return (int) Math.clamp(free / 2 / bytesPerExample(c), 1, 32);
    }

    /** An estimate of the memory one puzzle of a batch costs a model instance (see {@link #autoBatchSize}). */
    public static long bytesPerExample(TrmConfig c) {
        long s = c.seq(), d = c.hiddenSize(), inter = c.intermediate();
        long block = s * (d + 2 * inter + inter + d) + (c.mlpT() ? 3L * c.tokenIntermediate() * d : s * 4 * d);
        long netActivations = s * d + c.layers() * block;
        long calls = 1;                                      // the no-grad calls share one set of activations
        long other = s * 6 * d;                              // x, carry, the net's scratch, heads
        return 4 * (calls * netActivations + other);
    }

    /** Puzzles per graph launch on a GPU when the options leave it automatic (a few GB of activations for ARC). */
    static final int DEVICE_AUTO_BATCH = 256;
    /**
     * Captured solves kept on a GPU (each holds a model's activations for its batch size; together at most twice the
     * rows of the largest chunk).
     */
    static final int GRAPHS_KEPT = 4;

    private record GraphKey(int rows, int steps, boolean earlyHalt) {}

    static float sigmoid(float x) {
        return (float) (1 / (1 + Math.exp(-x)));
    }

    /** Frees the solver's weights and models on its backend (device memory on a GPU), then the backend if owned. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        synchronized (backend) {
            for (TrmModel m; (m = idle.pollFirst()) != null; ) m.free();
            for (SolveGraph g : graphs.values()) g.close();
            graphs.clear();
            parameters.free(backend);
        }
        if (ownsBackend) backend.close();
    }
}
