package dev.trm.cli;

import dev.trm.backend.Backend;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.data.Dataset;
import dev.trm.data.Json;
import dev.trm.data.TaskKind;
import dev.trm.eval.SequenceEvaluator;
import dev.trm.eval.SequenceMetrics;
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

    @Option(names = "--preset", required = true, description = "Architecture preset: sudoku-extreme-mlp, sudoku-extreme-att, maze-hard, arc-1, arc-2.")
    String preset;

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "Dataset folder (trm data build).")
    Path data;

    @Option(names = "--out", required = true, paramLabel = "RUN", description = "Run folder: metrics and curves go there.")
    Path out;

    @Option(names = "--steps", defaultValue = "1000", description = "Optimizer steps (default ${DEFAULT-VALUE}).")
    long steps;

    @Option(names = "--batch", defaultValue = "768", description = "Global batch: deep-supervision slots (default ${DEFAULT-VALUE}, as published).")
    int batch;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or cuda[:N] (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--lr", description = "Learning rate (default: the task's official value).")
    Double lr;

    @Option(names = "--puzzle-lr", description = "Puzzle-embedding learning rate (default: the task's official value).")
    Double puzzleLr;

    @Option(names = "--weight-decay", description = "Weight decay of AdamATan2 and of the puzzle embeddings.")
    Double weightDecay;

    @Option(names = "--warmup", description = "Warmup steps (default 2000, as published).")
    Long warmup;

    @Option(names = "--ema", description = "EMA rate, 0 to disable (default 0.999).")
    Double ema;

    @Option(names = "--eval-interval", defaultValue = "0", description = "Steps between evaluations; 0 = only at the end.")
    long evalInterval;

    @Option(names = "--eval-limit", description = "Evaluate on at most this many test examples.")
    Long evalLimit;

    @Option(names = "--hidden", description = "Override the hidden size (small experiments).")
    Integer hidden;

    @Option(names = "--cycles", split = ",", paramLabel = "T,n", description = "Override T (H_cycles) and n (L_cycles).")
    int[] cycles;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter o = spec.commandLine().getOut();
        if (!device.equals("auto") && !device.equals("cpu")) {
            throw new CliException("--device " + device + ": the CUDA training backend is not part of this build yet; use cpu");
        }
        try (Dataset train = Dataset.open(data, "train");
             Dataset test = Dataset.splits(data).contains("test") ? Dataset.open(data, "test") : null) {
            TrmConfig c = configFor(Presets.get(preset), train);
            String task = train.metadata().task().cliName();
            TrainConfig tc = TrainConfig.official(task, batch, steps, seed).withEvalInterval(evalInterval);
            tc = tc.withLr(lr != null ? lr : tc.lr(), puzzleLr != null ? puzzleLr : tc.puzzleLr());
            if (weightDecay != null) tc = tc.withWeightDecay(weightDecay, weightDecay);
            if (warmup != null) tc = tc.withWarmup(warmup);
            if (ema != null) tc = tc.withEma(ema);
            Files.createDirectories(out);
            writeRunFile(c, tc);
            Backend be = new CpuBackend();
            TrmParameters params = new TrmParameters(c, be);
            params.initialize(be, seed);
            o.printf("train: %s on %s (%s, %d examples), %d parameters, backend %s, batch %d, %d steps -> %s%n",
                    preset, data, task, train.exampleCount(), c.parameterCount(), be.name(), batch, steps, out);
            o.flush();
            DeepSupervision trainer = new DeepSupervision(c, tc, be, params, train);
            Progress progress = Progress.create(o, steps);
            try (MetricsLog log = new MetricsLog(out)) {
                for (long s = 1; s <= steps; s++) {
                    StepMetrics m = trainer.step();
                    if (!Double.isFinite(m.loss())) {
                        log.step(m);
                        throw new CliException("step " + s + ": the loss is " + m.loss()
                                + "; stopping (lower --lr?). Metrics so far are in " + out.resolve("metrics.jsonl"));
                    }
                    log.step(m);
                    progress.update(m);
                    boolean last = s == steps;
                    if (test != null && (last || (tc.evalInterval() > 0 && s % tc.evalInterval() == 0))) {
                        progress.pause();
                        SequenceMetrics r = evaluate(c, be, trainer, test, train.metadata().task());
                        Map<String, Object> em = new LinkedHashMap<>();
                        em.put("examples", r.examples());
                        em.put("accuracy", r.tokenAccuracy());
                        em.put("exact_accuracy", r.exactAccuracy());
                        log.eval(s, em);
                        o.printf("eval @ step %d: exact accuracy %.4f, token accuracy %.4f (%d examples)%n",
                                s, r.exactAccuracy(), r.tokenAccuracy(), r.examples());
                        o.flush();
                    }
                    if (last || s % 200 == 0) log.plot();
                }
                progress.done();
            }
            o.printf("metrics: %s, curves: %s%n", out.resolve("metrics.jsonl"), out.resolve("curves.png"));
        } catch (IOException e) {
            throw new CliException(out + ": " + e.getMessage());
        }
    }

    private SequenceMetrics evaluate(TrmConfig c, Backend be, DeepSupervision trainer, Dataset test, TaskKind task) {
        if (task == TaskKind.ARC) {
            throw new CliException("ARC evaluation during training needs the voting evaluator: use trm eval on a checkpoint");
        }
        TrmModel model = new TrmModel(c, be, trainer.evalParameters());
        long limit = evalLimit == null ? Long.MAX_VALUE : evalLimit;
        return Evaluation.run(model, test, Math.min(batch, 256), new SequenceEvaluator(task, test.metadata().ignoreLabelId()), limit);
    }

    /** The preset's architecture with the data's vocabulary, length and identifiers (and any overrides). */
    private TrmConfig configFor(TrmConfig p, Dataset train) {
        int d = hidden != null ? hidden : p.hiddenSize();
        int t = cycles != null ? cycles[0] : p.hCycles(), n = cycles != null ? cycles[1] : p.lCycles();
        if (cycles != null && cycles.length != 2) throw new CliException("--cycles takes T,n");
        int heads = d % p.numHeads() == 0 ? p.numHeads() : 1;
        return new TrmConfig(train.metadata().vocabSize(), train.seqLen(), d, heads, p.expansion(), p.layers(), t, n,
                p.mlpT(), p.rope(), p.ropeTheta(), p.rmsNormEps(), p.puzzleEmbLen(),
                Math.max(1, train.metadata().numPuzzleIdentifiers()), p.haltMaxSteps(), p.haltExplorationProb(), p.loss());
    }

    private void writeRunFile(TrmConfig c, TrainConfig tc) throws IOException {
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("preset", preset);
        run.put("data", data.toString());
        run.put("model", c.toString());
        run.put("train", tc.toString());
        Files.writeString(out.resolve("run.json"), Json.write(run) + "\n");
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
