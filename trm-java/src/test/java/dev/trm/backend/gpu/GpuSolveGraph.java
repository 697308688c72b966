package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.infer.SolveOptions;
import dev.trm.infer.SolverTestData;
import dev.trm.infer.SolveResult;
import dev.trm.infer.Solution;
import dev.trm.infer.TrmSolver;
import dev.trm.model.TinyConfigs;
import dev.trm.model.TrmConfig;
import java.util.Arrays;
import java.util.Map;

/**
 * TrmSolver on a GPU solves each chunk as one captured graph (the carry reset, K steps, the per-puzzle bookkeeping on
 * the device). Its answers must be those of the step-by-step path (which reads every step back; recording the trace
 * selects it) for every puzzle: tokens, steps used, every step's confidence and the halted flag, bit for bit, with and
 * without early halting, on new inputs through the same graph, and for a chunk padded to a power of two.
 */
final class GpuSolveGraph {
    private static final TrmConfig CONFIG = TinyConfigs.attention();  // vocab 7, seq 6, 3 puzzle ids
    private static final int K = 4;

    private GpuSolveGraph() {}

    private static Map<String, float[]> weights(long seed, float qHaltBias) {
        return SolverTestData.weights(CONFIG, seed, qHaltBias);
    }

    private static int[][] inputs(int n, long seed) {
        return SolverTestData.inputs(CONFIG, n, seed);
    }

    private static int[] ids(int n) {
        return SolverTestData.ids(n, CONFIG.numPuzzleIds());
    }

    /**
     * @param exact whether chunks of different row counts must agree bit for bit too (the emulated device, whose
     *     GEMM does not depend on the row count; cuBLAS may pick another kernel for another shape)
     */
    static void check(GpuBackend gpu, boolean exact) {
        check(gpu, exact, () -> gpu.device().kernelsRun());
    }

    /**
     * @param kernelsRun kernels the device has run so far, or -1 where unknown (GpuDevice.kernelsRun(); a test on the
     *     fake CUDA driver passes the fake's own count, since the CUDA device cannot count)
     */
    static void check(GpuBackend gpu, boolean exact, java.util.function.LongSupplier kernelsRun) {
        try (TrmSolver solver = TrmSolver.of(CONFIG, null, weights(5, -4.5f), gpu)) {
            for (boolean early : new boolean[] {false, true}) {
                SolveOptions o = SolveOptions.defaults().withSteps(K).withEarlyHalt(early).withBatchSize(8);
                int[][] a = inputs(8, 1), b = inputs(8, 2);
                SolveResult graphed = solver.solve(a, ids(8), o);
                assertSame(solver.solve(a, ids(8), o.withRecordSteps(true)), graphed, "8 puzzles, early " + early);
                long[] memory = gpu.bytesByType();  // both paths have made their buffers: nothing more from here
                // The second chunk of the same size replays the captured graph with new tokens.
                assertSame(solver.solve(b, ids(8), o.withRecordSteps(true)), solver.solve(b, ids(8), o),
                        "8 new puzzles, early " + early);
                assertArrayEquals(memory, gpu.bytesByType(), "device memory grew over replays");
                if (early) {
                    long ranAll = graphed.solutions().stream().filter(s -> s.stepsUsed() == K).count();
                    assertTrue(ranAll > 0 && ranAll < 8, "the test needs puzzles that halt early and puzzles that do "
                            + "not: " + ranAll + " of 8 ran all " + K + " steps");
                }
                // 3 puzzles run in a chunk of 4 rows (the next power of two), the spare row a copy of the first.
                int[][] c = inputs(3, 3);
                SolveResult padded = solver.solve(c, ids(3), o);         // eager: the first chunk of 4 rows
                SolveResult replayed = solver.solve(c, ids(3), o);       // the captured graph
                assertSame(padded, replayed, "3 puzzles replayed, early " + early);
                if (exact) assertSame(solver.solve(c, ids(3), o.withRecordSteps(true)), replayed, "3 puzzles, early " + early);
            }
        }
        // A model sure of itself from the first step: with early halting every puzzle ends after one step (on a GPU
        // with conditional graph nodes the other K - 1 steps are skipped inside the launch), without it none does.
        try (TrmSolver solver = TrmSolver.of(CONFIG, null, weights(6, 50f), gpu)) {
            SolveOptions o = SolveOptions.defaults().withSteps(K).withEarlyHalt(true).withBatchSize(4);
            int[][] a = inputs(4, 4);
            SolveResult graphed = solver.solve(a, ids(4), o);
            for (Solution s : graphed.solutions()) {
                assertEquals(1, s.stepsUsed());
                assertTrue(s.halted());
            }
            assertSame(solver.solve(a, ids(4), o.withRecordSteps(true)), graphed, "all halt at step 1");
            // Where the kernels run are counted (the emulated device, the fake CUDA driver) and graphs have
            // conditional nodes, a replay must skip the K - 1 steps after everyone halted: it runs well under half a
            // full solve's kernels.
            SolveResult[] skipped = new SolveResult[1];
            long perFull = kernelsOf(kernelsRun, () -> solver.solve(a, ids(4), o.withEarlyHalt(false)));
            long perEarly = kernelsOf(kernelsRun, () -> skipped[0] = solver.solve(a, ids(4), o));
            assertSame(graphed, skipped[0], "a replay that skipped steps");
            if (perFull >= 0 && gpu.device().supportsConditionalGraphs()) {
                assertTrue(perEarly * 2 < perFull, "a replay where all halted at step 1 ran " + perEarly
                        + " kernels, a full solve " + perFull + ": the later steps were not skipped");
            }
        }
    }

    /** Kernels the device ran for one call (after a first call that captures its graph), or -1 if unknown. */
    private static long kernelsOf(java.util.function.LongSupplier kernelsRun, Runnable solve) {
        solve.run();
        long before = kernelsRun.getAsLong();
        solve.run();
        return before < 0 ? -1 : kernelsRun.getAsLong() - before;
    }

    private static void assertSame(SolveResult want, SolveResult got, String what) {
        assertEquals(want.solutions().size(), got.solutions().size(), what);
        for (int i = 0; i < want.solutions().size(); i++) {
            Solution w = want.solutions().get(i), g = got.solutions().get(i);
            String p = what + ", puzzle " + i;
            assertArrayEquals(w.tokens(), g.tokens(), p + ": tokens");
            assertEquals(w.stepsUsed(), g.stepsUsed(), p + ": steps used");
            assertEquals(w.halted(), g.halted(), p + ": halted");
            assertEquals(w.haltConfidence().length, g.haltConfidence().length, p + ": confidences");
            for (int s = 0; s < w.haltConfidence().length; s++) {
                assertEquals(Float.floatToRawIntBits(w.haltConfidence()[s]), Float.floatToRawIntBits(g.haltConfidence()[s]),
                        p + ": confidence at step " + (s + 1) + ": " + Arrays.toString(w.haltConfidence()) + " vs "
                                + Arrays.toString(g.haltConfidence()));
            }
        }
    }
}
