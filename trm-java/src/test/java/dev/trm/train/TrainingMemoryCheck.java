package dev.trm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
import dev.trm.data.Dataset;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.nio.file.Path;
import java.util.Map;

/**
 * What the memory table says of a training run, checked on any backend (the CPU here, the emulated device in
 * {@code TrainingMemoryEmulatedTest}): every buffer is booked under a use, the first step makes them all and later
 * steps none, and the big rows equal what the spec says they hold, computed here from the shapes alone:
 * parameters, gradients, AdamATan2's m and v and the EMA copy are one float per trainable weight each, and the
 * activations saved for the backward are n+1 calls' worth, less the no-grad calls' set the last of them runs on.
 */
public final class TrainingMemoryCheck {
    private TrainingMemoryCheck() {}

    /** The ledger's rows after one training step of {@link #model} at batch 4 on be (DeepSupervision, EMA on). */
    public static Map<MemoryUse, Long> afterOneStep(Backend be, Path data, boolean mixer) {
        try (Dataset train = Dataset.open(data, "train")) {
            TrmConfig c = model(train, mixer);
            TrmParameters p = new TrmParameters(c, be);
            p.initialize(be, 3);
            TrainConfig tc = new TrainConfig(4, 10, 3e-3, 0.0, 3e-3, 0.0, 0.9, 0.95, 2, 1.0, 0.99, 0, 5);
            new DeepSupervision(c, tc, be, p, train).stepAsync();  // no read back: a plan reads zeros
            return be.memory().bytesByUse();
        }
    }

    /**
     * The ledger's rows after a solver (inference weights, zeros) on be has solved one batch of each size in turn,
     * read before the solver closes: what it holds between solves. One supervision step each (the buffers are those
     * of any step count but qHalts [B, steps]), so that the emulated device's solves stay short.
     */
    public static Map<MemoryUse, Long> afterSolves(Backend be, TrmConfig c, int... batches) {
        TrmParameters p = TrmParameters.forInference(c, be);
        Map<String, float[]> weights = dev.trm.checkpoint.Checkpoint.weightsOf(p, be);
        p.free(be);
        try (dev.trm.infer.TrmSolver solver = dev.trm.infer.TrmSolver.of(c, null, weights, be)) {
            for (int b : batches) {
                solver.solve(new int[b][c.seqLen()], new int[b], dev.trm.infer.SolveOptions.defaults().withBatchSize(b)
                        .withSteps(1));
            }
            Map<MemoryUse, Long> held = be.memory().bytesByUse();
            assertFalse(held.containsKey(MemoryUse.UNLABELLED), "every buffer a solver holds is booked: " + held);
            return held;
        }
    }

    /** The tiny training set the checks use, under dir. */
    public static Path data(Path dir) {
        return TinySudoku.build(dir, 8, 1, 6, 1);
    }

    /** A small model on the data's shapes: token mixer or attention with RoPE; T 2, n 3. */
    static TrmConfig model(Dataset d, boolean mixer) {
        return new TrmConfig(d.metadata().vocabSize(), d.seqLen(), 32, 2, 4, 2, 2, 3, mixer, !mixer, 10000.0, 1e-5, 2,
                1, 4, 0.1, TrmConfig.LossType.STABLEMAX);
    }

