package dev.trm.backend.cpu;

/**
 * The input embedding with the puzzle prefix, forward and backward (spec 1.2; reference: RefOps.embed*; GPU:
 * kernels/embedding.cu). x [B, P + L, D]: slot 0 the puzzle row, slots 1..P-1 zero, then the token rows, all times
 * sqrt(D).
 */
final class Embedding {
    private Embedding() {}

    static void forward(int[] tokens, int[] puzzleIds, float[] embed, float[] table, float[] x,
                        int batch, int len, int dim, int prefix, float scale, int vocab, int ids) {
        int seq = prefix + len;
        CpuParallel.shared().parallelFor(batch, b -> {
            int base = b * seq * dim;
            java.util.Arrays.fill(x, base, base + prefix * dim, 0f);
            int pid = puzzleIds[b];
            if (pid < 0 || pid >= ids) {
                throw new IllegalArgumentException("puzzle identifier " + pid + " at batch row " + b
                        + " is outside the table [0, " + ids + ")");
            }
            for (int j = 0; j < dim; j++) x[base + j] = table[pid * dim + j] * scale;
            for (int t = 0; t < len; t++) {
                int tok = tokens[b * len + t];
                if (tok < 0 || tok >= vocab) {
                    throw new IllegalArgumentException("token " + tok + " at batch row " + b + ", position " + t
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
                int row = base + (prefix + t) * dim;
                for (int j = 0; j < dim; j++) x[row + j] = embed[tok * dim + j] * scale;
            }
        });
    }

    /** dEmbed [V, D] += (serial: rows of different slots may share a token); dPuzzle [B, D] =. */
    static void backward(int[] tokens, float[] dx, float[] dEmbed, float[] dPuzzle,
                         int batch, int len, int dim, int prefix, float scale) {
        int seq = prefix + len;
        for (int b = 0; b < batch; b++) {
            int base = b * seq * dim;
            for (int j = 0; j < dim; j++) dPuzzle[b * dim + j] = dx[base + j] * scale;
            for (int t = 0; t < len; t++) {
                int tok = tokens[b * len + t], row = base + (prefix + t) * dim;
                for (int j = 0; j < dim; j++) dEmbed[tok * dim + j] += dx[row + j] * scale;
            }
        }
    }
}
