package dev.trm.cli;

import dev.trm.backend.Backend;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.backend.cpu.CpuParallel;
import dev.trm.data.DataException;
import dev.trm.data.Dataset;
import dev.trm.data.DatasetOutput;
import dev.trm.data.TaskKind;
import dev.trm.eval.SequenceEvaluator;
import dev.trm.eval.SequenceMetrics;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import dev.trm.task.sudoku.SudokuDatasetBuilder;
import dev.trm.task.sudoku.SudokuGenerator;
import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuShape;
import dev.trm.train.DeepSupervision;
import dev.trm.train.Evaluation;
import dev.trm.train.StepMetrics;
import dev.trm.train.TrainConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trm demo}: the whole job on a laptop-sized problem. Generates 4x4 Sudoku puzzles with unique solutions,
 * trains a small TRM on the CPU by deep supervision (the same code path as the published presets, only smaller), then
 * solves held-out puzzles it never saw and prints their exact accuracy.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Train a small TRM on generated 4x4 Sudoku on the CPU and solve held-out puzzles.")
public final class DemoCommand implements Runnable {

    @Option(names = "--steps", defaultValue = "600", description = "Optimizer steps (default ${DEFAULT-VALUE}).")
    long steps;

    @Option(names = "--batch", defaultValue = "64", description = "Slots of the deep-supervision batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--hidden", defaultValue = "64", description = "Hidden size D (default ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Learning rate (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--train-puzzles", defaultValue = "3000", description = "Generated training puzzles (default ${DEFAULT-VALUE}).")
    int trainPuzzles;

    @Option(names = "--test-puzzles", defaultValue = "500", description = "Held-out puzzles (default ${DEFAULT-VALUE}).")
    int testPuzzles;

    @Option(names = "--blanks", defaultValue = "10", description = "Blank cells per 4x4 puzzle (default ${DEFAULT-VALUE}).")
    int blanks;

    @Option(names = "--attention", description = "Use attention + RoPE instead of the token-mixing MLP (the Sudoku-MLP design).")
    boolean attention;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--work", description = "Folder for the generated data (default: a temporary folder, deleted after).")
    Path work;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = null;
        boolean temporary = work == null;
        try {
            dir = temporary ? Files.createTempDirectory("trm-demo") : work;
            Path dataDir = dir.resolve("sudoku4");
            out.printf("1/3 generating %d training and %d held-out 4x4 Sudoku puzzles (%d blanks, unique solutions)...%n",
                    trainPuzzles, testPuzzles, blanks);
            out.flush();
            generate(dataDir);
            try (Dataset train = Dataset.open(dataDir, "train"); Dataset test = Dataset.open(dataDir, "test")) {
                TrmConfig c = new TrmConfig(train.metadata().vocabSize(), train.seqLen(), hidden, 4, 4, 2, 2, 2,
                        !attention, attention, 10000.0, 1e-5, 4, 1, 8, 0.1, TrmConfig.LossType.STABLEMAX);
                TrainConfig tc = new TrainConfig(batch, steps, lr, 0.1, lr, 0.1, 0.9, 0.95, 100, 1.0, 0.995, 0, seed);
                Backend be = new CpuBackend();
                TrmParameters params = new TrmParameters(c, be);
                params.initialize(be, seed);
                out.printf("2/3 training a TRM on the CPU (%d threads): D %d, %s, T %d, n %d, %d parameters, "
                                + "batch %d, %d steps%n", CpuParallel.shared().threads(), c.hiddenSize(),
                        c.mlpT() ? "token-mixing MLP" : c.numHeads() + " heads",
                        c.hCycles(), c.lCycles(), c.parameterCount(), batch, steps);
                out.flush();
                DeepSupervision trainer = new DeepSupervision(c, tc, be, params, train);
                long t0 = System.nanoTime();
                double emaLoss = Double.NaN, emaExact = Double.NaN, emaSteps = Double.NaN;
                for (long s = 1; s <= steps; s++) {
                    StepMetrics m = trainer.step();
                    emaLoss = Double.isNaN(emaLoss) ? m.loss() : 0.9 * emaLoss + 0.1 * m.loss();
                    if (!Double.isNaN(m.exactAccuracy())) {
                        emaExact = Double.isNaN(emaExact) ? m.exactAccuracy() : 0.9 * emaExact + 0.1 * m.exactAccuracy();
                        emaSteps = Double.isNaN(emaSteps) ? m.meanSteps() : 0.9 * emaSteps + 0.1 * m.meanSteps();
                    }
                    if (s % 50 == 0 || s == steps) {
                        double secs = (System.nanoTime() - t0) / 1e9;
                        out.printf("  step %5d  loss %.4f  train exact %.3f  mean sup. steps %4.1f  %.1f steps/s  %s%n",
                                s, emaLoss, emaExact, emaSteps, s / secs, eta(secs, s, steps));
                        out.flush();
                    }
                }
                out.printf("3/3 solving %d held-out puzzles (all %d supervision steps, EMA weights)...%n",
                        test.exampleCount(), c.haltMaxSteps());
                TrmModel model = new TrmModel(c, be, trainer.evalParameters());
                SequenceMetrics r = Evaluation.run(model, test, 100, new SequenceEvaluator(TaskKind.SUDOKU, 0));
                out.printf("held-out exact accuracy: %.1f%% (%d puzzles), token accuracy %.1f%%%n",
                        100 * r.exactAccuracy(), r.examples(), 100 * r.tokenAccuracy());
                out.println();
                out.println("The published configurations train the same way (see README):");
                out.println("  ./trm info --preset sudoku-extreme-mlp");
                out.println("  ./trm data build --task sudoku --input sudoku-extreme/train.csv --limit 1000 --augment 1000 "
                        + "--test-input sudoku-extreme/test.csv --out data/sudoku");
                out.println("  ./trm train --preset sudoku-extreme-mlp --data data/sudoku --out runs/sudoku --steps 65104");
                out.println("  ./trm bench train --preset sudoku-extreme-mlp --batch 8 --device cpu");
            }
        } catch (IOException e) {
            throw new CliException("demo: " + e.getMessage());
        } finally {
            if (temporary && dir != null) deleteTree(dir);
        }
    }

    private void generate(Path dataDir) {
        SudokuShape shape = SudokuShape.ofSide(4);
        SudokuGenerator gen = new SudokuGenerator(shape, seed);
        SudokuGenerator.Difficulty d = new SudokuGenerator.Difficulty(blanks, 0);
        Set<String> seen = new HashSet<>();
        List<SudokuPuzzle> train = new ArrayList<>(), test = new ArrayList<>();
        int attempts = 0;
        while (train.size() + test.size() < trainPuzzles + testPuzzles) {
            if (++attempts > 50 * (trainPuzzles + testPuzzles)) {
                throw new DataException("demo: could not generate enough distinct 4x4 puzzles with " + blanks + " blanks");
            }
            SudokuPuzzle p = gen.generate(d);
            if (!seen.add(java.util.Arrays.toString(p.question()))) continue;
            (test.size() < testPuzzles ? test : train).add(p);
        }
        try (DatasetOutput o = DatasetOutput.create(dataDir, true)) {
            SudokuDatasetBuilder.build(train, test, 0, seed, o);
        }
    }

    private static String eta(double secs, long done, long total) {
        double left = secs / done * (total - done);
        return String.format("ETA %d:%02d", (long) left / 60, (long) left % 60);
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a temporary folder
        }
    }
}
