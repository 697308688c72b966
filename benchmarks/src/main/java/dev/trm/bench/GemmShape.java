package dev.trm.bench;

import java.util.List;

/**
 * One GEMM shape TRM runs, as {@code C[m x n] = op(A)[m x k] op(B)[k x n]}, named by where it occurs.
 * B*S = 8 * 97 = 776 (Sudoku-Extreme batch 8) and 916; model width 512, attention qkv 1536, SwiGLU 2 x 1536 = 3072.
 */
public record GemmShape(String name, boolean transA, boolean transB, int m, int n, int k) {

    /** The TRM shapes, the main forward one first. */
    public static final List<GemmShape> TRM = List.of(
            // Forward Y = X W^T (NT): m = B*S tokens.
            new GemmShape("fwd-qkv", false, true, 776, 1536, 512),
            new GemmShape("fwd-out", false, true, 776, 512, 512),
            new GemmShape("fwd-mlp-up", false, true, 776, 3072, 512),
            new GemmShape("fwd-mlp-down", false, true, 776, 512, 1536),
            new GemmShape("fwd-head", false, true, 776, 11, 512),
            new GemmShape("fwd-qkv-916", false, true, 916, 1536, 512),
            // Backward dX = dY W (NN).
            new GemmShape("bwd-dx-qkv", false, false, 776, 512, 1536),
            new GemmShape("bwd-dx-mlp-up", false, false, 776, 512, 3072),
            new GemmShape("bwd-dx-mlp-down", false, false, 776, 1536, 512),
            // Backward dW += dY^T X (TN): k = B*S.
            new GemmShape("bwd-dw-qkv", true, false, 1536, 512, 776),
            new GemmShape("bwd-dw-mlp-up", true, false, 3072, 512, 776),
            new GemmShape("bwd-dw-mlp-down", true, false, 512, 1536, 776),
            new GemmShape("bwd-dw-qkv-7328", true, false, 1536, 512, 7328),
            // Token mixer Y_b = W X_b (NN) and its backward transposes.
            new GemmShape("mix-fwd-1", false, false, 1024, 512, 97),
            new GemmShape("mix-fwd-2", false, false, 97, 512, 512),
            new GemmShape("mix-bwd-dw-1", false, true, 1024, 97, 512),
            new GemmShape("mix-bwd-dx-1", true, false, 97, 512, 1024),
            new GemmShape("mix-bwd-dw-2", false, true, 97, 512, 512),
            new GemmShape("mix-bwd-dx-2", true, false, 512, 512, 97),
            // The same token mixer as the CPU backend runs it: one GEMM for all 8 batch rows (n = 8 * 512 columns).
            new GemmShape("mixb-fwd-1", false, false, 1024, 4096, 97),
            new GemmShape("mixb-fwd-2", false, false, 97, 4096, 512),
            new GemmShape("mixb-bwd-dx-1", true, false, 97, 4096, 1024),
            new GemmShape("mixb-bwd-dw-1", false, true, 1024, 97, 4096),
            new GemmShape("mixb-bwd-dx-2", true, false, 512, 4096, 97),
            new GemmShape("mixb-bwd-dw-2", false, true, 97, 512, 4096));

    public static GemmShape named(String name) {
        return TRM.stream().filter(s -> s.name.equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown GEMM shape '" + name + "'"));
    }

    public double flop() {
        return 2.0 * m * n * k;
    }

    /** Rows x columns of A, B and C as stored (a transposed operand is stored with its dimensions swapped). */
    public int aRows() { return transA ? k : m; }
    public int aCols() { return transA ? m : k; }
    public int bRows() { return transB ? n : k; }
    public int bCols() { return transB ? k : n; }

    public String layout() {
        return (transA ? "T" : "N") + (transB ? "T" : "N");
    }

    @Override
    public String toString() {
        return String.format("%s %s %dx%dx%d", name, layout(), m, n, k);
    }
}
