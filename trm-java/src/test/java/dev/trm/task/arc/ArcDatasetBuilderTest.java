package dev.trm.task.arc;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.Dataset;
import dev.trm.data.DatasetOutput;
import dev.trm.testing.SharedData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArcDatasetBuilderTest {
    @TempDir
    Path tmp;

    static ArcGrid grid(int rows, int cols, int seed) {
        byte[] c = new byte[rows * cols];
        for (int i = 0; i < c.length; i++) c[i] = (byte) ((i * 7 + seed) % 10);
        return new ArcGrid(rows, cols, c);
    }

    static ArcPair pair(int rows, int cols, int seed) {
        return new ArcPair(grid(rows, cols, seed), grid(cols, rows + 1, seed + 3));
    }

    static final ArcTask T1 = new ArcTask("t1", List.of(pair(3, 4, 1), pair(5, 2, 2)), List.of(pair(4, 4, 3)), "mem");
    static final ArcTask E1 = new ArcTask("e1", List.of(pair(2, 3, 4), pair(6, 6, 5)), List.of(pair(3, 3, 6), pair(2, 5, 7)), "mem");
    static final ArcTask MONO = new ArcTask("mono", List.of(new ArcPair(new ArcGrid(1, 1, new byte[1]), new ArcGrid(1, 1, new byte[1]))),
            List.of(new ArcPair(new ArcGrid(1, 1, new byte[1]), new ArcGrid(1, 1, new byte[1]))), "mem");

    private ArcDatasetBuilder.Report build(Path out, long seed) {
        try (DatasetOutput o = DatasetOutput.create(out, false)) {
            return ArcDatasetBuilder.build(List.of(T1, MONO), List.of(E1), new ArcDatasetBuilder.Options(8, seed, true), o);
        }
    }

    @Test
    void splitRuleGroupsIdentifiersAndDeduplication() {
        Path out = tmp.resolve("arc");
        ArcDatasetBuilder.Report r = build(out, 1);
        assertEquals(1, r.partialGroups(), "the all-black task has no distinct augmentation");
        assertEquals(1 + 9 + 1 + 9, r.identifiers());
        try (Dataset train = Dataset.open(out, "train"); Dataset test = Dataset.open(out, "test")) {
            assertEquals(3, train.groupCount());
            assertEquals(9, train.groupEnd(0) - train.groupStart(0), "t1: original + 8 versions");
            assertEquals(1, train.groupEnd(1) - train.groupStart(1), "mono: only the original");
            int e1Start = train.groupStart(2);
            for (int p = train.groupStart(0); p < train.groupEnd(0); p++) assertEquals(3, train.puzzleEnd(p) - train.puzzleStart(p), "demos + test pair");
            for (int p = e1Start; p < train.groupEnd(2); p++) assertEquals(2, train.puzzleEnd(p) - train.puzzleStart(p), "eval: demos only");
            assertEquals(1, test.groupCount());
            assertEquals(9, test.puzzleCount());
            for (int p = 0; p < 9; p++) {
                assertEquals(train.puzzleIdentifier(e1Start + p), test.puzzleIdentifier(p), "same identifier in both splits");
                String name = test.identifierName(test.puzzleIdentifier(p));
                assertEquals("e1", ArcAugmentation.taskOf(name));
                ArcAugmentation a = ArcAugmentation.parse(name);
                for (int k = 0; k < 2; k++) {
                    int e = test.puzzleStart(p) + k;
                    assertEquals(E1.test().get(k).input(), a.invert(ArcTokens.crop(test.input(e))), "test inputs at the origin, invertible");
                    assertEquals(E1.test().get(k).output(), a.invert(ArcTokens.crop(test.label(e))));
                }
            }
            assertEquals("t1", train.identifierName(train.puzzleIdentifier(0)), "the original keeps the plain id");
            // translation: input and label share the offset; one example per puzzle stays at the origin
            for (int p = 0; p < train.puzzleCount(); p++) {
                boolean atOrigin = false;
                for (int e = train.puzzleStart(p); e < train.puzzleEnd(p); e++) {
                    int in = firstColour(train.input(e)), lab = firstColour(train.label(e));
                    assertEquals(in, lab, "shared offset");
                    if (in == 0) atOrigin = true;
                }
                assertTrue(atOrigin, "puzzle " + p);
            }
        }
        assertTrue(Files.isRegularFile(out.resolve(ArcDatasetBuilder.TEST_PUZZLES)));
        List<ArcTask> back = ArcReader.read(out.resolve(ArcDatasetBuilder.TEST_PUZZLES));
        assertEquals(1, back.size());
        assertEquals(E1.test().get(1).output(), back.get(0).test().get(1).output());
    }

    private static int firstColour(int[] t) {
        for (int i = 0; i < t.length; i++) if (t[i] >= 2) return i;
        return -1;
    }

    @Test
    void kaggleChallengesWithoutSolutionsGiveIgnoredTestLabels() throws java.io.IOException {
        Path dir = tmp.resolve("kaggle");
        Files.createDirectories(dir);
        Path challenges = dir.resolve("arc-agi_test_challenges.json");
        Files.writeString(challenges, "{\"cafe0001\": {\"train\": [{\"input\": [[1, 2]], \"output\": [[2, 1]]}], "
                + "\"test\": [{\"input\": [[3, 4]]}]}}");
        List<ArcTask> tasks = ArcReader.read(challenges);
        assertNull(tasks.get(0).test().get(0).output());
        Path out = tmp.resolve("k");
        try (DatasetOutput o = DatasetOutput.create(out, false)) {
            ArcDatasetBuilder.build(List.of(T1), tasks, new ArcDatasetBuilder.Options(2, 1, true), o);
        }
        try (Dataset test = Dataset.open(out, "test")) {
            int[] label = test.label(0);
            for (int t : label) assertEquals(0, t, "unknown output: every label cell is the ignore id");
            assertEquals(new ArcGrid(1, 2, new byte[] {3, 4}), ArcTokens.crop(test.input(0)));
        }
        // a training task needs its outputs
        Path out2 = tmp.resolve("k2");
        var e = assertThrows(dev.trm.data.DataException.class, () -> {
            try (DatasetOutput o = DatasetOutput.create(out2, false)) {
                ArcDatasetBuilder.build(tasks, List.of(), new ArcDatasetBuilder.Options(0, 1, true), o);
            }
        });
        assertTrue(e.getMessage().contains("cafe0001") && e.getMessage().contains("has no output"), e.getMessage());
        assertFalse(Files.exists(out2));
    }

    @Test
    void deterministicPerSeed() {
        String a = build(tmp.resolve("a"), 3).splits().get(0).fingerprint();
        String b = build(tmp.resolve("b"), 3).splits().get(0).fingerprint();
        String c = build(tmp.resolve("c"), 4).splits().get(0).fingerprint();
        assertEquals(a, b);
        assertNotEquals(a, c);
    }

    @Test
    void realArc1WithConceptArcWithoutAugmentation() {
        List<ArcTask> training = new ArrayList<>(ArcReader.read(SharedData.file("arc-agi-1/training")));
        training.addAll(ArcReader.read(SharedData.file("concept-arc/corpus")));
        List<ArcTask> eval = ArcReader.read(SharedData.file("arc-agi-1/evaluation"));
        Path out = tmp.resolve("arc1");
        try (DatasetOutput o = DatasetOutput.create(out, false)) {
            ArcDatasetBuilder.build(training, eval, new ArcDatasetBuilder.Options(0, 42, true), o);
        }
        try (Dataset train = Dataset.open(out, "train"); Dataset test = Dataset.open(out, "test")) {
            assertEquals(960, train.groupCount());
            assertEquals(960, train.puzzleCount());
            assertEquals(1302 + 416 + 427 + 480 + 1363, train.exampleCount(), "eval demos go to train");
            assertEquals(400, test.puzzleCount());
            assertEquals(419, test.exampleCount());
            assertEquals(961, train.metadata().numPuzzleIdentifiers());
        }
    }
}
