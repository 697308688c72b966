package dev.trm.cli;

import dev.trm.backend.Backend;
import dev.trm.backend.gpu.GpuBackend;
import dev.trm.checkpoint.Checkpoint;
import dev.trm.checkpoint.CheckpointContents;
import dev.trm.checkpoint.ConfigJson;
import dev.trm.data.Dataset;
import dev.trm.data.Json;
import dev.trm.data.TaskKind;
import dev.trm.eval.Evaluator;
import dev.trm.eval.Evaluators;
import dev.trm.model.Presets;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import dev.trm.train.DeepSupervision;
import dev.trm.train.Evaluation;
import dev.trm.train.MetricsLog;
import dev.trm.train.StepMetrics;
import dev.trm.train.TrainConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trm train}: deep-supervision training of a preset on a dataset built by {@code trm data build}, with
 * periodic evaluation on its test split. The architecture comes from the preset; vocabulary, sequence length and
 * puzzle identifiers come from the data, as in the official code. Writes RUN/metrics.jsonl and RUN/curves.png.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a TRM by deep supervision (AdamATan2, sign-SGD puzzle embeddings, EMA, ACT halting).")
public final class TrainCommand implements Runnable {

    @Option(names = "--preset", description = "Architecture preset: sudoku-extreme-mlp, sudoku-extreme-att, maze-hard, arc-1, arc-2.")
    String preset;

    @Option(names = "--data", paramLabel = "DIR", description = "Dataset folder (trm data build).")
    Path data;

    @Option(names = "--out", paramLabel = "RUN", description = "Run folder: run.json, checkpoints, metrics.jsonl, curves.png.")
    Path out;

    @Option(names = "--resume", paramLabel = "RUN", description = "Continue the run in RUN from its last checkpoint, with its settings.")
    Path resume;

    @Option(names = "--checkpoint-every", description = "Steps between checkpoints (default: the eval interval, else a tenth of the run).")
    Long checkpointEvery;

    @Option(names = "--steps", description = "Optimizer steps (default 1000).")
    Long steps;

    @Option(names = "--batch", description = "Global batch: deep-supervision slots (default 768, as published).")
    Integer batch;

    @Option(names = "--device", defaultValue = "auto", description = Devices.HELP + " (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--seed", description = "Random seed (default 0).")
    Long seed;

    @Option(names = "--lr", description = "Learning rate (default: the task's official value).")
    Double lr;

    @Option(names = "--puzzle-lr", description = "Puzzle-embedding learning rate (default: the task's official value).")
    Double puzzleLr;

    @Option(names = "--weight-decay", description = "Weight decay of AdamATan2 and of the puzzle embeddings.")
    Double weightDecay;

    @Option(names = "--puzzle-weight-decay", description = "Weight decay of the puzzle embeddings (default: --weight-decay, else the task's official value).")
    Double puzzleWeightDecay;

    @Option(names = "--warmup", description = "Warmup steps (default 2000, as published).")
    Long warmup;

    @Option(names = "--accumulate-votes", description = "ARC: keep votes across evaluations, as the official evaluator does (a checkpoint ensemble; off by default).")
    boolean accumulateVotes;

    @Option(names = "--ema", description = "EMA rate, 0 to disable (default 0.999).")
    Double ema;

    @Option(names = "--eval-interval", description = "Steps between evaluations; 0 = only at the end (default).")
    Long evalInterval;

    @Option(names = "--eval-limit", description = "Evaluate on at most this many test examples.")
    Long evalLimit;

    @Option(names = "--hidden", description = "Override the hidden size (small experiments).")
    Integer hidden;

    @Option(names = "--cycles", split = ",", paramLabel = "T,n", description = "Override T (H_cycles) and n (L_cycles).")
    int[] cycles;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Everything that defines a run, saved in RUN/run.json so that --resume continues with the same settings. */
    record RunSettings(String preset, String data, long steps, int batch, long seed, Double lr, Double puzzleLr,
                       Double weightDecay, Double puzzleWeightDecay, Long warmup, Double ema, long evalInterval,
                       Long evalLimit, Integer hidden, int[] cycles, long checkpointEvery, boolean accumulateVotes) {

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("preset", preset);
            m.put("data", data);
            m.put("steps", steps);
            m.put("batch", batch);
            m.put("seed", seed);
            m.put("lr", lr);
            m.put("puzzle_lr", puzzleLr);
            m.put("weight_decay", weightDecay);
            m.put("puzzle_weight_decay", puzzleWeightDecay);
            m.put("warmup", warmup);
            m.put("ema", ema);
            m.put("eval_interval", evalInterval);
            m.put("eval_limit", evalLimit);
            m.put("hidden", hidden);
            m.put("cycles", cycles == null ? null : List.of(cycles[0], cycles[1]));
            m.put("checkpoint_every", checkpointEvery);
            m.put("accumulate_votes", accumulateVotes);
            return m;
        }

