package dev.trm.task.sudoku;

import dev.trm.data.DataException;
import java.util.SplittableRandom;

/**
 * Generates puzzles with a unique solution: a random full grid (the solver with random value order on an empty board),
 * then cells are blanked in random order, each kept blank only if the solution stays unique, until the target number
 * of blanks is reached.
 *
 * <p>Difficulty control: {@code blanks} (more blanks is harder; the most a board reaches by digging is about 12 of 16
 * on 4x4, 26 of 36 on 6x6 and 55-60 of 81 on 9x9) and {@code minGuesses}, the least number of search guesses the
 * solver must need (0 = any; puzzles solvable by singles alone need none). A grid that cannot reach the target is
 * discarded and a new one drawn.
 */
public final class SudokuGenerator {
    /** The difficulty target: exact number of blank cells, and the least solver guesses the puzzle must need. */
    public record Difficulty(int blanks, long minGuesses) {}

    private final SudokuShape shape;
    private final SudokuSolver solver;
    private final SplittableRandom random;
    private final int maxAttempts;

    public SudokuGenerator(SudokuShape shape, long seed) {
        this(shape, seed, 10_000);
    }

    public SudokuGenerator(SudokuShape shape, long seed, int maxAttempts) {
        this.shape = shape;
        this.solver = new SudokuSolver(shape);
        this.random = new SplittableRandom(seed);
        this.maxAttempts = maxAttempts;
    }

    /** A default difficulty per size: about as many blanks as digging reliably reaches. */
    public static Difficulty defaultDifficulty(SudokuShape shape) {
        return switch (shape.side()) {
            case 4 -> new Difficulty(10, 0);
            case 6 -> new Difficulty(22, 0);
            default -> new Difficulty(50, 0);
        };
    }

    /** A random complete grid. */
    public byte[] fullGrid() {
        SudokuSolver.Result r = solver.solve(new byte[shape.cells()], 1, random);
        return r.solution();
    }

    /** One puzzle at the difficulty; the answer is its unique solution, rating is the solver's guess count. */
    public SudokuPuzzle generate(Difficulty d) {
        if (d.blanks() < 0 || d.blanks() >= shape.cells()) {
            throw new DataException("blanks must be 0.." + (shape.cells() - 1) + " for " + shape + ", got " + d.blanks());
        }
        int cells = shape.cells();
        for (int attempt = 0; attempt < maxAttempts; attempt++) {
            byte[] solution = fullGrid();
            byte[] puzzle = solution.clone();
            int[] order = new int[cells];
            for (int i = 0; i < cells; i++) order[i] = i;
            for (int i = cells - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = order[i]; order[i] = order[j]; order[j] = t;
            }
            int blanks = 0;
            for (int i = 0; i < cells && blanks < d.blanks(); i++) {
                int cell = order[i];
                byte keep = puzzle[cell];
                puzzle[cell] = 0;
                if (solver.hasUniqueSolution(puzzle)) blanks++; else puzzle[cell] = keep;
            }
            if (blanks < d.blanks()) continue;
            long guesses = solver.solve(puzzle, 1).guesses();
            if (guesses < d.minGuesses()) continue;
            return new SudokuPuzzle("trm-generator-" + shape, shape, puzzle, solution, Long.toString(guesses), "generated");
        }
        throw new DataException("could not generate a " + shape + " puzzle with " + d.blanks() + " blanks and at least "
                + d.minGuesses() + " guesses in " + maxAttempts + " attempts; ask for fewer blanks or guesses");
    }
}
