package dev.trm.cli;

import dev.trm.data.DataException;
import dev.trm.data.Dataset;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.Json;
import dev.trm.data.TaskKind;
import dev.trm.eval.ArcEvaluator;
import dev.trm.eval.ArcMetrics;
import dev.trm.eval.EvalExample;
import dev.trm.eval.Evaluator;
import dev.trm.eval.Evaluators;
import dev.trm.eval.SequenceMetrics;
import dev.trm.render.ImageRender;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code trm data eval}: scores predictions saved as JSON lines against a dataset split, with the task's official
 * metrics; ARC also writes the Kaggle submission.json. Each predictions file is one evaluation pass.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {
            "Score saved predictions against a dataset split. Each line of a predictions file is a JSON object",
            "{\"example\": E, \"prediction\": [seq_len tokens], \"halt\": sigmoid(q_halt)} (or \"q_halt\": the logit).",
            "Several files are several evaluation passes; ARC votes are cleared between passes unless --accumulate-votes."})
public final class DataEvalCommand implements Runnable {
    @Parameters(index = "0", paramLabel = "DIR", description = "a folder written by `trm data build`")
    Path dir;

    @Option(names = "--predictions", required = true, arity = "1..*", paramLabel = "FILE", description = "JSON-lines predictions")
    List<Path> predictions;

    @Option(names = "--split", defaultValue = "test", description = "split the predictions refer to (default ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--submission", paramLabel = "FILE", description = "ARC: write the Kaggle submission.json here")
    Path submission;

    @Option(names = "--accumulate-votes", description = "ARC: keep votes across passes, as the official evaluator does (a known flaw)")
    boolean accumulate;

    @Option(names = "--png", paramLabel = "FILE", description = "ARC/Maze: PNG of input | prediction | truth for the first prediction")
    Path png;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter o = spec.commandLine().getOut();
        try (Dataset ds = Dataset.open(dir, split)) {
            DatasetMetadata m = ds.metadata();
            Evaluator<?> evaluator = Evaluators.forDataset(dir, ds, accumulate);
            Object result = null;
            boolean rendered = false;
            for (Path file : predictions) {
                evaluator.begin();
                long n = 0;
                try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                    String line;
                    int lineNo = 0;
                    while ((line = in.readLine()) != null) {
                        lineNo++;
                        if (line.isBlank()) continue;
                        EvalExample ex = parse(ds, line, file + ":" + lineNo);
                        evaluator.add(ex);
                        n++;
                        if (png != null && !rendered) {
                            render(m.task(), ex);
                            rendered = true;
                        }
                    }
                } catch (IOException e) {
                    throw new CliException(file + ": cannot read: " + e.getMessage());
                }
                result = evaluator.result();
                o.println(file + ": " + n + " predictions");
                print(o, result);
            }
            if (submission != null) {
                if (!(result instanceof ArcMetrics am)) throw new CliException("--submission applies to ARC only");
                ArcEvaluator.writeSubmission(am.submission(), submission);
                o.println("wrote " + submission);
            }
        }
    }

    private static EvalExample parse(Dataset ds, String line, String where) {
        Map<String, Object> obj;
        try {
            obj = Json.asObject(Json.parse(line), where);
        } catch (DataException e) {
            throw new DataException(where + ": " + e.getMessage());
        }
        long e = Json.asLong(Json.field(obj, "example", where), where + " example");
        if (e < 0 || e >= ds.exampleCount()) throw new DataException(where + ": example " + e + " outside the split");
        List<Object> p = Json.asList(Json.field(obj, "prediction", where), where + " prediction");
        if (p.size() != ds.seqLen()) throw new DataException(where + ": prediction has " + p.size() + " tokens, expected " + ds.seqLen());
        int[] pred = new int[p.size()];
        for (int i = 0; i < pred.length; i++) pred[i] = (int) Json.asLong(p.get(i), where + " prediction token");
        double halt;
        if (obj.containsKey("halt")) halt = Json.asDouble(obj.get("halt"), where + " halt");
        else if (obj.containsKey("q_halt")) halt = 1 / (1 + Math.exp(-Json.asDouble(obj.get("q_halt"), where + " q_halt")));
        else halt = 0;
        int puzzle = ds.puzzleOf(e);
        return new EvalExample(ds.puzzleIdentifier(puzzle), ds.input(e), ds.label(e), pred, halt);
    }

    private void render(TaskKind task, EvalExample ex) {
        if (task == TaskKind.SUDOKU) throw new CliException("--png: Sudoku renders as text only");
        ImageRender.writePng(ImageRender.sideBySide(List.of(ImageRender.tokens(task, ex.input(), 12),
                ImageRender.tokens(task, ex.prediction(), 12), ImageRender.tokens(task, ex.label(), 12)), 12), png);
    }

    static void print(PrintWriter o, Object result) {
        switch (result) {
            case SequenceMetrics s -> {
                o.printf("  examples %d, token accuracy %.4f, exact accuracy %.4f, mean halt confidence %.4f%n",
                        s.examples(), s.tokenAccuracy(), s.exactAccuracy(), s.meanHaltConfidence());
                if (!Double.isNaN(s.validShortestPathRate())) o.printf("  valid shortest paths %.4f%n", s.validShortestPathRate());
            }
            case ArcMetrics a -> {
                o.printf("  tasks %d, test inputs %d (answered %d), votes %d%n", a.scoredTasks(), a.testInputs(), a.answeredInputs(), a.votes());
                StringBuilder t = new StringBuilder("  per task: ");
                a.passAtK().forEach((k, v) -> t.append(String.format("pass@%d %.4f  ", k, v)));
                o.println(t.toString().stripTrailing());
                StringBuilder i = new StringBuilder("  per test input: ");
                a.passAtKPerInput().forEach((k, v) -> i.append(String.format("pass@%d %.4f  ", k, v)));
                o.println(i.toString().stripTrailing());
            }
            default -> o.println("  " + result);
        }
    }
}