        static RunSettings read(Path file) {
            Map<String, Object> m = Json.asObject(Json.read(file), file.toString());
            String w = file + ": ";
            List<Object> cyc = m.get("cycles") == null ? null : Json.asList(m.get("cycles"), w + "cycles");
            return new RunSettings(Json.asString(m.get("preset"), w + "preset"), Json.asString(m.get("data"), w + "data"),
                    Json.asLong(m.get("steps"), w + "steps"), (int) Json.asLong(m.get("batch"), w + "batch"),
                    Json.asLong(m.get("seed"), w + "seed"), dbl(m, "lr", w), dbl(m, "puzzle_lr", w),
                    dbl(m, "weight_decay", w), dbl(m, "puzzle_weight_decay", w), lng(m, "warmup", w), dbl(m, "ema", w),
                    Json.asLong(m.get("eval_interval"), w + "eval_interval"), lng(m, "eval_limit", w),
                    m.get("hidden") == null ? null : (int) Json.asLong(m.get("hidden"), w + "hidden"),
                    cyc == null ? null : new int[] {(int) Json.asLong(cyc.get(0), w + "cycles"), (int) Json.asLong(cyc.get(1), w + "cycles")},
                    Json.asLong(m.get("checkpoint_every"), w + "checkpoint_every"),
                    Boolean.TRUE.equals(m.get("accumulate_votes")));
        }

        private static Double dbl(Map<String, Object> m, String k, String w) {
            return m.get(k) == null ? null : Json.asDouble(m.get(k), w + k);
        }

