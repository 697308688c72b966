package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision general matrix multiply for the CPU backend: {@code C = alpha * op(A) * op(B) + beta * C}.
 *
 * <p>All matrices are row-major: element (i, j) of X with leading dimension ldX is {@code x[xOff + i*ldX + j]}.
 * op(A) is m x k (A is stored k x m when transA), op(B) is k x n (B is stored n x k when transB), C is m x n.
 *
 * <p>How it is fast (the GotoBLAS/BLIS scheme, in Java's Vector API):
 * <ol>
 *   <li>k is cut into blocks of {@link #KC}. For each block, op(B)[kc x n] is <em>packed</em> into panels of
 *       {@link #NR} columns, each stored k-major ({@code panel[p*NR + j]}), zero-padded to a full panel. The
 *       micro-kernel then reads B as one contiguous stream of full vectors, whatever transB was.</li>
 *   <li>The output rows are split into blocks of {@link #MC} (and the columns into blocks when there are too few row
 *       blocks to keep every thread busy); each (row block, column block) is one task of {@link CpuParallel}. A task
 *       packs its rows of op(A)[mc x kc] into panels of {@link #MR} rows ({@code panel[p*MR + r]}), then, for each B
 *       panel (which stays in L1 while it is reused), runs the micro-kernel over each A panel.</li>
 *   <li>The micro-kernel keeps an MR x NR tile of C in 24 vector registers (6 rows x 4 vectors of 16 floats with
 *       AVX-512): per k step it loads 4 vectors of B, broadcasts 6 scalars of A, and issues 24 independent FMAs, enough
 *       to cover the FMA latency on both FMA ports. Loads per FMA stay well under the core's load bandwidth.</li>
 * </ol>
 *
 * <p>Determinism: every element of C is computed by exactly one task, as a sum over k in a fixed order (k blocks in
 * order; inside a block, p in order), so the result does not depend on thread scheduling or on the thread count.
 *
 * <p>beta == 0 overwrites C without reading it (old NaNs do not leak); k == 0 or alpha == 0 just scales C by beta.
 */
public final class Sgemm {

    private static final VectorSpecies<Float> V = FloatVector.SPECIES_PREFERRED;
    private static final int L = V.length();

    /** Rows of the register tile (micro-kernel). */
    static final int MR = 6;
    /** Columns of the register tile: 4 vectors (64 floats with AVX-512). 6 x 4 = 24 accumulators of 32 registers. */
    static final int NR = 4 * L;
    /**
     * Cache blocking: k is cut into blocks of kc, the rows of C into blocks of mc (one task each).
     * Package-private so a tuning harness can compare settings in one JVM.
     */
    record Blocking(int kc, int mc) {
        Blocking {
            if (kc < 1 || mc < MR || mc % MR != 0) throw new IllegalArgumentException("bad blocking kc=" + kc + " mc=" + mc);
        }
    }

    static final Blocking DEFAULT_BLOCKING = new Blocking(Integer.getInteger("tune.kc", 128), Integer.getInteger("tune.mc", 96));

    private Sgemm() {}

    /** Per-thread packing buffers, grown on demand and reused across calls (no garbage per GEMM). */
    private static final class Buffers {
        float[] packedB = new float[0];
        float[] packedA = new float[0];
        /** One MR x NR tile of sums, between the micro-kernel and C. */
        final float[] tile = new float[MR * NR];
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    /** {@link #sgemm(CpuParallel, boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)} on the shared pool. */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        sgemm(CpuParallel.shared(), transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    /** C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, on the given pool. */
    public static void sgemm(CpuParallel pool, boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        sgemm(pool, DEFAULT_BLOCKING, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    static void sgemm(CpuParallel pool, Blocking blocking, boolean transA, boolean transB, int m, int n, int k,
                      float alpha, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                      float beta, float[] c, int cOff, int ldc) {
        final int KC = blocking.kc(), MC = blocking.mc();
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("sgemm: negative size m=" + m + " n=" + n + " k=" + k);
        if (m == 0 || n == 0) return;
        checkMatrix("C", c, cOff, ldc, m, n);
        if (k == 0 || alpha == 0f) {
            scale(pool, m, n, beta, c, cOff, ldc);
            return;
        }
        // op(A) is m x k: stored m x k, or k x m when transposed; likewise op(B) is k x n, stored n x k when transposed.
        checkMatrix("A", a, aOff, lda, transA ? k : m, transA ? m : k);
        checkMatrix("B", b, bOff, ldb, transB ? n : k, transB ? k : n);

        int rowBlocks = ceilDiv(m, MC);
        int nPanels = ceilDiv(n, NR);
        // Too few row blocks to keep every thread busy (e.g. m = 97): also split the columns, in whole panels.
        int colBlocks = Math.min(nPanels, Math.max(1, ceilDiv(4 * pool.threads(), rowBlocks)));
        int panelsPerColBlock = ceilDiv(nPanels, colBlocks);
        colBlocks = ceilDiv(nPanels, panelsPerColBlock);
        final int tasks = rowBlocks * colBlocks;

        Buffers callerBuffers = BUFFERS.get();
        int packedBSize = nPanels * NR * KC;
        if (callerBuffers.packedB.length < packedBSize) callerBuffers.packedB = new float[packedBSize];
        final float[] packedB = callerBuffers.packedB;

        // Equal k blocks of at most KC (k = 776 gives 7 x 111, not 6 x 128 + a wasteful pass of 8).
        final int kBlocks = ceilDiv(k, KC), kcMax = ceilDiv(k, kBlocks);
        for (int p0 = 0; p0 < k; p0 += kcMax) {
            final int kc = Math.min(kcMax, k - p0);
            final int pBlock = p0;
            // Later k blocks accumulate onto what the first one wrote.
            final float blockBeta = p0 == 0 ? beta : 1f;

            pool.parallelFor(nPanels, panel ->
                    packB(transB, b, bOff, ldb, pBlock, kc, panel * NR, n, packedB, panel * NR * kc));

            final int cb = colBlocks;
            pool.parallelFor(tasks, task -> {
                int rowBlock = task / cb, colBlock = task % cb;
                int i0 = rowBlock * MC, mc = Math.min(MC, m - i0);
                int panel0 = colBlock * panelsPerColBlock, panel1 = Math.min(nPanels, panel0 + panelsPerColBlock);
                Buffers buf = BUFFERS.get();
                int aPanels = ceilDiv(mc, MR);
                if (buf.packedA.length < aPanels * MR * kc) buf.packedA = new float[ceilDiv(MC, MR) * MR * KC];
                packA(transA, a, aOff, lda, i0, mc, pBlock, kc, buf.packedA);
                for (int panel = panel0; panel < panel1; panel++) {
                    int j0 = panel * NR, nr = Math.min(NR, n - j0);
                    int bPanelOff = panel * NR * kc;
                    for (int ap = 0; ap < aPanels; ap++) {
                        int i = i0 + ap * MR, mr = Math.min(MR, m - i);
                        int aPanelOff = ap * MR * kc;
                        // Edge tiles compute the full zero-padded tile; updateC writes only the valid part.
                        kernel(kc, buf.packedA, aPanelOff, packedB, bPanelOff, buf.tile);
                        updateC(buf.tile, mr, nr, alpha, blockBeta, c, cOff + i * ldc + j0, ldc);
                    }
                }
            });
        }
    }

    /**
     * The register-blocked micro-kernel: tile[6 x NR] = sum over p < kc of A[:, p] B[p, :].
     * A panel: {@code ap[aOff + p*MR + r]}; B panel: {@code bp[bOff + p*NR + j]}; tile row r at {@code tile[r*NR]}.
     * The 24 accumulators are plain locals so the JIT keeps them in registers.
     */
    private static void kernel(int kc, float[] ap, int aOff, float[] bp, int bOff, float[] tile) {
        FloatVector c00 = FloatVector.zero(V), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00, c43 = c00;
        FloatVector c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        for (int p = 0; p < kc; p++) {
            int bo = bOff + p * NR;
            FloatVector b0 = FloatVector.fromArray(V, bp, bo);
            FloatVector b1 = FloatVector.fromArray(V, bp, bo + L);
            FloatVector b2 = FloatVector.fromArray(V, bp, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(V, bp, bo + 3 * L);
            int ao = aOff + p * MR;
            FloatVector a0 = FloatVector.broadcast(V, ap[ao]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01); c02 = a0.fma(b2, c02); c03 = a0.fma(b3, c03);
            FloatVector a1 = FloatVector.broadcast(V, ap[ao + 1]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11); c12 = a1.fma(b2, c12); c13 = a1.fma(b3, c13);
            FloatVector a2 = FloatVector.broadcast(V, ap[ao + 2]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21); c22 = a2.fma(b2, c22); c23 = a2.fma(b3, c23);
            FloatVector a3 = FloatVector.broadcast(V, ap[ao + 3]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31); c32 = a3.fma(b2, c32); c33 = a3.fma(b3, c33);
            FloatVector a4 = FloatVector.broadcast(V, ap[ao + 4]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41); c42 = a4.fma(b2, c42); c43 = a4.fma(b3, c43);
            FloatVector a5 = FloatVector.broadcast(V, ap[ao + 5]);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51); c52 = a5.fma(b2, c52); c53 = a5.fma(b3, c53);
        }
        // Spill the tile to scratch with plain stores. Passing the vectors to a helper instead would box them
        // whenever the JIT declines to inline it (and then every iteration allocates): 24 stores are cheaper.
        c00.intoArray(tile, 0); c01.intoArray(tile, L); c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
        c10.intoArray(tile, NR); c11.intoArray(tile, NR + L); c12.intoArray(tile, NR + 2 * L); c13.intoArray(tile, NR + 3 * L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c22.intoArray(tile, 2 * NR + 2 * L); c23.intoArray(tile, 2 * NR + 3 * L);
        c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L); c32.intoArray(tile, 3 * NR + 2 * L); c33.intoArray(tile, 3 * NR + 3 * L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L); c42.intoArray(tile, 4 * NR + 2 * L); c43.intoArray(tile, 4 * NR + 3 * L);
        c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L); c52.intoArray(tile, 5 * NR + 2 * L); c53.intoArray(tile, 5 * NR + 3 * L);
    }

    /**
     * Writes the valid mr x nr corner of a tile of sums into C: c = alpha * tile + beta * c, reading c only when
     * beta != 0 (so NaNs in an output that is being overwritten do not leak). Full rows go by vectors.
     */
    private static void updateC(float[] tile, int mr, int nr, float alpha, float beta, float[] c, int cOff, int ldc) {
        FloatVector va = FloatVector.broadcast(V, alpha), vb = FloatVector.broadcast(V, beta);
        for (int r = 0; r < mr; r++) {
            int t = r * NR, o = cOff + r * ldc;
            int j = 0;
            for (; j <= nr - L; j += L) {
                FloatVector sum = FloatVector.fromArray(V, tile, t + j).mul(va);
                if (beta != 0f) sum = FloatVector.fromArray(V, c, o + j).fma(vb, sum);
                sum.intoArray(c, o + j);
            }
            for (; j < nr; j++) {
                c[o + j] = beta == 0f ? alpha * tile[t + j] : alpha * tile[t + j] + beta * c[o + j];
            }
        }
    }

    /**
     * Packs op(B)[p0 .. p0+kc, j0 .. j0+NR) into one panel {@code dst[dOff + p*NR + j]}, zero-padding columns past n.
     */
    private static void packB(boolean transB, float[] b, int bOff, int ldb, int p0, int kc, int j0, int n,
                              float[] dst, int dOff) {
        int nr = Math.min(NR, n - j0);
        if (!transB) {
            // op(B)(p, j) = b[p*ldb + j]: each k step is a contiguous row segment; full panels copy as 4 vectors.
            for (int p = 0; p < kc; p++) {
                int src = bOff + (p0 + p) * ldb + j0, d = dOff + p * NR;
                if (nr == NR) {
                    for (int v = 0; v < NR; v += L) FloatVector.fromArray(V, b, src + v).intoArray(dst, d + v);
                } else {
                    for (int j = 0; j < nr; j++) dst[d + j] = b[src + j];
                    for (int j = nr; j < NR; j++) dst[d + j] = 0f;
                }
            }
        } else {
            // op(B)(p, j) = b[j*ldb + p]: a transpose; read each stored row contiguously, write with stride NR.
            for (int j = 0; j < nr; j++) {
                int src = bOff + (j0 + j) * ldb + p0, d = dOff + j;
                for (int p = 0; p < kc; p++) dst[d + p * NR] = b[src + p];
            }
            for (int j = nr; j < NR; j++) {
                for (int p = 0; p < kc; p++) dst[dOff + p * NR + j] = 0f;
            }
        }
    }

    /**
     * Packs op(A)[i0 .. i0+mc, p0 .. p0+kc) into panels of MR rows: panel q holds {@code dst[q*MR*kc + p*MR + r]},
     * zero-padding rows past mc.
     */
    private static void packA(boolean transA, float[] a, int aOff, int lda, int i0, int mc, int p0, int kc, float[] dst) {
        for (int q = 0; q * MR < mc; q++) {
            int base = q * MR * kc;
            int mr = Math.min(MR, mc - q * MR);
            if (!transA) {
                // op(A)(i, p) = a[i*lda + p]: read each row contiguously, write with stride MR.
                for (int r = 0; r < mr; r++) {
                    int src = aOff + (i0 + q * MR + r) * lda + p0, d = base + r;
                    for (int p = 0; p < kc; p++) dst[d + p * MR] = a[src + p];
                }
            } else {
                // op(A)(i, p) = a[p*lda + i]: the MR values of one k step are contiguous in A.
                for (int p = 0; p < kc; p++) {
                    int src = aOff + (p0 + p) * lda + i0 + q * MR, d = base + p * MR;
                    for (int r = 0; r < mr; r++) dst[d + r] = a[src + r];
                }
            }
            for (int r = mr; r < MR; r++) {
                for (int p = 0; p < kc; p++) dst[base + p * MR + r] = 0f;
            }
        }
    }

    /** C = beta * C (C = 0 when beta == 0, whatever C held). */
    private static void scale(CpuParallel pool, int m, int n, float beta, float[] c, int cOff, int ldc) {
        if (beta == 1f) return;
        pool.parallelForRange(m, Math.max(1, 16384 / n), (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                int o = cOff + i * ldc;
                if (beta == 0f) java.util.Arrays.fill(c, o, o + n, 0f);
                else for (int j = 0; j < n; j++) c[o + j] *= beta;
            }
        });
    }

    /** Checks that a rows x cols row-major matrix at off with leading dimension ld lies inside x. */
    private static void checkMatrix(String name, float[] x, int off, int ld, int rows, int cols) {
        if (x == null) throw new IllegalArgumentException("sgemm: " + name + " is null");
        if (ld < cols) throw new IllegalArgumentException("sgemm: ld" + name.toLowerCase() + "=" + ld + " < columns " + cols + " of " + name);
        long last = (long) off + (long) (rows - 1) * ld + cols; // one past the last element read or written
        if (off < 0 || (rows > 0 && cols > 0 && last > x.length)) {
            throw new IllegalArgumentException("sgemm: " + name + " (" + rows + " x " + cols + ", offset " + off
                    + ", ld " + ld + ") needs " + last + " floats but the array has " + x.length);
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
