package dev.trm.bench;

import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuReader;
import dev.trm.task.sudoku.SudokuShape;
import dev.trm.task.sudoku.SudokuSolver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Exact-solver throughput on the hardest public Sudoku collections (shared/data/sudoku, found next to the repository):
 * each operation proves one puzzle's solution unique (search to a second solution), cycling through the set, so the
 * score is puzzles per second on one thread. {@code scripts/jmh SudokuSolverBenchmark}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Thread)
public class SudokuSolverBenchmark {
    @Param({"puzzles6_forum_hardest_1106", "puzzles3_magictour_top1465", "puzzles5_forum_hardest_1905_11+"})
    public String set;

    private byte[][] puzzles;
    private SudokuSolver solver;
    private int next;

    @Setup(Level.Trial)
    public void load() {
        Path file = SharedData.find().resolve("sudoku").resolve(set);
        if (!Files.isRegularFile(file)) throw new IllegalStateException(file + " not found");
        List<SudokuPuzzle> list = SudokuReader.read(file);
        puzzles = list.stream().map(SudokuPuzzle::question).toArray(byte[][]::new);
        solver = new SudokuSolver(SudokuShape.CLASSIC);
    }

    @Benchmark
    public int solveAndProveUnique() {
        byte[] p = puzzles[next];
        next = (next + 1) % puzzles.length;
        SudokuSolver.Result r = solver.solve(p, 2);
        if (r.solutions() != 1) throw new AssertionError("not unique");
        return r.solution()[0];
    }
}