        private static Long lng(Map<String, Object> m, String k, String w) {
            return m.get(k) == null ? null : Json.asLong(m.get(k), w + k);
        }
    }

    static final String STATE = "train_state.safetensors";
    static final String MODEL = "model.safetensors";

    @Override
    public void run() {
        PrintWriter o = spec.commandLine().getOut();
        Path runDir;
        RunSettings rs;
        if (resume != null) {
            if (preset != null || data != null || out != null) throw new CliException("--resume takes its settings from RUN/run.json; drop --preset, --data and --out");
            runDir = resume;
            if (!Files.isRegularFile(runDir.resolve("run.json"))) throw new CliException(runDir + ": not a run folder (no run.json)");
            if (!Files.isRegularFile(runDir.resolve(STATE))) throw new CliException(runDir + ": no checkpoint to resume from (" + STATE + " missing)");
            rs = RunSettings.read(runDir.resolve("run.json"));
        } else {
            if (preset == null || data == null || out == null) throw new CliException("train needs --preset, --data and --out (or --resume RUN)");
            runDir = out;
            long n = steps != null ? steps : 1000;
            long evalEvery = evalInterval != null ? evalInterval : 0;
            rs = new RunSettings(preset, data.toAbsolutePath().toString(), n, batch != null ? batch : 768,
                    seed != null ? seed : 0, lr, puzzleLr, weightDecay, puzzleWeightDecay, warmup, ema, evalEvery,
                    evalLimit, hidden, cycles,
                    checkpointEvery != null ? checkpointEvery : evalEvery > 0 ? evalEvery : Math.max(1, n / 10),
                    accumulateVotes);
            if (cycles != null && cycles.length != 2) throw new CliException("--cycles takes T,n");
        }
        Path dataDir = Path.of(rs.data());
        try (Dataset train = Dataset.open(dataDir, "train");
             Dataset test = Dataset.splits(dataDir).contains("test") ? Dataset.open(dataDir, "test") : null) {
            TrmConfig c = configFor(Presets.get(rs.preset()), train, rs);
            TaskKind task = train.metadata().task();
            TrainConfig tc = TrainConfig.official(task.cliName(), rs.batch(), rs.steps(), rs.seed()).withEvalInterval(rs.evalInterval());
            tc = tc.withLr(rs.lr() != null ? rs.lr() : tc.lr(), rs.puzzleLr() != null ? rs.puzzleLr() : tc.puzzleLr());
            if (rs.weightDecay() != null || rs.puzzleWeightDecay() != null) {
                double wd = rs.weightDecay() != null ? rs.weightDecay() : tc.weightDecay();
                tc = tc.withWeightDecay(wd, rs.puzzleWeightDecay() != null ? rs.puzzleWeightDecay()
                        : rs.weightDecay() != null ? rs.weightDecay() : tc.puzzleWeightDecay());
            }
            if (rs.warmup() != null) tc = tc.withWarmup(rs.warmup());
            if (rs.ema() != null) tc = tc.withEma(rs.ema());

            try (Backend be = Devices.open(device)) {
                TrmParameters params = new TrmParameters(c, be);
                params.initialize(be, rs.seed());
                DeepSupervision trainer = new DeepSupervision(c, tc, be, params, train);
                if (resume != null) {
                    Path stateFile = runDir.resolve(STATE);
                    CheckpointContents st = Checkpoint.load(stateFile);
                    if (!ConfigJson.write(st.config()).equals(ConfigJson.write(c))) {
                        throw new CliException(stateFile + ": the checkpoint's model does not match run.json and the data");
                    }
                    if (!st.dataFingerprint().equals(train.metadata().fingerprint())) {
                        throw new CliException(stateFile + ": trained on other data (fingerprint " + st.dataFingerprint()
                                + ", " + dataDir + " has " + train.metadata().fingerprint() + ")");
                    }
                    trainer.restoreState(st.extras(), stateFile.toString());
                    MetricsLog.truncateAfter(runDir, trainer.steps());
                    o.printf("resuming %s at step %d of %d%n", runDir, trainer.steps(), rs.steps());
                } else {
                    Files.createDirectories(runDir);
                    Files.writeString(runDir.resolve("run.json"), Json.write(rs.toJson()) + "\n");
                }
                o.printf("train: %s on %s (%s, %d examples), %d parameters, backend %s, batch %d, %d steps -> %s%n",
                        rs.preset(), dataDir, task.cliName(), train.exampleCount(), c.parameterCount(), be.name(), rs.batch(),
                        rs.steps(), runDir);
                if (tc.warmupSteps() >= rs.steps()) {
                    o.printf("note: warmup %d >= %d steps: the learning rate never reaches its base value (--warmup)%n",
                            tc.warmupSteps(), rs.steps());
                }
                o.flush();
                // One evaluator for the run, so that --accumulate-votes can keep ARC votes across evaluations.
                Evaluator<?> evaluator = test == null ? null : Evaluators.forDataset(dataDir, test, rs.accumulateVotes());
                Progress progress = Progress.create(o, rs.steps());
                try (MetricsLog log = new MetricsLog(runDir)) {
                    // On a GPU the steps run asynchronously: their metrics come back every few steps (and before
                    // any evaluation or checkpoint), so the host never waits on the device inside the loop.
                    int metricsEvery = be.canCapture() ? 16 : 1;
                    long start = trainer.steps() + 1;
                    for (long s = start; s <= rs.steps(); s++) {
                        trainer.stepAsync();
                        if (s == start) {
                            // every buffer exists after the first step; none is made inside the loop
                            progress.pause();
                            BenchTrainCommand.printMemory(o, be);
                            o.flush();
                        }
                        boolean last = s == rs.steps();
                        boolean evalDue = test != null && (last || (rs.evalInterval() > 0 && s % rs.evalInterval() == 0));
                        boolean checkpointDue = last || s % rs.checkpointEvery() == 0;
                        if (trainer.pendingMetrics() >= metricsEvery || evalDue || checkpointDue) {
                            for (StepMetrics m : trainer.drain()) {
                                log.step(m);
                                if (!Double.isFinite(m.loss())) {
                                    Path state = runDir.resolve(STATE);
                                    throw new CliException("step " + m.step() + ": the loss is " + m.loss()
                                            + "; stopped (try a lower --lr). " + (Files.exists(state)
                                            ? "The last good checkpoint (step " + Checkpoint.header(state).step()
                                                    + ") is kept in " + runDir : "No checkpoint had been written yet"));
                                }
                                progress.update(m);
                            }
                        }
                        if (evalDue) {
                            progress.pause();
                            Object r = evaluate(c, be, trainer, test, evaluator, rs);
                            log.eval(s, TaskEvaluation.toJson(r));
                            o.printf("eval @ step %d:%n", s);
                            DataEvalCommand.print(o, r);
                            o.flush();
                        }
                        if (checkpointDue) save(runDir, c, task, train, trainer, be);
                        if (last || s % 200 == 0) log.plot();
                    }
                    progress.done();
                }
                o.printf("checkpoint: %s (EMA weights), metrics: %s, curves: %s%n", runDir.resolve(MODEL),
                        runDir.resolve("metrics.jsonl"), runDir.resolve("curves.png"));
            }
        } catch (IOException e) {
            throw new CliException(runDir + ": " + e.getMessage());
        }
    }

    /**
     * The resume state first, then the EMA weights for inference; each file is written atomically, so a kill at any
     * moment leaves the previous pair or a newer resume state, never a torn file.
     */
    private static void save(Path runDir, TrmConfig c, TaskKind task, Dataset train, DeepSupervision trainer, Backend be) {
        String fp = train.metadata().fingerprint();
        Checkpoint.save(runDir.resolve(STATE), new CheckpointContents(c, task, trainer.steps(), fp, Map.of(),
                trainer.exportState(), Map.of()));
        Checkpoint.save(runDir.resolve(MODEL), CheckpointContents.ofWeights(c, task, trainer.steps(), fp,
                Checkpoint.weightsOf(trainer.evalParameters(), be)));
    }

    /** The official evaluation of the EMA weights on the test split (spec 2.3), with the task's evaluator. */
    private TrmModel evalModel;  // one for the run: its buffers are made once, not at every evaluation

    private Object evaluate(TrmConfig c, Backend be, DeepSupervision trainer, Dataset test, Evaluator<?> evaluator,
                            RunSettings rs) {
        if (evalModel == null) evalModel = new TrmModel(c, be, trainer.evalParameters());
        TrmModel model = evalModel;
        long limit = rs.evalLimit() == null ? Long.MAX_VALUE : rs.evalLimit();
        return Evaluation.run(model, test, Math.min(rs.batch(), 256), evaluator, limit);
    }

    /** The preset's architecture with the data's vocabulary, length and identifiers (and any overrides). */
    private static TrmConfig configFor(TrmConfig p, Dataset train, RunSettings rs) {
        int d = rs.hidden() != null ? rs.hidden() : p.hiddenSize();
        int t = rs.cycles() != null ? rs.cycles()[0] : p.hCycles(), n = rs.cycles() != null ? rs.cycles()[1] : p.lCycles();
        int heads = d % p.numHeads() == 0 ? p.numHeads() : 1;
        return new TrmConfig(train.metadata().vocabSize(), train.seqLen(), d, heads, p.expansion(), p.layers(), t, n,
                p.mlpT(), p.rope(), p.ropeTheta(), p.rmsNormEps(), p.puzzleEmbLen(),
                Math.max(1, train.metadata().numPuzzleIdentifiers()), p.haltMaxSteps(), p.haltExplorationProb(), p.loss());
    }

    /** A progress bar on a terminal, plain lines otherwise. */
    abstract static class Progress {
        final PrintWriter o;
        final long total;
        final long start = System.nanoTime();
        double loss = Double.NaN, exact = Double.NaN, supSteps = Double.NaN;

        Progress(PrintWriter o, long total) {
            this.o = o;
            this.total = total;
        }

        static Progress create(PrintWriter o, long total) {
            java.io.Console con = System.console();
            return con != null && con.isTerminal() ? new Bar(o, total) : new Lines(o, total);
        }

        void update(StepMetrics m) {
            loss = Double.isNaN(loss) ? m.loss() : 0.95 * loss + 0.05 * m.loss();
            if (m.halted() > 0) {
                exact = Double.isNaN(exact) ? m.exactAccuracy() : 0.9 * exact + 0.1 * m.exactAccuracy();
                supSteps = Double.isNaN(supSteps) ? m.meanSteps() : 0.9 * supSteps + 0.1 * m.meanSteps();
            }
            show(m.step());
        }

        String status(long step) {
            double secs = (System.nanoTime() - start) / 1e9, rate = step / secs;
            long eta = (long) ((total - step) / Math.max(rate, 1e-9));
            return String.format("step %d/%d  %.2f steps/s  ETA %d:%02d:%02d  loss %.4f  exact %.3f  sup. steps %.1f",
                    step, total, rate, eta / 3600, eta / 60 % 60, eta % 60, loss, exact, supSteps);
        }

        abstract void show(long step);

        void pause() {}

        void done() {}
    }

    static final class Bar extends Progress {
        Bar(PrintWriter o, long total) {
            super(o, total);
        }

        @Override
        void show(long step) {
            int width = 24, filled = (int) (width * step / total);
            o.print("\r[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + status(step) + "   ");
            o.flush();
        }

        @Override
        void pause() {
            o.println();
        }

        @Override
        void done() {
            o.println();
        }
    }

    static final class Lines extends Progress {
        private final long every;

        Lines(PrintWriter o, long total) {
            super(o, total);
            every = Math.max(1, Math.min(100, total / 20));
        }

        @Override
        void show(long step) {
            if (step % every == 0 || step == total) {
                o.println(status(step));
                o.flush();
            }
        }
    }
}
