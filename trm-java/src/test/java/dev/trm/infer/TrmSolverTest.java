package dev.trm.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Tensor;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.checkpoint.Checkpoint;
import dev.trm.checkpoint.CheckpointContents;
import dev.trm.data.TaskKind;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.TinyConfigs;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrmSolverTest {
    @TempDir
    Path dir;

    private final CpuBackend be = new CpuBackend();
    private final TrmConfig config = TinyConfigs.attention(); // vocab 7, seq 6, 3 puzzle ids, halt_max_steps 16

    /** q_halt bias -2.5 with std-1 q weights: early halting has something to decide (see SolverTestData). */
    private Map<String, float[]> weights(long seed) {
        return SolverTestData.weights(config, seed, -2.5f);
    }

    private int[][] inputs(int n, long seed) {
        return SolverTestData.inputs(config, n, seed);
    }

    private static int[] ids(int n) {
        return SolverTestData.ids(n, 3);
    }

    @Test
    void solverMatchesTheModelsForwardStepByStep() {
        Map<String, float[]> w = weights(1);
        int n = 5, k = 4, len = config.seqLen(), v = config.vocabSize();
        int[][] in = inputs(n, 2);
        SolveResult r;
        try (TrmSolver solver = TrmSolver.of(config, TaskKind.SUDOKU, w, be)) {
            r = solver.solve(in, ids(n), SolveOptions.defaults().withSteps(k).withRecordSteps(true).withBatchSize(n));
        }
        assertEquals(k, r.steps());

        TrmParameters p = new TrmParameters(config, be);
        Checkpoint.copyInto(w, p, be);
        TrmModel model = new TrmModel(config, be, p);
        int[] flat = new int[n * len];
        for (int i = 0; i < n; i++) System.arraycopy(in[i], 0, flat, i * len, len);
        Batch batch = model.batch(flat, null, ids(n));
        Carry carry = model.initialCarry(n);
        float[] logits = null;
        float[] q = null;
        for (int s = 0; s < k; s++) {
            model.forward(batch, carry);
            logits = be.read(model.logits());
            q = be.read(model.q());
            assertBitEqual(logits, Arrays.copyOfRange(r.trace().logits(), s * n * len * v, (s + 1) * n * len * v), "logits of step " + (s + 1));
            assertBitEqual(q, Arrays.copyOfRange(r.trace().q(), s * n * 2, (s + 1) * n * 2), "q of step " + (s + 1));
        }
        // The answers are the argmax of the solver's own last logits, the confidences sigmoid of its own q.
        float[] last = Arrays.copyOfRange(r.trace().logits(), (k - 1) * n * len * v, k * n * len * v);
        float[] lastQ = Arrays.copyOfRange(r.trace().q(), (k - 1) * n * 2, k * n * 2);
        for (int i = 0; i < n; i++) {
            Solution sol = r.solutions().get(i);
            assertEquals(k, sol.stepsUsed());
            for (int pos = 0; pos < len; pos++) {
                int best = 0;
                for (int c = 1; c < v; c++) if (last[(i * len + pos) * v + c] > last[(i * len + pos) * v + best]) best = c;
                assertEquals(best, sol.tokens()[pos], "puzzle " + i + " position " + pos);
            }
            assertEquals((float) (1 / (1 + Math.exp(-lastQ[2 * i]))), sol.confidence(), "puzzle " + i);
            assertEquals(lastQ[2 * i] > 0, sol.halted());
        }
    }

    /**
     * Bit for bit: the CPU backend gives the same bits cold or JIT-compiled, on any thread and for any batch
     * composition of the same rows (per-row work in a fixed order), so separate calls must agree exactly.
     */
    static void assertBitEqual(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + " [" + i + "]: " + want[i] + " vs " + got[i]);
        }
    }

    @Test
    void theDefaultIsHaltMaxStepsWithoutEarlyHalting() {
        try (TrmSolver solver = TrmSolver.of(config, null, weights(3), be)) {
            SolveResult r = solver.solve(inputs(3, 4), ids(3), SolveOptions.defaults());
            assertEquals(16, r.steps());
            for (Solution s : r.solutions()) {
                assertEquals(16, s.stepsUsed());
                assertEquals(16, s.haltConfidence().length);
            }
            assertNull(r.trace());
        }
    }

    @Test
    void earlyHaltStopsEachPuzzleAtItsFirstPositiveQHalt() {
        int n = 24, k = 6, len = config.seqLen(), v = config.vocabSize();
        int[][] in = inputs(n, 6);
        try (TrmSolver solver = TrmSolver.of(config, null, weights(5), be)) {
            // Recording runs all K steps and keeps them, so the halting decisions can be checked against the very q
            // values they were made from.
            SolveResult early = solver.solve(in, ids(n),
                    SolveOptions.defaults().withSteps(k).withEarlyHalt(true).withRecordSteps(true).withBatchSize(n));
            SolveResult full = solver.solve(in, ids(n), SolveOptions.defaults().withSteps(k).withBatchSize(n));
            int stoppedEarly = 0, ranAll = 0;
            for (int i = 0; i < n; i++) {
                float[] q = new float[k];
                for (int s = 0; s < k; s++) q[s] = early.trace().q()[(s * n + i) * 2];
                int stop = k - 1;
                for (int s = 0; s < k; s++) {
                    if (q[s] > 0) {
                        stop = s;
                        break;
                    }
                }
                Solution e = early.solutions().get(i);
                assertEquals(stop + 1, e.stepsUsed(), "puzzle " + i + " q_halt per step " + Arrays.toString(q));
                assertEquals(q[stop] > 0, e.halted());
                for (int s = 0; s <= stop; s++) assertEquals(TrmSolver.sigmoid(q[s]), e.haltConfidence()[s], "puzzle " + i + " step " + (s + 1));
                int[] want = dev.trm.model.Predictions.argmax(Arrays.copyOfRange(early.trace().logits(), stop * n * len * v, (stop + 1) * n * len * v), i, len, v);
                assertArrayEquals(want, e.tokens(), "puzzle " + i + " answer of step " + (stop + 1));
                // Without early halting the same puzzle runs all K steps and its first steps agree.
                Solution f = full.solutions().get(i);
                assertEquals(k, f.stepsUsed());
                assertBitEqual(e.haltConfidence(), Arrays.copyOf(f.haltConfidence(), stop + 1), "puzzle " + i);
                if (stop < k - 1) stoppedEarly++; else ranAll++;
            }
            assertTrue(stoppedEarly > 0 && ranAll > 0, "the test needs both kinds of puzzle: " + stoppedEarly + " stopped early, " + ranAll + " ran all");
        }
    }

    @Test
    void answersDoNotDependOnTheBatchSize() {
        int n = 7;
        int[][] in = inputs(n, 8);
        try (TrmSolver solver = TrmSolver.of(config, null, weights(7), be)) {
            SolveResult a = solver.solve(in, ids(n), SolveOptions.defaults().withSteps(3).withBatchSize(n));
            SolveResult b = solver.solve(in, ids(n), SolveOptions.defaults().withSteps(3).withBatchSize(2));
            for (int i = 0; i < n; i++) {
                assertArrayEquals(a.solutions().get(i).tokens(), b.solutions().get(i).tokens(), "puzzle " + i);
                assertBitEqual(a.solutions().get(i).haltConfidence(), b.solutions().get(i).haltConfidence(), "puzzle " + i);
            }
        }
    }

    @Test
    void concurrentCallersGetTheSameAnswersAsOneCaller() throws Exception {
        int threads = 4, callsPerThread = 5, n = 3;
        List<int[][]> work = new ArrayList<>();
        for (int c = 0; c < threads * callsPerThread; c++) work.add(inputs(n, 100 + c));
        SolveOptions options = SolveOptions.defaults().withSteps(3).withEarlyHalt(true);
        try (TrmSolver solver = TrmSolver.of(config, null, weights(11), be)) {
            List<SolveResult> sequential = new ArrayList<>();
            for (int[][] in : work) sequential.add(solver.solve(in, ids(n), options));
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<List<SolveResult>>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int first = t * callsPerThread;
                futures.add(pool.submit(() -> {
                    go.await();
                    List<SolveResult> mine = new ArrayList<>();
                    for (int c = first; c < first + callsPerThread; c++) mine.add(solver.solve(work.get(c), ids(n), options));
                    return mine;
                }));
            }
            go.countDown();
            for (int t = 0; t < threads; t++) {
                List<SolveResult> mine = futures.get(t).get();
                for (int c = 0; c < callsPerThread; c++) {
                    SolveResult want = sequential.get(t * callsPerThread + c), got = mine.get(c);
                    for (int i = 0; i < n; i++) {
                        assertArrayEquals(want.solutions().get(i).tokens(), got.solutions().get(i).tokens());
                        assertBitEqual(want.solutions().get(i).haltConfidence(), got.solutions().get(i).haltConfidence(), "call " + c);
                        assertEquals(want.solutions().get(i).stepsUsed(), got.solutions().get(i).stepsUsed());
                    }
                }
            }
            pool.shutdown();
        }
    }

    @Test
    void loadingACheckpointGivesTheSameSolver() {
        Map<String, float[]> w = weights(13);
        Path file = dir.resolve("model.safetensors");
        Checkpoint.save(file, CheckpointContents.ofWeights(config, TaskKind.MAZE, 77, "fp", w));
        int[][] in = inputs(4, 14);
        SolveOptions o = SolveOptions.defaults().withSteps(2);
        try (TrmSolver fromFile = TrmSolver.load(dir); TrmSolver inMemory = TrmSolver.of(config, null, w, be)) {
            assertEquals(TaskKind.MAZE, fromFile.task());
            assertEquals(77, fromFile.step());
            assertEquals(config, fromFile.config());
            SolveResult a = fromFile.solve(in, ids(4), o), b = inMemory.solve(in, ids(4), o);
            for (int i = 0; i < 4; i++) assertArrayEquals(a.solutions().get(i).tokens(), b.solutions().get(i).tokens());
            Solution one = fromFile.solve(in[2], 2, o);
            assertArrayEquals(a.solutions().get(2).tokens(), one.tokens());
        }
    }

    @Test
    void theAutomaticBatchSizeFollowsTheModelsMemoryPerPuzzle() {
        long sudoku = TrmSolver.bytesPerExample(dev.trm.model.Presets.get("sudoku-extreme-mlp"));
        long arc = TrmSolver.bytesPerExample(dev.trm.model.Presets.get("arc-1"));
        assertTrue(sudoku > 8e6 && sudoku < 20e6, "sudoku " + sudoku);
        assertTrue(arc > 50e6 && arc < 100e6, "arc " + arc);
        int small = TrmSolver.autoBatchSize(config), big = TrmSolver.autoBatchSize(dev.trm.model.Presets.get("arc-1"));
        assertTrue(small >= big && big >= 1 && small <= 32, small + " " + big);
    }

    @Test
    void badPuzzlesAreRefusedNamingThePuzzle() {
        try (TrmSolver solver = TrmSolver.of(config, null, weights(1), be)) {
            SolveOptions o = SolveOptions.defaults().withSteps(1);
            int[][] in = inputs(3, 1);
            String len = assertThrows(IllegalArgumentException.class,
                    () -> solver.solve(new int[][] {in[0], new int[5]}, new int[2], o)).getMessage();
            assertTrue(len.contains("puzzle 1") && len.contains("5 tokens"), len);
            in[2][4] = 7;
            String tok = assertThrows(IllegalArgumentException.class, () -> solver.solve(in, new int[3], o)).getMessage();
            assertTrue(tok.contains("puzzle 2") && tok.contains("token 7"), tok);
            String id = assertThrows(IllegalArgumentException.class,
                    () -> solver.solve(new int[][] {inputs(1, 2)[0]}, new int[] {3}, o)).getMessage();
            assertTrue(id.contains("identifier 3"), id);
            assertThrows(IllegalArgumentException.class, () -> SolveOptions.defaults().withSteps(-1));
            solver.close();
            assertThrows(IllegalStateException.class, () -> solver.solve(inputs(1, 2), new int[1], o));
        }
    }
}
