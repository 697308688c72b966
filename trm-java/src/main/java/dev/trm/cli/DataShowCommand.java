package dev.trm.cli;

import dev.trm.data.Dataset;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.TaskKind;
import dev.trm.render.ImageRender;
import dev.trm.render.TextRender;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code trm data show}: a dataset's metadata and examples as text, optionally a PNG of input | label. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Print a built dataset's metadata and render examples as text (and, for ARC and Maze, as PNG).")
public final class DataShowCommand implements Runnable {
    @Parameters(index = "0", paramLabel = "DIR", description = "a folder written by `trm data build`")
    Path dir;

    @Option(names = "--split", defaultValue = "train", description = "train or test (default ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--example", paramLabel = "E", description = "example indices to render (default: the first)")
    List<Long> examples = new ArrayList<>();

    @Option(names = "--png", paramLabel = "FILE", description = "write input | label of the first chosen example as PNG")
    Path png;

    @Option(names = "--verify", description = "re-hash the arrays and compare with the recorded fingerprint")
    boolean verify;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter o = spec.commandLine().getOut();
        try (Dataset ds = Dataset.open(dir, split)) {
            DatasetMetadata m = ds.metadata();
            o.printf("%s %s: task %s, vocab %d, seq_len %d, pad %d, ignore label %d, blank identifier %d%n", dir, split,
                    m.task().cliName(), m.vocabSize(), m.seqLen(), m.padId(), m.ignoreLabelId(), m.blankIdentifierId());
            o.printf("%,d groups, %,d puzzles, %,d examples (%.4f per puzzle), %,d identifiers%n", m.totalGroups(),
                    m.totalPuzzles(), m.totalExamples(), m.meanPuzzleExamples(), m.numPuzzleIdentifiers());
            o.println("fingerprint " + m.fingerprint());
            if (verify) {
                boolean ok = ds.verifyFingerprint();
                o.println("fingerprint check: " + (ok ? "ok" : "MISMATCH"));
                if (!ok) throw new CliException(dir + ": content does not match its fingerprint");
            }
            if (examples.isEmpty()) examples.add(0L);
            for (long e : examples) {
                if (e < 0 || e >= ds.exampleCount()) throw new CliException("--example " + e + " outside 0.." + (ds.exampleCount() - 1));
                int puzzle = ds.puzzleOf(e);
                int id = ds.puzzleIdentifier(puzzle);
                o.printf("%nexample %d: puzzle %d, identifier %d (%s)%n", e, puzzle, id, ds.identifierName(id));
                o.println("input:");
                o.print(TextRender.tokens(m.task(), ds.input(e)));
                o.println("label:");
                o.print(TextRender.tokens(m.task(), ds.label(e)));
            }
            if (png != null) {
                if (m.task() == TaskKind.SUDOKU) throw new CliException("--png: Sudoku renders as text only");
                long e = examples.get(0);
                BufferedImage img = ImageRender.sideBySide(List.of(ImageRender.tokens(m.task(), ds.input(e), 12),
                        ImageRender.tokens(m.task(), ds.label(e), 12)), 12);
                ImageRender.writePng(img, png);
                o.println("wrote " + png);
            }
        }
    }
}
