package dev.trm.infer;

import dev.trm.backend.Tensor;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.checkpoint.Checkpoint;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Weights and puzzles for solver tests, on the CPU and on a GPU alike. */
public final class SolverTestData {
    private SolverTestData() {}

    /**
     * Random weights whose q head has std-1 weights and the given q_halt bias: q_halt then changes sign between
     * puzzles and steps, so early halting has something to decide (the official init, W = 0 and b = -5, never halts).
     */
    public static Map<String, float[]> weights(TrmConfig c, long seed, float qHaltBias) {
        CpuBackend be = new CpuBackend();
        TrmParameters p = randomParameters(c, seed, be);
        be.write(p.qBias().value(), new float[] {qHaltBias, 0f});
        return Checkpoint.weightsOf(p, be);
    }

    /** A model with every tensor random: the puzzle rows and the q head too, so nothing is trivially zero. */
    public static Map<String, float[]> randomWeights(TrmConfig c, long seed) {
        CpuBackend be = new CpuBackend();
        return Checkpoint.weightsOf(randomParameters(c, seed, be), be);
    }

    /** The official init of the seed, then std-1 puzzle rows and q head weights (which the init leaves at zero). */
    private static TrmParameters randomParameters(TrmConfig c, long seed, CpuBackend be) {
        TrmParameters p = new TrmParameters(c, be);
        p.initialize(be, seed);
        Random rnd = new Random(seed);
        for (Tensor t : List.of(p.puzzleTable(), p.qWeight().value())) {
            float[] v = new float[(int) t.size()];
            for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
            be.write(t, v);
        }
        return p;
    }

    /** n puzzles of random tokens in [1, vocab). */
    public static int[][] inputs(TrmConfig c, int n, long seed) {
        Random rnd = new Random(seed);
        int[][] in = new int[n][c.seqLen()];
        for (int[] row : in) for (int i = 0; i < row.length; i++) row[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
        return in;
    }

    /** Puzzle identifiers 0, 1, .., numIds - 1, 0, 1, .. for n puzzles. */
    public static int[] ids(int n, int numIds) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i % numIds;
        return ids;
    }
}
