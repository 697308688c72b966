package dev.trm.model;

/**
 * Matmul FLOPs of TRM as spec section 9 counts them: 2 per multiply-add, every Linear and the two attention products
 * (QK^T and AV); elementwise work (norms, SiLU, RoPE, softmax, adds) excluded. For Sudoku-MLP one net call is 1.2205
 * GFLOP per sequence and a training step 42.72 GFLOP per sequence.
 */
public final class Flops {
    private Flops() {}

    /** One net call (all blocks) for one sequence. */
    public static double netCall(TrmConfig c) {
        double s = c.seq(), d = c.hiddenSize(), inter = c.intermediate();
        double channel = 2 * s * d * 2 * inter + 2 * s * inter * d;
        double first;
        if (c.mlpT()) {
            double mi = c.tokenIntermediate();
            first = 2 * d * s * 2 * mi + 2 * d * mi * s;
        } else {
            first = 2 * s * d * 3 * d + 2 * s * d * d + 4 * s * s * d;
        }
        return c.layers() * (first + channel);
    }

    /** lm_head over the L answer positions plus q_head, one sequence. */
    public static double heads(TrmConfig c) {
        return 2.0 * c.seqLen() * c.hiddenSize() * c.vocabSize() + 2.0 * c.hiddenSize() * 2;
    }

    /** Forward of one supervision step (T (n+1) calls and the heads), one sequence. */
    public static double forwardStep(TrmConfig c) {
        return c.netCallsPerStep() * netCall(c) + heads(c);
    }

    /** A training supervision step: forward plus a backward of twice the grad segment's forward, one sequence. */
    public static double trainStep(TrmConfig c) {
        return forwardStep(c) + 2 * ((c.lCycles() + 1) * netCall(c) + heads(c));
    }
}