    /**
     * Trains four steps on be and checks the ledger. activationBytes and floatBytes: the backend's element sizes for
     * {@link Backend#activation} and {@link Backend#tensor} (4 and 4 on the CPU; 2 and 4 on a GPU).
     */
    public static void check(Backend be, Path dir, boolean mixer, int activationBytes, int floatBytes) {
        Path data = data(dir);
        try (Dataset train = Dataset.open(data, "train")) {
            TrmConfig c = model(train, mixer);
            int batch = 4;
            TrmParameters p = new TrmParameters(c, be);
            p.initialize(be, 3);
            TrainConfig tc = new TrainConfig(batch, 10, 3e-3, 0.0, 3e-3, 0.0, 0.9, 0.95, 2, 1.0, 0.99, 0, 5);
            DeepSupervision t = new DeepSupervision(c, tc, be, p, train);
            t.step();
            Map<MemoryUse, Long> first = be.memory().bytesByUse();
            for (int s = 0; s < 3; s++) t.step();
            assertEquals(first, be.memory().bytesByUse(), "steps after the first must allocate nothing");

            assertFalse(first.containsKey(MemoryUse.UNLABELLED), "every buffer is booked under a use: " + first);
            long weights = c.parameterCount() * floatBytes;
            assertEquals(weights, first.get(MemoryUse.PARAMETERS), "parameters");
            assertEquals(weights, first.get(MemoryUse.GRADIENTS), "gradients");
            assertEquals(2 * weights, first.get(MemoryUse.OPTIMIZER_STATE), "AdamATan2 m and v");
            assertEquals(weights, first.get(MemoryUse.EMA), "the EMA copy: values only, no gradients");
            assertEquals((c.puzzleTableSize() + 2L * c.hiddenSize()) * floatBytes, first.get(MemoryUse.BUFFERS),
                    "puzzle table, H_init, L_init");
            assertEquals(2L * batch * c.seq() * c.hiddenSize() * activationBytes, first.get(MemoryUse.CARRY), "carry");
            // the no-grad calls' one set: the blocks share one block's intermediates and keep their own out
            long bsd = (long) batch * c.seq() * c.hiddenSize() * activationBytes;
            long blockOwn = savedPerCall(c, batch, activationBytes, floatBytes) - bsd;  // per-block part, all layers
            long oneBlockIntermediates = blockOwn / c.layers() - bsd;                   // without its out
            long noGradSet = bsd + oneBlockIntermediates + c.layers() * bsd;            // input, shared part, outs
            // with it the embedded input x and the net's scratch: the sublayer output [B, S, D], the SwiGLU outputs
            long swigluOutputs = ((c.mlpT() ? (long) c.tokenIntermediate() * c.hiddenSize() : 0)
                    + (long) c.seq() * c.intermediate()) * batch * activationBytes;     // a1 [B, I_S, D], a2 [B, S, I]
            assertEquals(noGradSet + 2 * bsd + swigluOutputs, first.get(MemoryUse.CALL_ACTIVATIONS),
                    "the no-grad calls' set shares its blocks' intermediates");
            // n+1 calls, the last of which runs on the no-grad set's buffers (all of them: it has the same layout,
            // and block 0's intermediates are the ones the no-grad blocks share)
            assertEquals((c.lCycles() + 1) * savedPerCall(c, batch, activationBytes, floatBytes) - noGradSet,
                    first.get(MemoryUse.SAVED_ACTIVATIONS), "activations saved for the backward: n+1 calls, less the "
                            + "no-grad set the last one borrows");
        }
    }

    /**
     * One call's saved activations (NetActivations with forBackward): the injected input, then per block what its
     * backward reads. Written from the shapes in NetActivations' comment, not from its code. The SwiGLU outputs a1, a2
     * are not among them: the backward recomputes them from gu1, gu2 (into the net's scratch).
     */
    static long savedPerCall(TrmConfig c, int batch, int act, int f32) {
        long s = c.seq(), d = c.hiddenSize(), inter = c.intermediate(), b = batch;
        long perBlock;
        if (c.mlpT()) {
            long mi = c.tokenIntermediate();
            perBlock = 2 * mi * d * b * act + b * d * f32;                      // gu1; rstd1 [B, D]
        } else {
            perBlock = (3 * s * d + s * d) * b * act + b * c.numHeads() * s * f32 + b * s * f32;  // qkv, att; lse; rstd1
        }
        perBlock += (s * d + s * 2 * inter + s * d) * b * act + b * s * f32;  // h1, gu2, out; rstd2
        return b * s * d * act + c.layers() * perBlock;
    }

    /** A solver's parameters are made without gradients: half the weights' memory, and a training step refuses them. */
    public static void inferenceParametersHaveNoGradients(Backend be) {
        TrmConfig c = dev.trm.model.TinyConfigs.mixer();
        long before = be.memory().bytesByUse().getOrDefault(MemoryUse.GRADIENTS, 0L);
        TrmParameters p = TrmParameters.forInference(c, be);
        assertFalse(p.hasGradients());
        assertNull(p.parameters().get(0).grad());
        assertEquals(before, be.memory().bytesByUse().getOrDefault(MemoryUse.GRADIENTS, 0L), "no gradient booked");
        dev.trm.model.TrmModel m = new dev.trm.model.TrmModel(c, be, p);
        int[] tokens = new int[c.seqLen()], labels = new int[c.seqLen()];
        var batch = m.batch(tokens, labels, new int[] {0});
        var carry = m.initialCarry(1);
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> m.trainStep(batch, carry));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("without gradients"), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> new AdamAtan2(be, p));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("without gradients"), e.getMessage());
        m.forward(batch, carry);  // inference runs
        m.free();
        p.free(be);
    }
}
