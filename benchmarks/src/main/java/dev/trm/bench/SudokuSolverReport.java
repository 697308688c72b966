package dev.trm.bench;

import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuReader;
import dev.trm.task.sudoku.SudokuShape;
import dev.trm.task.sudoku.SudokuSolver;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.List;

/**
 * Solver throughput on each hardest-Sudoku file, per wall second and per CPU second of the solving thread (the second
 * figure is what a quiet core would give on a shared, loaded machine). Each puzzle is solved and its solution proved
 * unique. {@code TRM_BENCH_MAIN=dev.trm.bench.SudokuSolverReport scripts/jmh [rounds]}
 */
public final class SudokuSolverReport {
    private SudokuSolverReport() {}

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        SudokuSolver solver = new SudokuSolver(SudokuShape.CLASSIC);
        for (String set : List.of("puzzles6_forum_hardest_1106", "puzzles3_magictour_top1465", "puzzles5_forum_hardest_1905_11+")) {
            List<SudokuPuzzle> puzzles = SudokuReader.read(SharedData.find().resolve("sudoku").resolve(set));
            for (int round = 0; round <= rounds; round++) {
                long wall0 = System.nanoTime(), cpu0 = mx.getCurrentThreadCpuTime(), guesses = 0;
                for (SudokuPuzzle p : puzzles) {
                    SudokuSolver.Result r = solver.solve(p.question(), 2);
                    if (r.solutions() != 1) throw new AssertionError(p.where() + ": not unique");
                    guesses += r.guesses();
                }
                double wall = (System.nanoTime() - wall0) / 1e9, cpu = (mx.getCurrentThreadCpuTime() - cpu0) / 1e9;
                if (round == 0) continue; // warm-up
                System.out.printf("%-34s round %d: %6d puzzles, %8.0f /s wall, %8.0f /s CPU, %6.1f guesses per puzzle%n",
                        set, round, puzzles.size(), puzzles.size() / wall, puzzles.size() / cpu, (double) guesses / puzzles.size());
            }
        }
    }
}
