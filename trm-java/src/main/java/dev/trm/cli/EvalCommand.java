package dev.trm.cli;

import dev.trm.checkpoint.Checkpoint;
import dev.trm.checkpoint.CheckpointContents;
import dev.trm.data.Dataset;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.TaskKind;
import dev.trm.eval.ArcEvaluator;
import dev.trm.eval.ArcMetrics;
import dev.trm.eval.Evaluator;
import dev.trm.backend.Backend;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import dev.trm.infer.TrmSolver;
import dev.trm.eval.Evaluators;
import dev.trm.train.Evaluation;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trm eval}: runs a checkpoint over a dataset split exactly as the official evaluator does (every example all
 * halt_max_steps supervision steps, no early halting) and prints the task's official metrics.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a checkpoint on a dataset split with the task's official metrics (all 16 steps, as the official evaluator).")
public final class EvalCommand implements Runnable {
    @Option(names = "--checkpoint", required = true, paramLabel = "FILE", description = "model.safetensors, or a run folder holding it")
    Path checkpoint;

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "a folder written by `trm data build` or `trm data generate`")
    Path data;

    @Option(names = "--split", defaultValue = "test", description = "split to evaluate (default ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--batch", paramLabel = "B",
            description = "examples per forward pass (default: as many as fit in half the free heap, at most 32)")
    Integer batch;

    @Option(names = "--limit", paramLabel = "N", description = "evaluate only the first N examples")
    Long limit;

    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP + " (default ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--preset", paramLabel = "NAME", description = "architecture of converted official weights (no trm metadata)")
    String preset;

    @Option(names = "--submission", paramLabel = "FILE",
            description = "ARC: write the Kaggle submission.json (top 2 voted answers per test input) here")
    Path submission;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * The puzzle rows of a model belong to the data it was trained on; when this folder's train split is not that data
     * (another build, or Sudoku's unseeded 1k subsample), say so: the metrics may still be what the user wants.
     */
    private void warnIfTrainedOnOtherData(CheckpointContents header) {
        if (header.dataFingerprint().isEmpty() || !Dataset.splits(data).contains("train")) return;
        try (Dataset train = Dataset.open(data, "train")) {
            String here = train.metadata().fingerprint();
            if (!here.equals(header.dataFingerprint())) {
                spec.commandLine().getErr().println("warning: the checkpoint was trained on data with fingerprint "
                        + header.dataFingerprint() + ", " + data.resolve("train") + " has " + here);
            }
        }
    }

    @Override
    public void run() {
        if (batch != null && batch < 1) throw new CliException("--batch must be >= 1, got " + batch);
        if (limit != null && limit < 1) throw new CliException("--limit must be >= 1, got " + limit);
        PrintWriter out = spec.commandLine().getOut();
        Path file = SolverLoading.file(checkpoint);
        try (Dataset ds = Dataset.open(data, split)) {
            DatasetMetadata m = ds.metadata();
            if (submission != null && m.task() != TaskKind.ARC) {
                throw new CliException("--submission applies to ARC only; " + data + " holds " + m.task().cliName() + " data");
            }
            // Refuse a model that does not fit the data before loading weights or running anything.
            CheckpointContents header = SolverLoading.header(file, preset, m.numPuzzleIdentifiers());
            Checkpoint.checkMatchesData(header.config(), header.task(), m, file.toString());
            warnIfTrainedOnOtherData(header);
            Evaluator<?> evaluator = Evaluators.forDataset(data, ds, false);
            long n = limit == null ? ds.exampleCount() : Math.min(limit, ds.exampleCount());
            TrmConfig c = header.config();
            try (Backend be = Devices.open(device)) {
                TrmParameters parameters = TrmParameters.forInference(c, be);
                Checkpoint.copyInto(SolverLoading.weights(file, header, spec.commandLine().getErr()), parameters, be);
                out.printf("checkpoint %s (step %d), %s split of %s: %d examples, %d supervision steps each, backend %s%n",
                        file, header.step(), split, data, n, c.haltMaxSteps(), be.name());
                out.flush();
                long t0 = System.nanoTime();
                // The trainer's periodic evaluation and this command share one definition of the official evaluation.
                int b = batch != null ? batch : TrmSolver.autoBatchSize(c);
                Object result = Evaluation.run(new TrmModel(c, be, parameters), ds, b, evaluator, n);
                DataEvalCommand.print(out, result);
                if (submission != null) {
                    ArcEvaluator.writeSubmission(((ArcMetrics) result).submission(), submission);
                    out.println("  wrote " + submission);
                }
                out.printf("  %.1f s%n", (System.nanoTime() - t0) / 1e9);
            }
        }
    }
}
