package dev.trm.task.arc;

import dev.trm.data.DataException;
import dev.trm.data.DatasetMetadata;
import dev.trm.data.DatasetOutput;
import dev.trm.data.DatasetWriter;
import dev.trm.data.Json;
import dev.trm.data.TaskKind;
import dev.trm.data.TokenLayout;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Builds the ARC training and test splits the way TRM's {@code build_arc_dataset.py} does (spec 6.4):
 * <ul>
 *   <li>training tasks (e.g. ARC-AGI-1 training + ConceptARC) put demonstration and test pairs into train;</li>
 *   <li>evaluation tasks put their demonstration pairs into train and only their test pairs into test (so their puzzle
 *       embeddings are learned from the demonstrations), under the same identifiers;</li>
 *   <li>each task becomes a group of the original plus up to N augmented versions (dihedral x colour permutation),
 *       drawn from at most 5N trials and de-duplicated by a SHA-256 of the whole augmented task; every version has its
 *       own identifier {@code <task>|||t<t>|||<map>};</li>
 *   <li>on the train split every example but one random one per version gets a random offset shared by its input and
 *       output; the test split stays at (0, 0).</li>
 * </ul>
 * Randomness is per task (seed mixed with the task id), so the build is deterministic and tasks are augmented in
 * parallel while a single writer streams the examples to disk in task order.
 */
public final class ArcDatasetBuilder {
    public static final String TEST_PUZZLES = "test_puzzles.json";
    private static final int RETRIES_FACTOR = 5;
    private static final int CHUNK = 16;

    /** @param augmentations N, the augmented versions wanted per task (1000 in the paper) */
    public record Options(int augmentations, long seed, boolean translate) {}

    /** What was built: per-split metadata, the task counts and how many groups got fewer than N augmentations. */
    public record Report(int trainingTasks, int evaluationTasks, int partialGroups, int identifiers, List<DatasetMetadata> splits) {}

    /** The versions of one task: augmentation and the augmented pairs. */
    private record Versions(ArcTask task, boolean evaluation, List<ArcAugmentation> augmentations, List<List<ArcPair>> train,
            List<List<ArcPair>> test, long translationSeed) {}

    private ArcDatasetBuilder() {}

    public static Report build(List<ArcTask> trainingTasks, List<ArcTask> evaluationTasks, Options options, DatasetOutput out) {
        Map<String, String> seen = new HashMap<>();
        for (ArcTask t : concat(trainingTasks, evaluationTasks)) {
            String prev = seen.put(t.id(), t.where());
            if (prev != null) throw new DataException("task " + t.id() + " appears twice: " + prev + " and " + t.where());
            if (t.id().contains(ArcAugmentation.SEPARATOR)) throw new DataException(t.where() + ": task id " + t.id() + " contains |||");
        }
        for (ArcTask t : trainingTasks) {
            for (int i = 0; i < t.test().size(); i++) {
                if (t.test().get(i).output() == null) {
                    throw new DataException(t.where() + ": task " + t.id() + " test pair " + (i + 1)
                            + " has no output; a training task needs its solutions");
                }
            }
        }
        TokenLayout layout = TokenLayout.of(TaskKind.ARC, ArcTokens.VOCAB, ArcTokens.SEQ_LEN);
        DatasetWriter train = out.split("train", layout);
        DatasetWriter test = evaluationTasks.isEmpty() ? null : out.split("test", layout);
        List<String> identifiers = new ArrayList<>();
        identifiers.add("<blank>");
        int partial = 0;
        List<ArcTask> all = concat(trainingTasks, evaluationTasks);
        int nTraining = trainingTasks.size();
        byte[] in = new byte[ArcTokens.SEQ_LEN];
        byte[] lab = new byte[ArcTokens.SEQ_LEN];
        for (int start = 0; start < all.size(); start += CHUNK) {
            int from = start, to = Math.min(all.size(), start + CHUNK);
            // Augment a chunk of tasks in parallel; write them in order. Memory: one chunk of augmented grids.
            List<Versions> chunk = IntStream.range(from, to).parallel()
                    .mapToObj(i -> versions(all.get(i), i >= nTraining, options)).toList();
            for (Versions v : chunk) {
                if (v.augmentations.size() < options.augmentations() + 1) partial++;
                int firstId = identifiers.size();
                for (ArcAugmentation a : v.augmentations) identifiers.add(a.name(v.task.id()));
                SplittableRandom rnd = new SplittableRandom(v.translationSeed);
                for (int k = 0; k < v.augmentations.size(); k++) {
                    List<ArcPair> pairs = v.train.get(k);
                    int plain = rnd.nextInt(pairs.size());
                    for (int e = 0; e < pairs.size(); e++) {
                        ArcPair p = pairs.get(e);
                        int r0 = 0, c0 = 0;
                        if (options.translate() && e != plain) {
                            r0 = rnd.nextInt(ArcTokens.SIDE - Math.max(p.input().rows(), p.output().rows()) + 1);
                            c0 = rnd.nextInt(ArcTokens.SIDE - Math.max(p.input().cols(), p.output().cols()) + 1);
                        }
                        ArcTokens.encodeInto(p.input(), r0, c0, in);
                        ArcTokens.encodeInto(p.output(), r0, c0, lab);
                        train.addExample(in, lab);
                    }
                    train.endPuzzle(firstId + k);
                }
                train.endGroup();
                if (v.evaluation) {
                    for (int k = 0; k < v.augmentations.size(); k++) {
                        for (ArcPair p : v.test.get(k)) {
                            ArcTokens.encodeInto(p.input(), 0, 0, in);
                            if (p.output() != null) ArcTokens.encodeInto(p.output(), 0, 0, lab); else Arrays.fill(lab, (byte) 0);
                            test.addExample(in, lab);
                        }
                        test.endPuzzle(firstId + k);
                    }
                    test.endGroup();
                }
            }
        }
        if (!evaluationTasks.isEmpty()) {
            Map<String, Object> puzzles = new LinkedHashMap<>();
            for (ArcTask t : evaluationTasks) puzzles.put(t.id(), ArcReader.toJson(t));
            out.writeFile(TEST_PUZZLES, Json.write(puzzles) + "\n");
        }
        List<DatasetMetadata> metas = out.commit(identifiers);
        return new Report(trainingTasks.size(), evaluationTasks.size(), partial, identifiers.size(), metas);
    }

