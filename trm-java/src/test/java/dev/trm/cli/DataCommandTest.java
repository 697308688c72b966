package dev.trm.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.Dataset;
import dev.trm.task.maze.MazeReader;
import dev.trm.task.sudoku.SudokuReader;
import dev.trm.task.sudoku.SudokuShape;
import dev.trm.testing.SharedData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The `trm data` commands end to end, through the same entry point as the launcher. */
class DataCommandTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static Run trm(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            System.out.flush();
            System.err.flush();
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private long filesIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test
    void generateThenBuildSmallSudokuForTheCpuDemo() throws IOException {
        Path csv = tmp.resolve("s4.csv");
        Run g = trm("data", "generate", "--task", "sudoku", "--size", "4", "--count", "40", "--blanks", "9", "--out", csv.toString());
        assertEquals(0, g.code(), g.err());
        var puzzles = SudokuReader.read(csv);
        assertEquals(40, puzzles.size());
        assertEquals(SudokuShape.ofSide(4), puzzles.get(0).shape());
        assertEquals(40, puzzles.stream().map(p -> new String(p.question())).distinct().count(), "distinct");
        Path out = tmp.resolve("ds");
        Run b = trm("data", "build", "--task", "sudoku", "--input", csv.toString(), "--test-input", csv.toString(),
                "--out", out.toString(), "--augment", "3", "--seed", "1");
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("train: 40 groups, 160 puzzles, 160 examples"), b.out());
        assertTrue(b.out().contains("identifiers: 1"), b.out());
        try (Dataset ds = Dataset.open(out, "train")) {
            assertEquals(6, ds.metadata().vocabSize());
            assertEquals(16, ds.metadata().seqLen());
        }
        Run s = trm("data", "show", out.toString(), "--example", "1", "--verify");
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("fingerprint check: ok"), s.out());
    }

    @Test
    void generateMazesWithThreshold() {
        Path csv = tmp.resolve("m.csv");
        Run g = trm("data", "generate", "--task", "maze", "--size", "10", "--min-path", "20", "--count", "5", "--out", csv.toString());
        assertEquals(0, g.code(), g.err());
        var mazes = MazeReader.read(csv); // re-verifies every labelled path by BFS
        assertEquals(5, mazes.size());
        assertTrue(mazes.stream().allMatch(m -> Integer.parseInt(m.rating()) > 20));
    }

    @Test
    void realSudokuFileBuildsWithVerifiedAnswers() {
        Path src = SharedData.file("sudoku/puzzles6_forum_hardest_1106.solved.csv");
        Path out = tmp.resolve("sud");
        Run b = trm("data", "build", "--task", "sudoku", "--input", src.toString(), "--limit", "100", "--augment", "2", "--out", out.toString());
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("train: 100 groups, 300 puzzles, 300 examples"), b.out());
    }

    @Test
    void badInputGivesOneLineNamingFileAndLineAndLeavesNothing() throws IOException {
        Path csv = tmp.resolve("bad.csv");
        Files.writeString(csv, "source,question,answer\nx,12.4,1234\n");
        Path out = tmp.resolve("never");
        long before = filesIn(tmp);
        Run b = trm("data", "build", "--task", "sudoku", "--input", csv.toString(), "--out", out.toString());
        assertNotEquals(0, b.code());
        assertEquals(1, b.err().strip().lines().count(), b.err());
        assertTrue(b.err().startsWith("error: " + csv + ":2:"), b.err());
        assertFalse(Files.exists(out));
        assertEquals(before, filesIn(tmp), "no temporary folder left");

        Path arc = tmp.resolve("arc");
        Files.createDirectories(arc);
        Files.writeString(arc.resolve("ffff0000.json"), "{\"train\": [{\"input\": [[1, 12]], \"output\": [[1]]}], \"test\": [{\"input\": [[1]], \"output\": [[1]]}]}");
        Run a = trm("data", "build", "--task", "arc", "--input", arc.toString(), "--out", out.toString());
        assertNotEquals(0, a.code());
        assertTrue(a.err().contains("task ffff0000") && a.err().contains("colour 12"), a.err());
        assertFalse(Files.exists(out));

        Run missing = trm("data", "build", "--task", "maze", "--input", tmp.resolve("nope.csv").toString(), "--out", out.toString());
        assertNotEquals(0, missing.code());
        assertTrue(missing.err().contains("nope.csv"), missing.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void evalScoresArcPredictionsAndWritesTheSubmission() throws IOException {
        Path arc = tmp.resolve("tasks");
        Files.createDirectories(arc.resolve("training"));
        Files.createDirectories(arc.resolve("evaluation"));
        Files.writeString(arc.resolve("training/aaaa0000.json"), "{\"train\": [{\"input\": [[1, 2]], \"output\": [[2, 1]]}], \"test\": [{\"input\": [[3, 4]], \"output\": [[4, 3]]}]}");
        Files.writeString(arc.resolve("evaluation/bbbb0000.json"), "{\"train\": [{\"input\": [[1, 0]], \"output\": [[0, 1]]}], \"test\": [{\"input\": [[5, 0, 6]], \"output\": [[6, 0, 5]]}]}");
        Path out = tmp.resolve("ds");
        Run b = trm("data", "build", "--task", "arc", "--input", arc.resolve("training").toString(), "--test-input",
                arc.resolve("evaluation").toString(), "--augment", "4", "--out", out.toString());
        assertEquals(0, b.code(), b.err());
        // "predict" the label for every test example: a perfect model
        StringBuilder lines = new StringBuilder();
        try (Dataset test = Dataset.open(out, "test")) {
            for (long e = 0; e < test.exampleCount(); e++) {
                lines.append("{\"example\": ").append(e).append(", \"prediction\": ")
                        .append(dev.trm.data.Json.write(test.label(e))).append(", \"q_halt\": 2.0}\n");
            }
        }
        Path preds = tmp.resolve("preds.jsonl");
        Files.writeString(preds, lines);
        Path sub = tmp.resolve("submission.json");
        Path png = tmp.resolve("first.png");
        Run e = trm("data", "eval", out.toString(), "--predictions", preds.toString(), "--submission", sub.toString(), "--png", png.toString());
        assertEquals(0, e.code(), e.err());
        assertTrue(e.out().contains("pass@1 1.0000") && e.out().contains("pass@2 1.0000"), e.out());
        assertEquals("{\"bbbb0000\":[{\"attempt_1\":[[6,0,5]],\"attempt_2\":[[6,0,5]]}]}", Files.readString(sub).strip());
        assertTrue(Files.size(png) > 100);
    }

    @Test
    void renderShowsSourcePuzzlesAsTextAndPng() throws IOException {
        Path task = SharedData.file("arc-agi-1/training/007bbfb7.json");
        Path png = tmp.resolve("task.png");
        Run r = trm("data", "render", "--task", "arc", "--input", task.toString(), "--png", png.toString(), "--cell", "4");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("task 007bbfb7") && r.out().contains("train 1 input:\n077\n777\n077\n"), r.out());
        var img = javax.imageio.ImageIO.read(png.toFile());
        assertTrue(img.getHeight() > 6 * (9 * 4), "six pairs stacked: " + img.getHeight());
        Path mazes = tmp.resolve("m.csv");
        assertEquals(0, trm("data", "generate", "--task", "maze", "--size", "8", "--min-path", "12", "--count", "2", "--out", mazes.toString()).code());
        Run m = trm("data", "render", "--task", "maze", "--input", mazes.toString(), "--index", "1", "--png", tmp.resolve("m.png").toString());
        assertEquals(0, m.code(), m.err());
        assertTrue(m.out().contains("S") && m.out().contains("o"), m.out());
        Run bad = trm("data", "render", "--task", "maze", "--input", mazes.toString(), "--index", "5");
        assertNotEquals(0, bad.code());
        assertTrue(bad.err().contains("--index 5 outside 0..1"), bad.err());
    }

    @Test
    void helpListsTheSubcommands() {
        Run h = trm("data", "--help");
        assertEquals(0, h.code());
        for (String s : List.of("build", "generate", "show", "render", "eval")) assertTrue(h.out().contains(s), h.out());
    }
}
