package dev.trm.eval;

import dev.trm.data.DataException;
import dev.trm.data.Json;
import dev.trm.task.arc.ArcAugmentation;
import dev.trm.task.arc.ArcGrid;
import dev.trm.task.arc.ArcPair;
import dev.trm.task.arc.ArcTask;
import dev.trm.task.arc.ArcTokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The ARC test protocol (spec 6.5, TRM's {@code evaluators/arc.py}): each prediction is cropped to its largest
 * top-left rectangle of colour tokens, its augmentation (from the identifier name) is undone, and it becomes a vote for
 * (task, original test input). Per test input the distinct answers are ranked by vote count, then by mean halting
 * confidence; pass@k asks whether the truth is among the top k; the top 2 are the submission's attempts.
 *
 * <p>The official evaluator never clears its votes between evaluations ({@code aggregated_voting}), so late scores
 * silently ensemble earlier checkpoints. Here {@link #begin} clears them unless {@code accumulateAcrossEvaluations} is
 * set explicitly.
 */
public final class ArcEvaluator implements Evaluator<ArcMetrics> {
    public static final int[] DEFAULT_KS = {1, 2, 5, 10, 100, 1000};

    /** @param accumulateAcrossEvaluations keep votes from earlier passes (the official, flawed default) */
    public record Options(int[] ks, boolean accumulateAcrossEvaluations) {
        public static Options standard() {
            return new Options(DEFAULT_KS, false);
        }
    }

    /** One distinct answer's tally. */
    private static final class Tally {
        final ArcGrid answer;
        long count;
        double confidenceSum;

        Tally(ArcGrid answer) {
            this.answer = answer;
        }

        double meanConfidence() {
            return confidenceSum / count;
        }
    }

    private final List<String> identifiers;
    private final List<ArcTask> testTasks;
    private final Options options;
    private final Map<String, Map<ArcGrid, Map<ArcGrid, Tally>>> votes = new HashMap<>();
    private long voteCount;

    public ArcEvaluator(List<String> identifiers, List<ArcTask> testTasks, Options options) {
        this.identifiers = identifiers;
        this.testTasks = testTasks;
        this.options = options;
    }

    @Override
    public void begin() {
        if (!options.accumulateAcrossEvaluations()) {
            votes.clear();
            voteCount = 0;
        }
    }

    @Override
    public void add(EvalExample e) {
        if (e.puzzleIdentifier() == 0) return; // the blank identifier pads short batches
        if (e.puzzleIdentifier() < 0 || e.puzzleIdentifier() >= identifiers.size()) {
            throw new DataException("puzzle identifier " + e.puzzleIdentifier() + " outside the dataset's " + identifiers.size());
        }
        String name = identifiers.get(e.puzzleIdentifier());
        ArcAugmentation aug = ArcAugmentation.parse(name);
        ArcGrid input = aug.invert(ArcTokens.crop(e.input()));
        ArcGrid answer = aug.invert(ArcTokens.crop(e.prediction()));
        Tally t = votes.computeIfAbsent(ArcAugmentation.taskOf(name), k -> new HashMap<>())
                .computeIfAbsent(input, k -> new HashMap<>())
                .computeIfAbsent(answer, Tally::new);
        t.count++;
        t.confidenceSum += e.haltConfidence();
        voteCount++;
    }

    /** Distinct answers for a test input, best first: most votes, then highest mean halting confidence. */
    public List<ArcGrid> ranked(String taskId, ArcGrid input) {
        Map<ArcGrid, Tally> tallies = votes.getOrDefault(taskId, Map.of()).getOrDefault(input, Map.of());
        List<Tally> list = new ArrayList<>(tallies.values());
        list.sort(Comparator.comparingLong((Tally t) -> t.count).thenComparingDouble(Tally::meanConfidence).reversed());
        return list.stream().map(t -> t.answer).toList();
    }

    @Override
    public ArcMetrics result() {
        int[] ks = options.ks();
        double[] taskSum = new double[ks.length];
        long[] inputHits = new long[ks.length];
        int scoredTasks = 0, inputs = 0, answered = 0;
        Map<String, Object> submission = new LinkedHashMap<>();
        for (ArcTask task : testTasks) {
            List<Object> attempts = new ArrayList<>();
            boolean known = task.test().stream().allMatch(p -> p.output() != null);
            int[] hits = new int[ks.length];
            for (ArcPair p : task.test()) {
                List<ArcGrid> ranked = ranked(task.id(), p.input());
                if (!ranked.isEmpty()) answered++;
                Map<String, Object> a = new LinkedHashMap<>();
                int[][] first = ranked.isEmpty() ? new int[][] {{0}} : ranked.get(0).toRows();
                a.put("attempt_1", first);
                a.put("attempt_2", ranked.size() > 1 ? ranked.get(1).toRows() : first);
                attempts.add(a);
                if (!known) continue;
                int rank = ranked.indexOf(p.output());
                for (int i = 0; i < ks.length; i++) if (rank >= 0 && rank < ks[i]) hits[i]++;
            }
            submission.put(task.id(), attempts);
            if (!known) continue;
            scoredTasks++;
            inputs += task.test().size();
            for (int i = 0; i < ks.length; i++) {
                taskSum[i] += (double) hits[i] / task.test().size();
                inputHits[i] += hits[i];
            }
        }
        SortedMap<Integer, Double> perTask = new TreeMap<>();
        SortedMap<Integer, Double> perInput = new TreeMap<>();
        for (int i = 0; i < ks.length; i++) {
            perTask.put(ks[i], scoredTasks == 0 ? 0 : taskSum[i] / scoredTasks);
            perInput.put(ks[i], inputs == 0 ? 0 : (double) inputHits[i] / inputs);
        }
        return new ArcMetrics(scoredTasks, inputs, answered, voteCount, perTask, perInput, submission);
    }

    /** Writes a Kaggle submission.json atomically. */
    public static void writeSubmission(Map<String, Object> submission, Path file) {
        try {
            Path abs = file.toAbsolutePath();
            Files.createDirectories(abs.getParent());
            Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            try {
                Files.writeString(tmp, Json.write(submission) + "\n");
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new DataException(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
