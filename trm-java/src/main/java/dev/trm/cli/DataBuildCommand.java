package dev.trm.cli;

import dev.trm.data.DataException;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.DatasetOutput;
import dev.trm.data.OfficialImport;
import dev.trm.data.TaskKind;
import dev.trm.task.arc.ArcDatasetBuilder;
import dev.trm.task.arc.ArcReader;
import dev.trm.task.arc.ArcTask;
import dev.trm.task.maze.Maze;
import dev.trm.task.maze.MazeDatasetBuilder;
import dev.trm.task.maze.MazeReader;
import dev.trm.task.sudoku.SudokuDatasetBuilder;
import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuReader;
import dev.trm.task.sudoku.SudokuVerifier;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trm data build}: real files (or an official .npy build) in, one memory-mappable dataset folder out. */
@Command(name = "build", mixinStandardHelpOptions = true,
        description = {
            "Build a dataset folder from Sudoku CSV/plain lists, Maze CSVs or ARC JSON, or import an official .npy build.",
            "Sudoku/Maze: --input files go to train (augmented), --test-input files to test (not augmented).",
            "ARC: --input tasks put all their pairs into train; --test-input (evaluation) tasks put their demonstration",
            "pairs into train and their test pairs into test, under the same puzzle identifiers.",
            "Import: --input one folder in the official layout (identifiers.json, train/ and test/ with all__*.npy).",
            "The folder is written to a temporary place and moved into --out only when everything succeeded."})
public final class DataBuildCommand implements Runnable {
    @Option(names = "--task", paramLabel = "TASK", description = "sudoku, maze or arc (optional for an official import)")
    String task;

    @Option(names = "--input", arity = "1..*", required = true, paramLabel = "PATH", description = "training sources")
    List<Path> inputs = new ArrayList<>();

    @Option(names = "--test-input", arity = "1..*", paramLabel = "PATH",
            description = "test sources (ARC: the evaluation tasks, e.g. arc-agi-1/evaluation)")
    List<Path> testInputs = new ArrayList<>();

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the dataset folder to create")
    Path out;

    @Option(names = "--augment", paramLabel = "N", defaultValue = "0",
            description = "augmented versions per training puzzle (Sudoku shuffles; Maze dihedral, at most 7; ARC versions, 1000 in the paper). Default ${DEFAULT-VALUE}")
    int augment;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--limit", paramLabel = "N", description = "Sudoku/Maze: keep N random training puzzles (the '1k' subsets)")
    Integer limit;

    @Option(names = "--no-translate", description = "ARC: no random translation of training examples")
    boolean noTranslate;

