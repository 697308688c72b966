package dev.trm.cli;

import dev.trm.data.DataException;
import dev.trm.data.TaskKind;
import dev.trm.task.maze.Maze;
import dev.trm.task.maze.MazeGenerator;
import dev.trm.task.maze.MazeTokens;
import dev.trm.task.sudoku.SudokuGenerator;
import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuShape;
import dev.trm.task.sudoku.SudokuTokens;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trm data generate}: new puzzles in the CSV layout of the public sets ({@code source,question,answer,rating}). */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {
            "Generate distinct puzzles with verified answers and write them as source,question,answer,rating CSV.",
            "Sudoku: unique solutions; --size 4, 6 or 9; difficulty by --blanks and --min-guesses; rating = solver guesses.",
            "Maze: Searchformer-style random walls (30-50%%), kept when the shortest path is longer than --min-path steps",
            "(110 for 30x30, as Maze-Hard); rating = shortest path length in steps."})
public final class DataGenerateCommand implements Runnable {
    @Option(names = "--task", required = true, paramLabel = "TASK", description = "sudoku or maze")
    String task;

    @Option(names = "--count", required = true, paramLabel = "N", description = "how many puzzles")
    int count;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "the CSV file to write")
    Path out;

    @Option(names = "--size", paramLabel = "N", description = "board side: Sudoku 4, 6 or 9 (default 9); Maze 2..30 (default 30)")
    Integer size;

    @Option(names = "--blanks", paramLabel = "K", description = "Sudoku: blank cells per puzzle (default 10 / 22 / 50 for 4 / 6 / 9)")
    Integer blanks;

    @Option(names = "--min-guesses", paramLabel = "G", defaultValue = "0",
            description = "Sudoku: keep only puzzles the solver needs at least G guesses for (default 0)")
    long minGuesses;

    @Option(names = "--min-path", paramLabel = "L", description = "Maze: shortest path must be longer than L steps (default 110 for 30x30)")
    Integer minPath;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--force", description = "replace --out if it exists")
    boolean force;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (count <= 0) throw new CliException("--count must be positive");
        if (Files.exists(out) && !force) throw new CliException(out + ": already exists (pass --force to replace it)");
        TaskKind kind = TaskKind.parse(task);
        long t0 = System.nanoTime();
        List<String> rows = switch (kind) {
            case SUDOKU -> sudoku();
            case MAZE -> maze();
            case ARC -> throw new CliException("generate supports sudoku and maze (ARC tasks come from the public sets)");
        };
        write(rows);
        PrintWriter o = spec.commandLine().getOut();
        o.printf("wrote %d %s puzzles to %s in %.1f s%n", rows.size(), kind.cliName(), out, (System.nanoTime() - t0) / 1e9);
    }

    private List<String> sudoku() {
        SudokuShape shape = SudokuShape.ofSide(size == null ? 9 : size);
        SudokuGenerator.Difficulty d = new SudokuGenerator.Difficulty(
                blanks == null ? SudokuGenerator.defaultDifficulty(shape).blanks() : blanks, minGuesses);
        return distinct(i -> {
            SudokuPuzzle p = new SudokuGenerator(shape, mix(i), 2_000).generate(d);
            return new String[] {SudokuTokens.text(p.question()), p.source() + "," + SudokuTokens.text(p.question()) + ","
                    + SudokuTokens.text(p.answer()) + "," + p.rating()};
        });
    }

    private List<String> maze() {
        int side = size == null ? 30 : size;
        int threshold = minPath == null ? MazeGenerator.defaultMinSteps(side) : minPath;
        return distinct(i -> {
            Maze m = new MazeGenerator(side, threshold, mix(i)).generate(1_000_000);
            String q = MazeTokens.text(m.question());
            return new String[] {q, m.source() + "," + q + "," + MazeTokens.text(m.answer()) + "," + m.rating()};
        });
    }

    private long mix(long i) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + i).nextLong();
    }

    /** Generates in parallel batches, keeping the first occurrence of each question, until count are found. */
    private List<String> distinct(java.util.function.LongFunction<String[]> make) {
        Set<String> questions = new LinkedHashSet<>();
        List<String> rows = new ArrayList<>();
        long next = 0;
        int rounds = 0;
        while (rows.size() < count) {
            if (++rounds > 50) throw new DataException("only " + rows.size() + " distinct puzzles found; this size/difficulty has too few");
            int want = count - rows.size();
            List<String[]> batch = LongStream.range(next, next + want).parallel().mapToObj(make).toList();
            next += want;
            for (String[] r : batch) if (rows.size() < count && questions.add(r[0])) rows.add(r[1]);
        }
        return rows;
    }

    private void write(List<String> rows) {
        try {
            Path abs = out.toAbsolutePath();
            Files.createDirectories(abs.getParent());
            Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            try {
                List<String> lines = new ArrayList<>(rows.size() + 1);
                lines.add("source,question,answer,rating");
                lines.addAll(rows);
                Files.write(tmp, lines, StandardCharsets.UTF_8);
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new CliException(out + ": cannot write: " + e.getMessage());
        }
    }
}