    private static List<ArcTask> concat(List<ArcTask> a, List<ArcTask> b) {
        List<ArcTask> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    static long taskSeed(long seed, String taskId, long salt) {
        long h = seed * 0x9E3779B97F4A7C15L + taskId.hashCode() * 0xC2B2AE3D27D4EB4FL + salt;
        return new SplittableRandom(h).nextLong();
    }

    /** The original and up to N distinct augmented versions of a task, in the order they were found. */
    private static Versions versions(ArcTask task, boolean evaluation, Options o) {
        SplittableRandom rnd = new SplittableRandom(taskSeed(o.seed(), task.id(), 1));
        List<ArcAugmentation> augs = new ArrayList<>();
        List<List<ArcPair>> train = new ArrayList<>();
        List<List<ArcPair>> test = new ArrayList<>();
        Set<String> hashes = new HashSet<>();
        // Train-split pairs: demonstrations, plus test pairs for training tasks. Test-split pairs: eval tasks' tests.
        List<ArcPair> trainPairs = new ArrayList<>(task.train());
        if (!evaluation) trainPairs.addAll(task.test());
        List<ArcPair> testPairs = evaluation ? task.test() : List.of();
        augs.add(ArcAugmentation.IDENTITY);
        train.add(trainPairs);
        test.add(testPairs);
        hashes.add(hash(trainPairs, testPairs));
        for (int trial = 0; trial < RETRIES_FACTOR * o.augmentations() && augs.size() < o.augmentations() + 1; trial++) {
            ArcAugmentation a = ArcAugmentation.random(rnd);
            List<ArcPair> tr = apply(a, trainPairs);
            List<ArcPair> te = apply(a, testPairs);
            if (hashes.add(hash(tr, te))) {
                augs.add(a);
                train.add(tr);
                test.add(te);
            }
        }
        return new Versions(task, evaluation, augs, train, test, taskSeed(o.seed(), task.id(), 2));
    }

    private static List<ArcPair> apply(ArcAugmentation a, List<ArcPair> pairs) {
        List<ArcPair> out = new ArrayList<>(pairs.size());
        for (ArcPair p : pairs) out.add(new ArcPair(a.apply(p.input()), p.output() == null ? null : a.apply(p.output())));
        return out;
    }

    /** SHA-256 over the sorted per-pair digests: the augmented task's content, independent of pair order. */
    static String hash(List<ArcPair> a, List<ArcPair> b) {
        List<String> pairs = new ArrayList<>();
        for (List<ArcPair> list : List.of(a, b)) {
            for (ArcPair p : list) pairs.add(gridHash(p.input()) + "|" + (p.output() == null ? "-" : gridHash(p.output())));
        }
        pairs.sort(null);
        return java.util.HexFormat.of().formatHex(sha256().digest(String.join("|", pairs).getBytes()));
    }

    private static String gridHash(ArcGrid g) {
        MessageDigest d = sha256();
        d.update((byte) g.rows());
        d.update((byte) g.cols());
        d.update(g.cells());
        return java.util.HexFormat.of().formatHex(d.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
