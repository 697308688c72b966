package dev.trm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.cpu.CpuBackend;
import dev.trm.checkpoint.Checkpoint;
import dev.trm.checkpoint.CheckpointContents;
import dev.trm.data.Dataset;
import dev.trm.data.TaskKind;
import dev.trm.eval.EvalExample;
import dev.trm.eval.SequenceEvaluator;
import dev.trm.eval.SequenceMetrics;
import dev.trm.infer.SolveOptions;
import dev.trm.infer.SolveResult;
import dev.trm.infer.TrmSolver;
import dev.trm.io.SafeTensors;
import dev.trm.io.SafeTensorsWriter;
import dev.trm.io.TensorData;
import dev.trm.model.TinyConfigs;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import dev.trm.task.sudoku.SudokuTokens;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code trm solve} and {@code trm eval} end to end on tiny random checkpoints made here. */
class SolveEvalCliTest {
    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
        List<String> lines() {
            return out.lines().toList();
        }
    }

    static Run trm(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** A 4x4-Sudoku-shaped TRM (vocab 6, 16 cells), tiny and fast: D 16, T 2, n 2, 4 supervision steps. */
    static TrmConfig sudoku4() {
        return new TrmConfig(6, 16, 16, 2, 4, 2, 2, 2, false, true, 10000.0, 1e-5, 2, 1, 4, 0.1, TrmConfig.LossType.STABLEMAX);
    }

    private Path checkpoint(String name, TrmConfig c, TaskKind task) {
        CpuBackend be = new CpuBackend();
        TrmParameters p = new TrmParameters(c, be);
        p.initialize(be, 21);
        Path run = dir.resolve(name);
        try {
            Files.createDirectories(run);
        } catch (java.io.IOException e) {
            throw new RuntimeException(e);
        }
        Checkpoint.save(run.resolve("model.safetensors"), CheckpointContents.ofWeights(c, task, 10, "fp", Checkpoint.weightsOf(p, be)));
        return run;
    }

    @Test
    void solvePrintsOneAnswerPerPuzzleAndDumpsEveryStep() throws Exception {
        Path run = checkpoint("run", sudoku4(), TaskKind.SUDOKU);
        Path puzzles = Files.writeString(dir.resolve("p.txt"), "# two 4x4 puzzles\n1.3..2.......4.1\n0000123000000000\n");
        Path dump = dir.resolve("dump.safetensors");
        Run r = trm("solve", "--checkpoint", run.toString(), "--input", puzzles.toString(), "--steps", "3", "--dump", dump.toString(), "--verbose");
        assertEquals(0, r.exit(), r.err());
        assertEquals(2, r.lines().size(), r.out());

        // The same answers as the library gives.
        try (TrmSolver solver = TrmSolver.load(run)) {
            int[][] in = {tokens("1.3..2.......4.1"), tokens("0000123000000000")};
            SolveResult want = solver.solve(in, new int[2], SolveOptions.defaults().withSteps(3));
            for (int i = 0; i < 2; i++) {
                assertEquals(SudokuTokens.text(SudokuTokens.decode(want.solutions().get(i).tokens(), 4)), r.lines().get(i));
                assertTrue(r.lines().get(i).matches("[1-4.]{16}"), r.lines().get(i));
            }
        }
        assertTrue(r.err().contains("steps 3, halt confidence"), r.err());
        try (SafeTensors st = SafeTensors.open(dump)) {
            assertArrayEquals(new long[] {3, 2, 16, 6}, st.info("logits").shape());
            assertArrayEquals(new long[] {3, 2}, st.info("q_halt").shape());
            assertArrayEquals(new long[] {3, 2}, st.info("q_continue").shape());
            assertArrayEquals(new int[] {3, 3}, st.ints("steps_used"));
            int[] pred = st.ints("predictions");
            byte[] first = SudokuTokens.decode(java.util.Arrays.copyOf(pred, 16), 4);
            assertEquals(r.lines().get(0), SudokuTokens.text(first));
            assertEquals("3", st.metadata().get("steps"));
        }

        Run early = trm("solve", "--checkpoint", run.resolve("model.safetensors").toString(), "--input", puzzles.toString(), "--early-halt");
        assertEquals(0, early.exit(), early.err());
        assertEquals(2, early.lines().size());
    }

    private static int[] tokens(String line) {
        int[] t = new int[line.length()];
        for (int i = 0; i < t.length; i++) t[i] = line.charAt(i) == '.' ? 1 : line.charAt(i) - '0' + 1;
        return t;
    }

    @Test
    void evalPrintsTheOfficialMetricsAndRefusesAMismatchedCheckpoint() throws Exception {
        Path csv = dir.resolve("g.csv");
        Path data = dir.resolve("data");
        assertEquals(0, trm("data", "generate", "--task", "sudoku", "--size", "4", "--count", "6", "--seed", "3", "--out", csv.toString()).exit());
        Run built = trm("data", "build", "--task", "sudoku", "--input", csv.toString(), "--test-input", csv.toString(), "--out", data.toString());
        assertEquals(0, built.exit(), built.err());
        Path run = checkpoint("run", sudoku4(), TaskKind.SUDOKU);

        Run r = trm("eval", "--checkpoint", run.toString(), "--data", data.toString(), "--batch", "4");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("4 supervision steps each"), r.out());
        // The checkpoint says it was trained on data "fp", not this folder's train split.
        assertTrue(r.err().contains("warning: the checkpoint was trained on data with fingerprint fp"), r.err());

        // The printed figures are the evaluator's over all test examples at halt_max_steps steps.
        SequenceEvaluator ev = new SequenceEvaluator(TaskKind.SUDOKU, 0);
        ev.begin();
        try (TrmSolver solver = TrmSolver.load(run); Dataset ds = Dataset.open(data, "test")) {
            for (long e = 0; e < ds.exampleCount(); e++) {
                var s = solver.solve(ds.input(e), 0, SolveOptions.defaults());
                ev.add(new EvalExample(0, ds.input(e), ds.label(e), s.tokens(), s.confidence()));
            }
        }
        SequenceMetrics m = ev.result();
        assertEquals(6, m.examples());
        assertTrue(r.out().contains(String.format("examples %d, token accuracy %.4f, exact accuracy %.4f", m.examples(),
                m.tokenAccuracy(), m.exactAccuracy())), r.out() + " vs " + m);

        // Trained on this very data: no warning.
        String fingerprint;
        try (Dataset train = Dataset.open(data, "train")) {
            fingerprint = train.metadata().fingerprint();
        }
        CheckpointContents same = Checkpoint.load(run.resolve("model.safetensors"));
        Checkpoint.save(run.resolve("model.safetensors"), CheckpointContents.ofWeights(same.config(), same.task(), 10, fingerprint, same.weights()));
        Run quiet = trm("eval", "--checkpoint", run.toString(), "--data", data.toString(), "--limit", "2");
        assertEquals(0, quiet.exit(), quiet.err());
        assertTrue(quiet.err().isEmpty() || !quiet.err().contains("warning"), quiet.err());
        assertTrue(quiet.out().contains("examples 2,"), quiet.out());

        // A checkpoint of another shape is refused before any work, in one line.
        Path other = checkpoint("other", TinyConfigs.attention(), null);
        Run bad = trm("eval", "--checkpoint", other.toString(), "--data", data.toString());
        assertNotEquals(0, bad.exit());
        assertEquals(1, bad.err().lines().count(), bad.err());
        assertTrue(bad.err().startsWith("error: ") && bad.err().contains("vocabulary 7"), bad.err());
        assertEquals("", bad.out());

        // A model trained on another task is refused too.
        Path maze = checkpoint("maze", sudoku4(), TaskKind.MAZE);
        Run wrongTask = trm("eval", "--checkpoint", maze.toString(), "--data", data.toString());
        assertNotEquals(0, wrongTask.exit());
        assertTrue(wrongTask.err().contains("trained on maze"), wrongTask.err());
    }

    @Test
    void mazeGridsAreReadAndAnsweredInTheirTextForm() throws Exception {
        TrmConfig c = new TrmConfig(6, 25, 16, 2, 4, 2, 2, 2, false, true, 10000.0, 1e-5, 2, 1, 2, 0.1, TrmConfig.LossType.STABLEMAX);
        Path run = checkpoint("maze", c, TaskKind.MAZE);
        String maze = "#####\n#S  #\n# # #\n#  G#\n#####\n";
        Path in = Files.writeString(dir.resolve("m.txt"), maze + "\n" + maze);
        Run r = trm("solve", "--checkpoint", run.toString(), "--input", in.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(2, r.lines().size());
        for (String l : r.lines()) assertTrue(l.matches("[# SGo?]{25}"), l);

        Path bad = Files.writeString(dir.resolve("bad.txt"), "#####\n#S  #\n# x #\n#  G#\n#####\n");
        Run e = trm("solve", "--checkpoint", run.toString(), "--input", bad.toString());
        assertNotEquals(0, e.exit());
        assertTrue(e.err().startsWith("error: " + bad + ":3: character 'x'"), e.err());
    }

    @Test
    void arcTasksAreAnsweredAsJsonWithTheTrainingIdentifiers() throws Exception {
        TrmConfig c = new TrmConfig(12, 900, 16, 2, 4, 1, 1, 1, false, true, 10000.0, 1e-5, 2, 3, 2, 0.1, TrmConfig.LossType.STABLEMAX);
        Path run = checkpoint("arc", c, TaskKind.ARC);
        Path task = Files.writeString(dir.resolve("abc123.json"),
                "{\"train\": [{\"input\": [[1, 2], [3, 4]], \"output\": [[4, 3], [2, 1]]}], \"test\": [{\"input\": [[5, 6], [7, 8]]}]}");
        Path ids = Files.writeString(dir.resolve("identifiers.json"), "[\"<blank>\", \"zzz\", \"abc123\"]");
        Run r = trm("solve", "--checkpoint", run.toString(), "--input", task.toString(), "--identifiers", ids.toString(), "--steps", "1");
        assertEquals(0, r.exit(), r.err());
        assertEquals(1, r.lines().size());
        assertTrue(r.lines().get(0).startsWith("{\"task\":\"abc123\",\"test\":0,\"output\":"), r.lines().get(0));

        Run noIds = trm("solve", "--checkpoint", run.toString(), "--input", task.toString());
        assertNotEquals(0, noIds.exit());
        assertTrue(noIds.err().contains("identifiers.json"), noIds.err());
        Path otherIds = Files.writeString(dir.resolve("other.json"), "[\"<blank>\", \"zzz\", \"yyy\"]");
        Run unknown = trm("solve", "--checkpoint", run.toString(), "--input", task.toString(), "--identifiers", otherIds.toString());
        assertTrue(unknown.err().contains("task abc123 is not among the 3 identifiers"), unknown.err());
    }

    @Test
    void arcEvalVotesOverAugmentationsAndWritesTheSubmission() throws Exception {
        Path tasks = dir.resolve("tasks");
        Files.createDirectories(tasks.resolve("training"));
        Files.createDirectories(tasks.resolve("evaluation"));
        Files.writeString(tasks.resolve("training/aaaa0000.json"),
                "{\"train\": [{\"input\": [[1, 2]], \"output\": [[2, 1]]}], \"test\": [{\"input\": [[3, 4]], \"output\": [[4, 3]]}]}");
        Files.writeString(tasks.resolve("evaluation/bbbb0000.json"),
                "{\"train\": [{\"input\": [[1, 0]], \"output\": [[0, 1]]}], \"test\": [{\"input\": [[5, 0, 6]], \"output\": [[6, 0, 5]]}]}");
        Path data = dir.resolve("arcdata");
        Run b = trm("data", "build", "--task", "arc", "--input", tasks.resolve("training").toString(), "--test-input",
                tasks.resolve("evaluation").toString(), "--augment", "2", "--out", data.toString());
        assertEquals(0, b.exit(), b.err());
        int ids;
        long examples;
        try (Dataset test = Dataset.open(data, "test")) {
            ids = test.metadata().numPuzzleIdentifiers();
            examples = test.exampleCount();
        }
        TrmConfig c = new TrmConfig(12, 900, 16, 2, 4, 1, 1, 1, false, true, 10000.0, 1e-5, 2, ids, 1, 0.1, TrmConfig.LossType.STABLEMAX);
        Path run = checkpoint("arcrun", c, TaskKind.ARC);
        Path sub = dir.resolve("out/submission.json");
        Run r = trm("eval", "--checkpoint", run.toString(), "--data", data.toString(), "--submission", sub.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("tasks 1, test inputs 1 (answered 1), votes " + examples), r.out());
        assertTrue(r.out().contains("pass@2"), r.out());
        String json = Files.readString(sub);
        assertTrue(json.startsWith("{\"bbbb0000\":[{\"attempt_1\":"), json);

        Path csv = dir.resolve("g.csv"), sudokuData = dir.resolve("sdata");
        assertEquals(0, trm("data", "generate", "--task", "sudoku", "--size", "4", "--count", "2", "--out", csv.toString()).exit());
        assertEquals(0, trm("data", "build", "--task", "sudoku", "--input", csv.toString(), "--test-input", csv.toString(), "--out",
                sudokuData.toString()).exit());
        Run notArc = trm("eval", "--checkpoint", checkpoint("s4", sudoku4(), TaskKind.SUDOKU).toString(), "--data",
                sudokuData.toString(), "--submission", sub.toString());
        assertNotEquals(0, notArc.exit());
        assertTrue(notArc.err().contains("--submission applies to ARC only"), notArc.err());
    }

    @Test
    void badCheckpointsAndInputsAreOneClearLine() throws Exception {
        Path run = checkpoint("run", sudoku4(), TaskKind.SUDOKU);
        Path puzzles = Files.writeString(dir.resolve("p.txt"), "1.3..2.......4.1\n1.3..2..x....4.1\n");

        Run missing = trm("solve", "--checkpoint", dir.resolve("nope.safetensors").toString(), "--input", puzzles.toString());
        assertNotEquals(0, missing.exit());
        assertTrue(missing.err().startsWith("error: ") && missing.err().contains("no such checkpoint"), missing.err());

        Run badLine = trm("solve", "--checkpoint", run.toString(), "--input", puzzles.toString());
        assertNotEquals(0, badLine.exit());
        assertTrue(badLine.err().startsWith("error: " + puzzles + ":2: "), badLine.err());
        assertEquals("", badLine.out());

        Path wrongSize = Files.writeString(dir.resolve("big.txt"), ".".repeat(81) + "\n");
        Run size = trm("solve", "--checkpoint", run.toString(), "--input", wrongSize.toString());
        assertTrue(size.err().contains("9x9 Sudoku, but the model takes 16 cells"), size.err());

        // Altered checkpoint: refused, saying so.
        Path file = run.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(file);
        all[all.length - 5] ^= 0x40;
        Files.write(file, all);
        Path good = Files.writeString(dir.resolve("good.txt"), "1.3..2.......4.1\n");
        Run altered = trm("solve", "--checkpoint", run.toString(), "--input", good.toString());
        assertNotEquals(0, altered.exit());
        assertTrue(altered.err().contains("checksum mismatch"), altered.err());

        // Converted official weights (no metadata) need --preset.
        Path foreign = dir.resolve("official.safetensors");
        new SafeTensorsWriter().add("model.inner.H_init", TensorData.f32(new float[512], 512)).write(foreign);
        Run noPreset = trm("solve", "--checkpoint", foreign.toString(), "--input", puzzles.toString());
        assertTrue(noPreset.err().contains("--preset"), noPreset.err());
        Run unfit = trm("solve", "--checkpoint", foreign.toString(), "--preset", "sudoku-extreme-att", "--input", puzzles.toString());
        assertNotEquals(0, unfit.exit());
        assertTrue(unfit.err().contains("puzzle_emb.weights"), unfit.err());
    }
}
