package dev.trm.cli;

import dev.trm.data.TaskKind;
import dev.trm.render.ImageRender;
import dev.trm.render.TextRender;
import dev.trm.task.arc.ArcPair;
import dev.trm.task.arc.ArcReader;
import dev.trm.task.arc.ArcTask;
import dev.trm.task.maze.Maze;
import dev.trm.task.maze.MazeReader;
import dev.trm.task.sudoku.SudokuPuzzle;
import dev.trm.task.sudoku.SudokuReader;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trm data render}: one puzzle from a source file as text, and as PNG for ARC and Maze. */
@Command(name = "render", mixinStandardHelpOptions = true,
        description = {"Render one puzzle of a source file: text on stdout; with --png, an image (ARC: one row per pair,",
            "input | output, in the standard ARC palette; Maze: question | answer)."})
public final class DataRenderCommand implements Runnable {
    @Option(names = "--task", required = true, paramLabel = "TASK", description = "sudoku, maze or arc")
    String task;

    @Option(names = "--input", required = true, paramLabel = "PATH", description = "a CSV / puzzle list, or an ARC task file or folder")
    Path input;

    @Option(names = "--index", paramLabel = "K", defaultValue = "0", description = "which puzzle or task (0-based, default 0)")
    int index;

    @Option(names = "--id", paramLabel = "TASK_ID", description = "ARC: the task id instead of --index")
    String id;

    @Option(names = "--png", paramLabel = "FILE", description = "write an image (ARC and Maze)")
    Path png;

    @Option(names = "--cell", paramLabel = "PX", defaultValue = "16", description = "pixels per cell (default ${DEFAULT-VALUE})")
    int cell;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter o = spec.commandLine().getOut();
        BufferedImage image = switch (TaskKind.parse(task)) {
            case SUDOKU -> {
                List<SudokuPuzzle> ps = SudokuReader.read(input);
                SudokuPuzzle p = ps.get(check(index, ps.size()));
                o.println(p.where() + (p.rating().isEmpty() ? "" : ", rating " + p.rating()));
                o.print(TextRender.sudoku(p.question(), p.shape()));
                if (p.answer() != null) {
                    o.println("answer:");
                    o.print(TextRender.sudoku(p.answer(), p.shape()));
                }
                if (png != null) throw new CliException("--png: Sudoku renders as text only");
                yield null;
            }
            case MAZE -> {
                List<Maze> ms = MazeReader.read(input);
                Maze m = ms.get(check(index, ms.size()));
                o.println(m.where() + (m.rating().isEmpty() ? "" : ", rating " + m.rating()));
                o.print(TextRender.maze(m.answer(), m.side()));
                yield ImageRender.sideBySide(List.of(ImageRender.maze(m.question(), m.side(), cell),
                        ImageRender.maze(m.answer(), m.side(), cell)), cell);
            }
            case ARC -> {
                List<ArcTask> tasks = ArcReader.read(input);
                ArcTask t = id == null ? tasks.get(check(index, tasks.size()))
                        : tasks.stream().filter(x -> x.id().equals(id)).findFirst()
                                .orElseThrow(() -> new CliException(input + ": no task " + id));
                o.println("task " + t.id() + " (" + t.where() + "): " + t.train().size() + " train, " + t.test().size() + " test pairs");
                List<BufferedImage> rows = new ArrayList<>();
                int k = 0;
                for (ArcPair p : concat(t.train(), t.test())) {
                    boolean isTest = k >= t.train().size();
                    o.println((isTest ? "test " + (k - t.train().size() + 1) : "train " + (k + 1)) + " input:");
                    o.print(TextRender.arc(p.input()));
                    List<BufferedImage> panels = new ArrayList<>(List.of(ImageRender.arc(p.input(), cell)));
                    if (p.output() != null) {
                        o.println("output:");
                        o.print(TextRender.arc(p.output()));
                        panels.add(ImageRender.arc(p.output(), cell));
                    }
                    rows.add(ImageRender.sideBySide(panels, cell));
                    k++;
                }
                yield ImageRender.stack(rows, cell);
            }
        };
        if (png != null && image != null) {
            ImageRender.writePng(image, png);
            o.println("wrote " + png);
        }
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static int check(int i, int size) {
        if (i < 0 || i >= size) throw new CliException("--index " + i + " outside 0.." + (size - 1));
        return i;
    }
}
