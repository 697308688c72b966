package dev.trm.model;

/**
 * The architecture of one TRM (spec section 1.1). Immutable; the published configurations are in {@link Presets}.
 *
 * <p>Naming follows the paper where the code differs: {@code hCycles} is T (full recursion processes per supervision
 * step), {@code lCycles} is n (latent updates per process). Internally the sequence is {@code S = seqLen +
 * puzzleEmbLen}: the puzzle-embedding prefix comes first.
 *
 * @param vocabSize          token vocabulary (11 Sudoku, 6 Maze, 12 ARC)
 * @param seqLen             task sequence length L (81 or 900)
 * @param hiddenSize         D (512)
 * @param numHeads           attention heads; head size is D / numHeads (ignored when {@code mlpT})
 * @param expansion          SwiGLU expansion factor (4)
 * @param layers             blocks in the one network (2)
 * @param hCycles            T (3)
 * @param lCycles            n (6 Sudoku, 4 Maze/ARC)
 * @param mlpT               token-mixing MLP instead of attention (Sudoku-MLP)
 * @param rope               rotary position encoding on Q and K (false means no positional signal)
 * @param ropeTheta          RoPE base (10000)
 * @param rmsNormEps         RMSNorm epsilon (1e-5)
 * @param puzzleEmbLen       prefix positions P (16); only slot 0 carries the learned puzzle vector
 * @param numPuzzleIds       rows of the puzzle-embedding table (1 for Sudoku/Maze)
 * @param haltMaxSteps       N_sup, supervision steps before a forced halt (16)
 * @param haltExplorationProb probability of forcing a minimum number of steps in training (0.1)
 * @param loss               token loss: stablemax (every TRM config) or softmax
 */
public record TrmConfig(
        int vocabSize,
        int seqLen,
        int hiddenSize,
        int numHeads,
        int expansion,
        int layers,
        int hCycles,
        int lCycles,
        boolean mlpT,
        boolean rope,
        double ropeTheta,
        double rmsNormEps,
        int puzzleEmbLen,
        int numPuzzleIds,
        int haltMaxSteps,
        double haltExplorationProb,
        LossType loss) {

    public enum LossType { STABLEMAX, SOFTMAX }

    public TrmConfig {
        require(vocabSize >= 2, "vocabSize must be >= 2, got " + vocabSize);
        require(seqLen >= 1, "seqLen must be >= 1, got " + seqLen);
        require(hiddenSize >= 2 && hiddenSize % 2 == 0, "hiddenSize must be even and >= 2, got " + hiddenSize);
        require(mlpT || (numHeads >= 1 && hiddenSize % numHeads == 0),
                "hiddenSize " + hiddenSize + " must be divisible by numHeads " + numHeads);
        require(mlpT || !rope || (hiddenSize / numHeads) % 2 == 0, "RoPE needs an even head size");
        require(expansion >= 1, "expansion must be >= 1");
        require(layers >= 1, "layers must be >= 1");
        require(hCycles >= 1 && lCycles >= 1, "hCycles and lCycles must be >= 1");
        require(puzzleEmbLen >= 1, "puzzleEmbLen must be >= 1 (q_head reads prefix slot 0)");
        require(numPuzzleIds >= 1, "numPuzzleIds must be >= 1");
        require(haltMaxSteps >= 1, "haltMaxSteps must be >= 1");
        require(!(mlpT && rope), "mlp_t uses no positional encoding");
        if (loss == null) throw new IllegalArgumentException("loss must be set");
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    /** S = L + P, the internal sequence length (97 or 916). */
    public int seq() {
        return seqLen + puzzleEmbLen;
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** SwiGLU intermediate size of the channel MLP: ceil(round(expansion * D * 2/3) / 256) * 256 (1536 for D = 512). */
    public int intermediate() {
        return swigluIntermediate(expansion, hiddenSize);
    }

    /** SwiGLU intermediate size of the token mixer, over the sequence axis (512 for S = 97). */
    public int tokenIntermediate() {
        return swigluIntermediate(expansion, seq());
    }

    /** The rule of the official code's {@code _find_multiple(round(expansion * hidden * 2 / 3), 256)}. */
    public static int swigluIntermediate(int expansion, int hidden) {
        long r = Math.round(expansion * hidden * 2.0 / 3.0);
        return (int) ((r + 255) / 256 * 256);
    }

    /** Net calls per supervision step: T * (n + 1). */
    public int netCallsPerStep() {
        return hCycles * (lCycles + 1);
    }

    /** Trainable parameters as the official {@code num_params} counts them (puzzle table, H_init, L_init excluded). */
    public long parameterCount() {
        long d = hiddenSize;
        long perBlock = 2L * intermediate() * d + (long) intermediate() * d;
        if (mlpT) {
            long s = seq(), it = tokenIntermediate();
            perBlock += 2 * it * s + s * it;
        } else {
            perBlock += 3 * d * d + d * d;
        }
        return layers * perBlock + 2L * vocabSize * d + 2 * d + 2;
    }

    /** Floats in the puzzle-embedding table: numPuzzleIds x D (not counted in {@link #parameterCount()}). */
    public long puzzleTableSize() {
        return (long) numPuzzleIds * hiddenSize;
    }

    public TrmConfig withPuzzleIds(int ids) {
        return new TrmConfig(vocabSize, seqLen, hiddenSize, numHeads, expansion, layers, hCycles, lCycles, mlpT, rope,
                ropeTheta, rmsNormEps, puzzleEmbLen, ids, haltMaxSteps, haltExplorationProb, loss);
    }

    public TrmConfig withCycles(int t, int n) {
        return new TrmConfig(vocabSize, seqLen, hiddenSize, numHeads, expansion, layers, t, n, mlpT, rope,
                ropeTheta, rmsNormEps, puzzleEmbLen, numPuzzleIds, haltMaxSteps, haltExplorationProb, loss);
    }
}
