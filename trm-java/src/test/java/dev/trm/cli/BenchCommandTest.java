package dev.trm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code trm bench train|solve} on the CPU, shrunk with --cycles to seconds: the per-op profile is printed before the
 * contract's last line, which stays {@code train_step_ms=} / {@code solve_ms_batch<B>=} for the first batch size.
 */
class BenchCommandTest {
    private record Run(int rc, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(rc, out.toString(), err.toString());
    }

    private static boolean hasRow(String out, String op) {
        return out.lines().anyMatch(l -> l.startsWith(op + " "));
    }

    @Test
    void benchSolveProfilesOneSolvePerSizeAndEndsWithTheFirstSizesLatency() {
        Run r = run("bench", "solve", "--preset", "sudoku-extreme-mlp", "--batch", "1,2", "--repeats", "1",
                "--cycles", "1,1", "--profile");
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("profile of one solve of 1 puzzles, step by step (wall time per op)"), r.out());
        assertTrue(r.out().contains("profile of one solve of 2 puzzles"), r.out());
        // 16 supervision steps of T (n + 1) = 2 net calls, 2 blocks each: 64 channel-MLP calls per solve
        assertTrue(r.out().lines().anyMatch(l -> l.matches("linearSwiglu +[0-9.]+ +64 .*")), r.out());
        assertTrue(hasRow(r.out(), "total"), r.out());
        List<String> lines = r.out().strip().lines().toList();
        assertTrue(lines.getLast().startsWith("solve_ms_batch1="), lines.getLast());
    }

    @Test
    void benchTrainProfileOnTheCpuTimesTheTimedStepsThemselves() {
        Run r = run("bench", "train", "--preset", "sudoku-extreme-mlp", "--batch", "1", "--steps", "1", "--warmup", "0",
                "--cycles", "1,1", "--profile");
        assertEquals(0, r.rc(), r.err());
        assertTrue(hasRow(r.out(), "linearBackward") && hasRow(r.out(), "tokenMixNorm"), r.out());
        assertTrue(!r.out().contains("eager steps (no graph)"), "the CPU has no graph to leave: " + r.out());
        List<String> lines = r.out().strip().lines().toList();
        assertTrue(lines.getLast().startsWith("train_step_ms="), lines.getLast());
    }

    @Test
    void badCyclesAreOneClearError() {
        Run r = run("bench", "solve", "--cycles", "0,1");
        assertEquals(1, r.rc());
        assertTrue(r.err().contains("--cycles takes T,n >= 1"), r.err());
    }
}
