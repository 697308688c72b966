package dev.trm.task.sudoku;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.DataException;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SudokuGeneratorTest {

    private static int blanks(byte[] q) {
        int b = 0;
        for (byte v : q) if (v == 0) b++;
        return b;
    }

    @Test
    void smallBoardsHaveUniqueSolutionsAndTheRequestedBlanks() {
        for (int side : new int[] {4, 6, 9}) {
            SudokuShape shape = SudokuShape.ofSide(side);
            SudokuGenerator gen = new SudokuGenerator(shape, 7);
            SudokuSolver solver = new SudokuSolver(shape);
            SudokuGenerator.Difficulty d = SudokuGenerator.defaultDifficulty(shape);
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < (side == 9 ? 5 : 50); i++) {
                SudokuPuzzle p = gen.generate(d);
                assertEquals(d.blanks(), blanks(p.question()), shape + " blanks");
                assertTrue(SudokuVerifier.isSolvedGrid(shape, p.answer()));
                SudokuSolver.Result r = solver.solve(p.question(), 2);
                assertEquals(1, r.solutions(), "unique");
                assertArrayEquals(p.answer(), r.solution());
                for (int c = 0; c < p.question().length; c++) {
                    if (p.question()[c] != 0) assertEquals(p.answer()[c], p.question()[c], "givens come from the answer");
                }
                seen.add(SudokuTokens.text(p.question()));
            }
            assertTrue(seen.size() > (side == 9 ? 4 : 40), "puzzles differ: " + seen.size());
        }
    }

    @Test
    void difficultyControlsBlanksAndGuesses() {
        SudokuShape six = SudokuShape.ofSide(6);
        SudokuGenerator gen = new SudokuGenerator(six, 3);
        assertEquals(12, blanks(gen.generate(new SudokuGenerator.Difficulty(12, 0)).question()));
        SudokuPuzzle hard = new SudokuGenerator(SudokuShape.CLASSIC, 5).generate(new SudokuGenerator.Difficulty(54, 1));
        assertTrue(new SudokuSolver(SudokuShape.CLASSIC).solve(hard.question(), 1).guesses() >= 1);
        assertEquals(Long.parseLong(hard.rating()), new SudokuSolver(SudokuShape.CLASSIC).solve(hard.question(), 1).guesses());
        // A 4x4 needs at least 4 givens: 13 blanks cannot be unique.
        DataException e = assertThrows(DataException.class,
                () -> new SudokuGenerator(SudokuShape.ofSide(4), 1, 50).generate(new SudokuGenerator.Difficulty(13, 0)));
        assertTrue(e.getMessage().contains("could not generate"));
    }

    @Test
    void sameSeedSamePuzzles() {
        SudokuShape s = SudokuShape.ofSide(6);
        var d = SudokuGenerator.defaultDifficulty(s);
        assertArrayEquals(new SudokuGenerator(s, 11).generate(d).question(), new SudokuGenerator(s, 11).generate(d).question());
    }
}
