package dev.trm.task.sudoku;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.testing.SharedData;
import java.util.List;
import org.junit.jupiter.api.Test;

class SudokuSolverTest {

    @Test
    void solvesTheHardestPuzzlesToTheirKnownUniqueSolution() {
        List<SudokuPuzzle> puzzles = SudokuReader.read(SharedData.file("sudoku/puzzles6_forum_hardest_1106.solved.csv"));
        assertEquals(375, puzzles.size());
        SudokuSolver solver = new SudokuSolver(SudokuShape.CLASSIC);
        for (SudokuPuzzle p : puzzles) {
            SudokuSolver.Result r = solver.solve(p.question(), 2);
            assertEquals(1, r.solutions(), p.where());
            assertArrayEquals(p.answer(), r.solution(), p.where());
        }
    }

    @Test
    void plainListsReadWithCommentsAndMatchTheSolvedCsv() {
        List<SudokuPuzzle> plain = SudokuReader.read(SharedData.file("sudoku/puzzles3_magictour_top1465"));
        List<SudokuPuzzle> solved = SudokuReader.read(SharedData.file("sudoku/puzzles3_magictour_top1465.solved.csv"));
        assertEquals(1465, plain.size());
        assertEquals(1465, solved.size());
        SudokuVerifier verifier = new SudokuVerifier(SudokuShape.CLASSIC);
        for (int i = 0; i < 200; i++) {
            assertArrayEquals(solved.get(i).question(), plain.get(i).question());
            assertNull(plain.get(i).answer());
            assertArrayEquals(solved.get(i).answer(), verifier.verify(plain.get(i)).answer(), "labelled by the solver");
        }
    }

    @Test
    void countsMultipleSolutionsAndDetectsContradictions() {
        SudokuSolver solver = new SudokuSolver(SudokuShape.CLASSIC);
        assertEquals(2, solver.solve(new byte[81], 2).solutions(), "empty board: many solutions, capped at the limit");
        byte[] bad = new byte[81];
        bad[0] = 5;
        bad[1] = 5;
        assertEquals(0, solver.solve(bad, 2).solutions());
        // a digit forced out of every place in a row: givens consistent pairwise but unsolvable
        byte[] dead = new byte[81];
        for (int c = 1; c < 9; c++) dead[c] = (byte) c; // row 0: 1..8 in columns 1..8, so cell 0 must be 9
        dead[9 * 4] = 9; // but 9 sits in column 0 lower down
        assertEquals(0, solver.solve(dead, 2).solutions());
    }

    @Test
    void smallBoardsSolve() {
        for (int side : new int[] {4, 6}) {
            SudokuShape shape = SudokuShape.ofSide(side);
            SudokuSolver solver = new SudokuSolver(shape);
            SudokuSolver.Result r = solver.solve(new byte[shape.cells()], 1);
            assertTrue(SudokuVerifier.isSolvedGrid(shape, r.solution()));
        }
        // 4x4 grids: 288 in all; the solver must count exactly that many
        assertEquals(288, new SudokuSolver(SudokuShape.ofSide(4)).solve(new byte[16], 1000).solutions());
    }
}