    @Option(names = "--force", description = "replace --out if it exists")
    boolean force;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter o = spec.commandLine().getOut();
        if (augment < 0) throw new CliException("--augment must be >= 0");
        long t0 = System.nanoTime();
        if (inputs.size() == 1 && OfficialImport.looksOfficial(inputs.get(0))) {
            if (!testInputs.isEmpty()) throw new CliException("--test-input does not apply to an official import");
            try (DatasetOutput output = DatasetOutput.create(out, force)) {
                List<DatasetMetadata> metas = OfficialImport.importDataset(inputs.get(0), task == null ? null : TaskKind.parse(task), output);
                o.println("imported official dataset " + inputs.get(0));
                print(o, metas, t0);
            }
            return;
        }
        if (task == null) throw new CliException("--task is required (sudoku, maze or arc)");
        TaskKind kind = TaskKind.parse(task);
        try (DatasetOutput output = DatasetOutput.create(out, force)) {
            List<DatasetMetadata> metas = switch (kind) {
                case SUDOKU -> buildSudoku(o, output);
                case MAZE -> buildMaze(o, output);
                case ARC -> buildArc(o, output);
            };
            print(o, metas, t0);
        }
    }

    private List<DatasetMetadata> buildSudoku(PrintWriter o, DatasetOutput output) {
        List<SudokuPuzzle> train = verify(subsample(readSudoku(inputs))); // subsample first: verifying 3.8M rows takes minutes
        List<SudokuPuzzle> test = verify(readSudoku(testInputs));
        o.println("sudoku: " + train.size() + " training puzzles (+" + augment + " shuffles each), " + test.size()
                + " test puzzles; all verified to have a unique solution");
        return SudokuDatasetBuilder.build(train, test, augment, seed, output);
    }

    private static List<SudokuPuzzle> readSudoku(List<Path> files) {
        List<SudokuPuzzle> all = new ArrayList<>();
        for (Path f : files) all.addAll(SudokuReader.read(f));
        return all;
    }

    /** Verifies (and labels) in parallel; the first bad puzzle in file order is the one reported. */
    private static List<SudokuPuzzle> verify(List<SudokuPuzzle> puzzles) {
        if (puzzles.isEmpty()) return puzzles;
        ThreadLocal<SudokuVerifier> verifiers = ThreadLocal.withInitial(() -> new SudokuVerifier(puzzles.get(0).shape()));
        Object[] results = IntStream.range(0, puzzles.size()).parallel().mapToObj(i -> {
            SudokuPuzzle p = puzzles.get(i);
            if (!p.shape().equals(puzzles.get(0).shape())) {
                return new DataException(p.where() + ": a " + p.shape() + " puzzle among " + puzzles.get(0).shape() + " puzzles");
            }
            try {
                return (Object) verifiers.get().verify(p);
            } catch (DataException e) {
                return e;
            }
        }).toArray();
        List<SudokuPuzzle> out = new ArrayList<>(results.length);
        for (Object r : results) {
            if (r instanceof DataException e) throw e;
            out.add((SudokuPuzzle) r);
        }
        return out;
    }

    private <T> List<T> subsample(List<T> all) {
        if (limit == null || limit >= all.size()) return all;
        if (limit <= 0) throw new CliException("--limit must be positive");
        List<T> copy = new ArrayList<>(all);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < limit; i++) {
            int j = i + rnd.nextInt(copy.size() - i);
            T t = copy.get(i); copy.set(i, copy.get(j)); copy.set(j, t);
        }
        return new ArrayList<>(copy.subList(0, limit));
    }

    private List<DatasetMetadata> buildMaze(PrintWriter o, DatasetOutput output) {
        List<Maze> train = new ArrayList<>();
        for (Path f : inputs) train.addAll(MazeReader.read(f));
        train = subsample(train);
        List<Maze> test = new ArrayList<>();
        for (Path f : testInputs) test.addAll(MazeReader.read(f));
        o.println("maze: " + train.size() + " training mazes (+" + Math.min(augment, 7) + " dihedral each), " + test.size()
                + " test mazes; every labelled path verified shortest by BFS");
        return MazeDatasetBuilder.build(train, test, augment, seed, output);
    }

    private List<DatasetMetadata> buildArc(PrintWriter o, DatasetOutput output) {
        if (limit != null) throw new CliException("--limit applies to Sudoku and Maze only");
        List<ArcTask> train = new ArrayList<>();
        for (Path p : inputs) train.addAll(ArcReader.read(p));
        List<ArcTask> eval = new ArrayList<>();
        for (Path p : testInputs) eval.addAll(ArcReader.read(p));
        o.println("arc: " + train.size() + " training tasks, " + eval.size() + " evaluation tasks, up to " + augment
                + " augmented versions each" + (noTranslate ? ", no translation" : ", translated training examples"));
        ArcDatasetBuilder.Report r = ArcDatasetBuilder.build(train, eval, new ArcDatasetBuilder.Options(augment, seed, !noTranslate), output);
        if (augment > 0) o.println("groups with fewer than " + augment + " distinct augmentations: " + r.partialGroups());
        return r.splits();
    }

    private void print(PrintWriter o, List<DatasetMetadata> metas, long t0) {
        for (DatasetMetadata m : metas) {
            o.printf("%s: %,d groups, %,d puzzles, %,d examples (%.3f per puzzle), vocab %d, seq_len %d%n", m.split(),
                    m.totalGroups(), m.totalPuzzles(), m.totalExamples(), m.meanPuzzleExamples(), m.vocabSize(), m.seqLen());
            o.println("  fingerprint " + m.fingerprint());
        }
        if (!metas.isEmpty()) o.printf("identifiers: %,d (including <blank>)%n", metas.get(0).numPuzzleIdentifiers());
        o.printf("wrote %s in %.1f s%n", out, (System.nanoTime() - t0) / 1e9);
    }
}
