package dev.trm.task.sudoku;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.testing.SharedData;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SudokuAugmentationTest {

    @Test
    void shufflesKeepPuzzlesValidAndSolutionsSolutions() {
        List<SudokuPuzzle> puzzles = SudokuReader.read(SharedData.file("sudoku/puzzles6_forum_hardest_1106.solved.csv"));
        SudokuSolver solver = new SudokuSolver(SudokuShape.CLASSIC);
        SplittableRandom rnd = new SplittableRandom(1);
        int transposed = 0;
        for (int i = 0; i < 60; i++) {
            SudokuPuzzle p = puzzles.get(i);
            SudokuAugmentation a = SudokuAugmentation.random(SudokuShape.CLASSIC, rnd);
            if (a.transpose()) transposed++;
            byte[] q = a.apply(p.question());
            byte[] s = a.apply(p.answer());
            assertEquals(p.givens(), new SudokuPuzzle("", SudokuShape.CLASSIC, q, s, "", "").givens(), "blanks stay blank");
            assertTrue(SudokuVerifier.isSolvedGrid(SudokuShape.CLASSIC, s));
            SudokuSolver.Result r = solver.solve(q, 2);
            assertEquals(1, r.solutions());
            assertArrayEquals(s, r.solution(), "the shuffled solution is the shuffled puzzle's unique solution");
        }
        assertTrue(transposed > 10 && transposed < 50, "transpose with p = 0.5: " + transposed);
    }

    @Test
    void bandsAndStacksMoveAsBlocks() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < 100; i++) {
            SudokuAugmentation a = SudokuAugmentation.random(SudokuShape.CLASSIC, rnd);
            int[] m = a.cellMap();
            for (int r = 0; r < 9; r++) {
                int srcRow = m[r * 9] / 9;
                // rows of one output band come from one input band
                assertEquals(m[(r / 3) * 27] / 27, srcRow / 3);
            }
        }
        SudokuShape six = SudokuShape.ofSide(6);
        for (int i = 0; i < 50; i++) assertFalse(SudokuAugmentation.random(six, rnd).transpose(), "2x3 boxes cannot be transposed");
        SudokuGenerator gen = new SudokuGenerator(six, 2);
        SudokuPuzzle p = gen.generate(SudokuGenerator.defaultDifficulty(six));
        SudokuAugmentation a = SudokuAugmentation.random(six, rnd);
        assertTrue(SudokuVerifier.isSolvedGrid(six, a.apply(p.answer())));
        assertTrue(new SudokuSolver(six).hasUniqueSolution(a.apply(p.question())));
    }
}
