package dev.trm.eval;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.TaskKind;
import dev.trm.task.arc.ArcAugmentation;
import dev.trm.task.arc.ArcGrid;
import dev.trm.task.arc.ArcPair;
import dev.trm.task.arc.ArcTask;
import dev.trm.task.arc.ArcTokens;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EvaluatorTest {

    @Test
    void sequenceTokenAndExactAccuracy() {
        SequenceEvaluator ev = new SequenceEvaluator(TaskKind.SUDOKU, 0);
        ev.begin();
        ev.add(new EvalExample(0, new int[4], new int[] {2, 3, 4, 5}, new int[] {2, 3, 4, 5}, 0.9));
        ev.add(new EvalExample(0, new int[4], new int[] {2, 3, 4, 5}, new int[] {2, 3, 9, 9}, 0.1));
        ev.add(new EvalExample(0, new int[4], new int[] {0, 0, 0, 0}, new int[] {1, 1, 1, 1}, 0.5)); // nothing scored: skipped
        SequenceMetrics m = ev.result();
        assertEquals(2, m.examples());
        assertEquals(0.75, m.tokenAccuracy(), 1e-12);
        assertEquals(0.5, m.exactAccuracy(), 1e-12);
        assertEquals(0.5, m.meanHaltConfidence(), 1e-12);
        assertTrue(Double.isNaN(m.validShortestPathRate()));
    }

    @Test
    void mazeCountsAlternativeShortestPaths() {
        // 3x3 open maze, S top-left, G bottom-right: two shortest routes along the border.
        int[] q = {3, 2, 2, 2, 2, 2, 2, 2, 4};
        int[] label = {3, 5, 5, 2, 2, 5, 2, 2, 4};
        int[] other = {3, 2, 2, 5, 2, 2, 5, 5, 4};
        int[] bad = {3, 5, 2, 2, 2, 2, 2, 2, 4};
        SequenceEvaluator ev = new SequenceEvaluator(TaskKind.MAZE, 0);
        ev.begin();
        ev.add(new EvalExample(0, q, label, label, 1));
        ev.add(new EvalExample(0, q, label, other, 1));
        ev.add(new EvalExample(0, q, label, bad, 1));
        SequenceMetrics m = ev.result();
        assertEquals(1.0 / 3, m.exactAccuracy(), 1e-12);
        assertEquals(2.0 / 3, m.validShortestPathRate(), 1e-12);
    }

    static final ArcGrid IN_A = new ArcGrid(2, 2, new byte[] {1, 2, 3, 4});
    static final ArcGrid IN_A2 = new ArcGrid(1, 3, new byte[] {5, 5, 6});
    static final ArcGrid TRUTH_A = new ArcGrid(1, 2, new byte[] {7, 8});
    static final ArcGrid TRUTH_A2 = new ArcGrid(1, 1, new byte[] {9});
    static final ArcGrid WRONG = new ArcGrid(1, 2, new byte[] {8, 7});
    static final ArcGrid IN_B = new ArcGrid(3, 1, new byte[] {1, 0, 1});
    static final ArcGrid TRUTH_B = new ArcGrid(2, 2, new byte[] {0, 1, 1, 0});
    static final List<ArcTask> TASKS = List.of(
            new ArcTask("a", List.of(), List.of(new ArcPair(IN_A, TRUTH_A), new ArcPair(IN_A2, TRUTH_A2)), "mem"),
            new ArcTask("b", List.of(), List.of(new ArcPair(IN_B, TRUTH_B)), "mem"));
    static final ArcAugmentation ROT = new ArcAugmentation(1, new int[] {0, 3, 2, 1, 4, 5, 6, 7, 9, 8});
    static final ArcAugmentation FLIP = new ArcAugmentation(4, new int[] {0, 1, 2, 3, 4, 5, 6, 8, 7, 9});
    static final List<String> IDS = List.of("<blank>", "a", ROT.name("a"), FLIP.name("a"), "b", ROT.name("b"));

    /** What the model would see and answer for one augmented version (identifier id). */
    static EvalExample example(int id, ArcGrid input, ArcGrid answer, double conf) {
        ArcAugmentation aug = ArcAugmentation.parse(IDS.get(id));
        return new EvalExample(id, ints(ArcTokens.encode(aug.apply(input), 0, 0)), new int[900],
                ints(ArcTokens.encode(aug.apply(answer), 0, 0)), conf);
    }

    static int[] ints(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i];
        return out;
    }

    @Test
    void votesAcrossAugmentationsRankByCountThenConfidence() {
        ArcEvaluator ev = new ArcEvaluator(IDS, TASKS, ArcEvaluator.Options.standard());
        ev.begin();
        // test input a/1: WRONG gets 2 votes, truth 1 vote -> pass@1 miss, pass@2 hit
        ev.add(example(1, IN_A, WRONG, 0.9));
        ev.add(example(2, IN_A, WRONG, 0.9));
        ev.add(example(3, IN_A, TRUTH_A, 0.99));
        // test input a/2: never answered
        // task b: 1 vote each, truth has the higher mean confidence -> ranked first
        ev.add(example(4, IN_B, WRONG, 0.2));
        ev.add(example(5, IN_B, TRUTH_B, 0.8));
        ev.add(new EvalExample(0, new int[900], new int[900], new int[900], 1)); // blank padding row: ignored
        assertEquals(List.of(WRONG, TRUTH_A), ev.ranked("a", IN_A));
        ArcMetrics m = ev.result();
        assertEquals(2, m.scoredTasks());
        assertEquals(3, m.testInputs());
        assertEquals(2, m.answeredInputs());
        assertEquals(5, m.votes());
        assertEquals((0.0 + 1.0) / 2, m.passAtK().get(1), 1e-12, "task a 0/2, task b 1/1");
        assertEquals((0.5 + 1.0) / 2, m.passAtK().get(2), 1e-12);
        assertEquals(1.0 / 3, m.passAtKPerInput().get(1), 1e-12);
        assertEquals(2.0 / 3, m.passAtKPerInput().get(2), 1e-12);
        assertEquals(0.75, m.passAtK().get(1000), 1e-12);

        @SuppressWarnings("unchecked")
        List<Map<String, Object>> a = (List<Map<String, Object>>) m.submission().get("a");
        assertEquals(2, a.size());
        assertArrayEquals(WRONG.toRows(), (int[][]) a.get(0).get("attempt_1"));
        assertArrayEquals(TRUTH_A.toRows(), (int[][]) a.get(0).get("attempt_2"));
        assertArrayEquals(new int[][] {{0}}, (int[][]) a.get(1).get("attempt_1"), "no prediction: a placeholder");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> b = (List<Map<String, Object>>) m.submission().get("b");
        assertArrayEquals(TRUTH_B.toRows(), (int[][]) b.get(0).get("attempt_1"));
    }

    @Test
    void votesAreClearedBetweenEvaluationsUnlessAccumulationIsAsked() {
        for (boolean accumulate : new boolean[] {false, true}) {
            ArcEvaluator ev = new ArcEvaluator(IDS, TASKS, new ArcEvaluator.Options(new int[] {1, 2}, accumulate));
            ev.begin();
            ev.add(example(1, IN_A, TRUTH_A, 0.5));
            ev.add(example(4, IN_B, TRUTH_B, 0.5));
            assertEquals(0.75, ev.result().passAtK().get(1), 1e-12);
            ev.begin(); // second checkpoint: everything wrong, twice
            List<EvalExample> wrong = new ArrayList<>();
            for (int id : new int[] {1, 2}) wrong.add(example(id, IN_A, WRONG, 0.5));
            wrong.forEach(ev::add);
            ArcMetrics m = ev.result();
            assertEquals(accumulate ? 4 : 2, m.votes());
            assertEquals(accumulate ? 0.5 : 0.0, m.passAtK().get(1), 1e-12, "task b's old correct vote");
            assertEquals(accumulate ? 0.75 : 0.0, m.passAtK().get(2), 1e-12, "old votes linger only when accumulating");
        }
    }
}
