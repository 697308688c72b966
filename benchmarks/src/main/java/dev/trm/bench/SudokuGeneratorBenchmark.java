package dev.trm.bench;

import dev.trm.task.sudoku.SudokuGenerator;
import dev.trm.task.sudoku.SudokuShape;
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
 * Generator throughput at each board size's default difficulty (4x4: 10 blanks, 6x6: 22, 9x9: 50), unique solutions
 * guaranteed: puzzles per second on one thread. {@code scripts/jmh SudokuGeneratorBenchmark}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Thread)
public class SudokuGeneratorBenchmark {
    @Param({"4", "6", "9"})
    public int side;

    private SudokuGenerator generator;
    private SudokuGenerator.Difficulty difficulty;

    @Setup(Level.Trial)
    public void setUp() {
        SudokuShape shape = SudokuShape.ofSide(side);
        generator = new SudokuGenerator(shape, 1);
        difficulty = SudokuGenerator.defaultDifficulty(shape);
    }

    @Benchmark
    public byte[] generate() {
        return generator.generate(difficulty).question();
    }
}
