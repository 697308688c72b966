package dev.trm.cli;

import dev.trm.checkpoint.CheckpointContents;
import dev.trm.data.DataException;
import dev.trm.data.DatasetOutput;
import dev.trm.data.TaskKind;
import dev.trm.infer.SolveOptions;
import dev.trm.infer.SolveResult;
import dev.trm.infer.Solution;
import dev.trm.infer.StepTrace;
import dev.trm.infer.TrmSolver;
import dev.trm.io.SafeTensorsWriter;
import dev.trm.io.TensorData;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trm solve}: answers puzzles given in the task's text format, one answer per line on stdout. */
@Command(name = "solve", mixinStandardHelpOptions = true,
        description = {
            "Solve puzzles with a trained model and print one answer per line.",
            "Input: Sudoku lines ('.' or '0' blanks) or CSV; Maze grids (rows of \"# SG\", mazes separated by an empty line) or CSV;",
            "ARC task JSON (needs the training data's identifiers.json: --identifiers or --data)."})
public final class SolveCommand implements Runnable {
    @Option(names = "--checkpoint", required = true, paramLabel = "FILE", description = "model.safetensors, or a run folder holding it")
    Path checkpoint;

    @Option(names = "--input", defaultValue = "-", paramLabel = "FILE|-", description = "puzzles to solve (default: stdin)")
    String input;

    @Option(names = "--steps", defaultValue = "0", paramLabel = "K",
            description = "supervision steps per puzzle (default: the model's halt_max_steps, 16)")
    int steps;

    @Option(names = "--early-halt", description = "stop a puzzle as soon as q_halt > 0 (the official evaluator never does)")
    boolean earlyHalt;

    @Option(names = "--dump", paramLabel = "FILE",
            description = "write every step's logits and q values, the predictions and steps used (safetensors)")
    Path dump;

    @Option(names = "--batch", defaultValue = "0", paramLabel = "B",
            description = "puzzles per forward pass (default: as many as fit in half the free heap, at most 32)")
    int batch;

    @Option(names = "--task", paramLabel = "TASK", description = "sudoku, maze or arc (default: from the checkpoint)")
    String task;

    @Option(names = "--preset", paramLabel = "NAME", description = "architecture of converted official weights (no trm metadata)")
    String preset;

    @Option(names = "--identifiers", paramLabel = "FILE", description = "ARC: identifiers.json of the training data")
    Path identifiers;

    @Option(names = "--data", paramLabel = "DIR", description = "ARC: the training data folder (its identifiers.json)")
    Path data;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEVICE",
            description = Devices.HELP + " (default ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--verbose", description = "per puzzle on stderr: steps used and final halting confidence")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (steps < 0) throw new CliException("--steps must be >= 1, got " + steps);
        if (batch < 0) throw new CliException("--batch must be >= 1, got " + batch);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path file = SolverLoading.file(checkpoint);
        CheckpointContents header = SolverLoading.header(file, preset, 0);
        TaskKind kind = SolverLoading.task(header, task);
        List<String> ids = List.of();
        if (kind == TaskKind.ARC) {
            Path idFile = identifiers != null ? identifiers : data != null ? data.resolve(DatasetOutput.IDENTIFIERS) : null;
            if (idFile == null) throw new CliException("ARC puzzles need the training data's identifiers.json: pass --identifiers FILE or --data DIR");
            ids = PuzzleText.identifiers(idFile);
        }
        Path tmp = null;
        try {
            Path in;
            if (input.equals("-")) {
                tmp = Files.createTempFile("trm-solve-", ".txt");
                try (InputStream stdin = System.in) {
                    Files.copy(stdin, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
                in = tmp;
            } else {
                in = Path.of(input);
                if (!Files.exists(in)) throw new CliException(in + ": no such file");
            }
            PuzzleText.Puzzles puzzles;
            try {
                puzzles = PuzzleText.read(kind, in, header.config().seqLen(), ids);
            } catch (DataException e) {
                throw tmp == null ? e : new CliException(e.getMessage().replace(tmp.toString(), "<stdin>"));
            }
            if (tmp != null) {
                String name = tmp.toString();
                puzzles = new PuzzleText.Puzzles(puzzles.inputs(), puzzles.puzzleIds(),
                        puzzles.labels().stream().map(l -> l.replace(name, "<stdin>")).toList());
            }
            if (puzzles.inputs().isEmpty()) throw new CliException(input + ": no puzzles");
            SolveOptions options = new SolveOptions(steps, earlyHalt, batch, dump != null);
            SolveResult r;
            try (dev.trm.backend.Backend be = Devices.open(device);
                 TrmSolver solver = SolverLoading.open(file, header, err, be)) {
                r = solver.solve(puzzles.inputs().toArray(int[][]::new), puzzles.puzzleIds(), options);
            }
            if (dump != null) dump(r, puzzles);
            for (int i = 0; i < r.solutions().size(); i++) {
                Solution s = r.solutions().get(i);
                out.println(PuzzleText.format(kind, s.tokens(), puzzles.labels().get(i)));
                if (verbose) err.printf("%s: steps %d, halt confidence %.4f%s%n", puzzles.labels().get(i), s.stepsUsed(),
                        s.confidence(), s.halted() ? " (halted)" : "");
            }
            out.flush();
        } catch (IOException e) {
            throw new CliException("cannot read the puzzles: " + e.getMessage());
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a temp file left in /tmp is harmless
                }
            }
        }
    }

    /** logits [K, N, L, V], q_halt and q_continue [K, N], predictions and inputs [N, L], steps_used and ids [N]. */
    private void dump(SolveResult r, PuzzleText.Puzzles puzzles) {
        StepTrace t = r.trace();
        int n = t.puzzles(), k = t.steps(), len = t.seqLen();
        float[] qHalt = new float[k * n], qCont = new float[k * n];
        for (int i = 0; i < k * n; i++) {
            qHalt[i] = t.q()[2 * i];
            qCont[i] = t.q()[2 * i + 1];
        }
        int[] pred = new int[n * len], inputs = new int[n * len], used = new int[n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(r.solutions().get(i).tokens(), 0, pred, i * len, len);
            System.arraycopy(puzzles.inputs().get(i), 0, inputs, i * len, len);
            used[i] = r.solutions().get(i).stepsUsed();
        }
        new SafeTensorsWriter()
                .add("logits", new TensorData.F32(new long[] {k, n, len, t.vocab()}, t.logits()))
                .add("q_halt", new TensorData.F32(new long[] {k, n}, qHalt))
                .add("q_continue", new TensorData.F32(new long[] {k, n}, qCont))
                .add("predictions", new TensorData.I32(new long[] {n, len}, pred))
                .add("inputs", new TensorData.I32(new long[] {n, len}, inputs))
                .add("puzzle_identifiers", new TensorData.I32(new long[] {n}, puzzles.puzzleIds()))
                .add("steps_used", new TensorData.I32(new long[] {n}, used))
                .metadata("steps", Integer.toString(k))
                .metadata("early_halt", Boolean.toString(earlyHalt))
                .write(dump);
    }
}
