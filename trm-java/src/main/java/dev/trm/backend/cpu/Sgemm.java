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
 *   <li>k is cut into near-equal blocks of at most 128, whole vectors long (so a packed B panel, 128 x 64 floats = 32 KiB, stays in L1 while
 *       the kernel reuses it). op(B) is <em>packed</em> into panels of {@link #NR} columns stored k-major
 *       ({@code panel[p*NR + j]}), zero-padded to a full panel, for as many k blocks as fit in
 *       {@link #PACKED_B_BUDGET} (for TRM shapes: all of k). The micro-kernel then reads B as one contiguous stream
 *       of full vectors, whatever transB was; a transposed B is packed with gathers (L stored rows per vector).</li>
 *   <li>The rows of C are cut into blocks (at most 96 rows, a multiple of the thread count of them so the threads
 *       finish together; columns too when there are few rows, e.g. m = 97); each block is one task of
 *       {@link CpuParallel}. For each k block a task packs its rows of op(A) into panels of {@link #MR} rows (row
 *       r at {@code panel[r*KCS + p]}: an array copy per row, or gathers for a transposed A), then runs the
 *       micro-kernel over every (B panel, A panel) pair. The task's C block stays in L2 across its k blocks.</li>
 *   <li>The micro-kernel keeps an MR x NR tile of sums in 24 vector registers (6 rows x 4 vectors of 16 floats with
 *       AVX-512): per k step it loads 4 vectors of B, broadcasts 6 scalars of A, and issues 24 independent FMAs, enough
 *       to cover the FMA latency on both FMA ports. It then stores or adds the tile into C (alpha = 1, beta 0 or 1:
 *       the TRM cases), or into a scratch tile from which alpha and beta are applied.</li>
 * </ol>
 * A GEMM is two fork-joins on the pool (pack B; compute) per packed-B pass. Shapes that fit the tile far better the
 * other way round (the output head, n = 11) are computed as C^T = op(B)^T op(A)^T into scratch.
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
     * Row stride of a packed A panel: a constant, so the micro-kernel addresses its six rows from one register.
     * Bounds the k block (kc + L <= KCS: packing may write up to one vector past kc in a row).
     */
    static final int KCS = 256;

    /**
     * Cache blocking: k is cut into blocks of kc, the rows of C into blocks of mc (one task each), and at most
     * packedBBudget floats of packed B are held at once. Package-private so tests and tuning can vary it.
     */
    record Blocking(int kc, int mc, int packedBBudget) {
        Blocking {
            if (kc < 1 || kc + L > KCS || mc < MR || mc % MR != 0) throw new IllegalArgumentException("bad blocking kc=" + kc + " mc=" + mc);
        }
    }

    /** Most floats of packed B held at once by default (16 MiB): enough for every TRM shape's whole k in one go. */
    static final int PACKED_B_BUDGET = 1 << 22;

    static final Blocking DEFAULT_BLOCKING = new Blocking(128, 96, PACKED_B_BUDGET);

    private Sgemm() {}

    /** Per-thread scratch, grown on demand and reused across calls (no garbage per GEMM). */
    private static final class Buffers {
        float[] packedB = new float[0];
        private float[] packedA = new float[0];
        /** The n x m product of {@link #transposedProduct}. */
        float[] transposed = new float[0];
        /** One MR x NR tile of sums, between the micro-kernel and C for edge tiles and general alpha, beta. */
        final float[] tile = new float[MR * NR];

        float[] packedA(int size) {
            if (packedA.length < size) packedA = new float[size];
            return packedA;
        }
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
        final int KC = blocking.kc(), MC = blocking.mc(), budget = blocking.packedBBudget();
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

        // Only for a large gain: the swap also swaps which operand is packed by (slower) gathers.
        if (k >= 16 && tileUse(n, NR) * tileUse(m, MR) * 2 < tileUse(m, NR) * tileUse(n, MR)) {
            transposedProduct(pool, blocking, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            return;
        }

        // Tasks: row blocks of at most MC rows, as many as a multiple of the thread count so the threads finish
        // together (776 rows on 2 threads: 10 blocks of 78, not 9 of 96 with one thread doing 5).
        final int threads = pool.threads();
        int rowBlocks = ceilDiv(m, MC);
        if (threads > 1) rowBlocks = Math.min(ceilDiv(m, MR), ceilDiv(rowBlocks, threads) * threads);
        final int mcTask = ceilDiv(ceilDiv(m, rowBlocks), MR) * MR;
        rowBlocks = ceilDiv(m, mcTask);
        final int nPanels = ceilDiv(n, NR);
        // Too few row blocks to keep every thread busy (e.g. m = 97): also split the columns, in whole panels.
        int colBlocks = Math.min(nPanels, Math.max(1, ceilDiv(4 * threads, rowBlocks)));
        final int panelsPerColBlock = ceilDiv(nPanels, colBlocks);
        colBlocks = ceilDiv(nPanels, panelsPerColBlock);
        final int tasks = rowBlocks * colBlocks, cb = colBlocks;

        // Near-equal k blocks of at most KC (k = 776 gives 6 x 112 + 104, not 6 x 128 + a wasteful pass of 8).
        // Rounded up to a multiple of L so that only the last block has a ragged end.
        final int kBlocks = ceilDiv(k, KC), kcMax = Math.min(KC, ceilDiv(ceilDiv(k, kBlocks), L) * L);
        // B is packed for many k blocks at once (up to budget floats), so each task runs all those k blocks
        // on its rows while its C block stays in L2, and a GEMM costs two fork-joins per super-block, not per block.
        final int blocksPerSuper = Math.max(1, Math.min(kBlocks, budget / (nPanels * NR * kcMax)));
        Buffers callerBuffers = BUFFERS.get();
        int packedBSize = nPanels * NR * Math.min(k, blocksPerSuper * kcMax);
        if (callerBuffers.packedB.length < packedBSize) callerBuffers.packedB = new float[packedBSize];
        final float[] packedB = callerBuffers.packedB;
        // Lane offsets for the gathers that transpose a stored-transposed operand while packing it.
        final int[] bGather = transB ? laneStrides(ldb) : null;
        final int[] aGather = transA ? laneStrides(lda) : null;

        for (int super0 = 0; super0 < k; super0 += blocksPerSuper * kcMax) {
            final int superStart = super0, superEnd = Math.min(k, super0 + blocksPerSuper * kcMax);
            final int superBlocks = ceilDiv(superEnd - superStart, kcMax);
            // The k block starting at p0 is packed at (p0 - superStart) * nPanels * NR, panel by panel.
            pool.parallelFor(superBlocks * nPanels, job -> {
                int p0 = superStart + job / nPanels * kcMax, panel = job % nPanels;
                int kc = Math.min(kcMax, superEnd - p0);
                packB(transB, b, bOff, ldb, bGather, p0, kc, panel * NR, n, packedB,
                        (p0 - superStart) * nPanels * NR + panel * NR * kc);
            });

            pool.parallelFor(tasks, task -> {
                int i0 = task / cb * mcTask, mc = Math.min(mcTask, m - i0);
                int panel0 = task % cb * panelsPerColBlock, panel1 = Math.min(nPanels, panel0 + panelsPerColBlock);
                Buffers buf = BUFFERS.get();
                int aPanels = ceilDiv(mc, MR);
                for (int p0 = superStart; p0 < superEnd; p0 += kcMax) {
                    int kc = Math.min(kcMax, superEnd - p0);
                    // Later k blocks accumulate onto what the first one wrote.
                    float blockBeta = p0 == 0 ? beta : 1f;
                    float[] packedA = buf.packedA(aPanels * MR * KCS);
                    packA(transA, a, aOff, lda, aGather, i0, mc, p0, kc, packedA);
                    int bBlockOff = (p0 - superStart) * nPanels * NR;
                    for (int panel = panel0; panel < panel1; panel++) {
                        int j0 = panel * NR, nr = Math.min(NR, n - j0);
                        int bPanelOff = bBlockOff + panel * NR * kc;
                        for (int q = 0; q < aPanels; q++) {
                            int i = i0 + q * MR, mr = Math.min(MR, m - i);
                            if (mr == MR && nr == NR && alpha == 1f && (blockBeta == 0f || blockBeta == 1f)) {
                                // The common case (forward beta = 0, gradient accumulation beta = 1): straight into C.
                                kernel(kc, packedA, q * MR * KCS, packedB, bPanelOff, c, cOff + i * ldc + j0, ldc,
                                        blockBeta == 1f);
                            } else {
                                // Edge tiles and other alpha, beta: the full zero-padded tile goes to scratch, and
                                // updateC writes the valid part (for alpha 1, beta 0 or 1 bit-identical to the above).
                                kernel(kc, packedA, q * MR * KCS, packedB, bPanelOff, buf.tile, 0, NR, false);
                                updateC(buf.tile, mr, nr, alpha, blockBeta, c, cOff + i * ldc + j0, ldc);
                            }
                        }
                    }
                }
            });
        }
    }

    /** The fraction of padded tiles that is real work when size is covered by tiles of the given width. */
    private static double tileUse(int size, int tile) {
        return (double) size / (ceilDiv(size, tile) * tile);
    }

    /**
     * C = alpha * (op(B)^T op(A)^T)^T + beta * C: for shapes that fit the MR x NR tile much better the other way
     * round, e.g. the output head (n = 11, where 53 of every 64 tile columns would be padding). The transposed product
     * goes to scratch (n x m, small since n is), then into C.
     */
    private static void transposedProduct(CpuParallel pool, Blocking blocking, boolean transA, boolean transB,
                                          int m, int n, int k, float alpha, float[] a, int aOff, int lda,
                                          float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        Buffers buf = BUFFERS.get();
        if (buf.transposed.length < m * n) buf.transposed = new float[m * n];
        float[] t = buf.transposed;
        // op(B)^T is n x k: B itself when stored transposed, else B read transposed; likewise op(A)^T is k x m.
        sgemm(pool, blocking, !transB, !transA, n, m, k, 1f, b, bOff, ldb, a, aOff, lda, 0f, t, 0, m);
        pool.parallelForRange(m, Math.max(1, 4096 / n), (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                int o = cOff + i * ldc;
                for (int j = 0; j < n; j++) {
                    float sum = t[j * m + i];
                    c[o + j] = beta == 0f ? alpha * sum : Math.fma(beta, c[o + j], alpha * sum);
                }
            }
        });
    }

    /**
     * The register-blocked micro-kernel: C[6 x NR] = S (accumulate false) or C += S (accumulate true), where
     * S = sum over p < kc of A[r, p] B[p, :]. The A panel is {@code ap[aOff + r*KCS + p]} (KCS being a constant,
     * the six A rows are one base register plus fixed displacements), the B panel {@code bp[bOff + p*NR + j]}, C row
     * r starts at {@code c[cOff + r*ldc]}. The 24 accumulators are plain locals so the JIT keeps them in registers,
     * and nothing vector-typed crosses a call (a call the JIT declines to inline would box them, allocating in the
     * loop). Scaling by alpha and beta is left to {@link #updateC} (through a scratch tile): doing it here raises
     * register pressure enough that the JIT spills accumulators inside the k loop.
     */
    static void kernel(int kc, float[] ap, int aOff, float[] bp, int bOff, float[] c, int cOff, int ldc,
                       boolean accumulate) {
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
            int ao = aOff + p;
            FloatVector r0 = FloatVector.broadcast(V, ap[ao]);
            c00 = r0.fma(b0, c00); c01 = r0.fma(b1, c01); c02 = r0.fma(b2, c02); c03 = r0.fma(b3, c03);
            FloatVector r1 = FloatVector.broadcast(V, ap[ao + 1 * KCS]);
            c10 = r1.fma(b0, c10); c11 = r1.fma(b1, c11); c12 = r1.fma(b2, c12); c13 = r1.fma(b3, c13);
            FloatVector r2 = FloatVector.broadcast(V, ap[ao + 2 * KCS]);
            c20 = r2.fma(b0, c20); c21 = r2.fma(b1, c21); c22 = r2.fma(b2, c22); c23 = r2.fma(b3, c23);
            FloatVector r3 = FloatVector.broadcast(V, ap[ao + 3 * KCS]);
            c30 = r3.fma(b0, c30); c31 = r3.fma(b1, c31); c32 = r3.fma(b2, c32); c33 = r3.fma(b3, c33);
            FloatVector r4 = FloatVector.broadcast(V, ap[ao + 4 * KCS]);
            c40 = r4.fma(b0, c40); c41 = r4.fma(b1, c41); c42 = r4.fma(b2, c42); c43 = r4.fma(b3, c43);
            FloatVector r5 = FloatVector.broadcast(V, ap[ao + 5 * KCS]);
            c50 = r5.fma(b0, c50); c51 = r5.fma(b1, c51); c52 = r5.fma(b2, c52); c53 = r5.fma(b3, c53);
        }
        int o1 = cOff + ldc, o2 = o1 + ldc, o3 = o2 + ldc, o4 = o3 + ldc, o5 = o4 + ldc;
        if (accumulate) {
            c00.add(FloatVector.fromArray(V, c, cOff)).intoArray(c, cOff);
            c01.add(FloatVector.fromArray(V, c, cOff + L)).intoArray(c, cOff + L);
            c02.add(FloatVector.fromArray(V, c, cOff + 2 * L)).intoArray(c, cOff + 2 * L);
            c03.add(FloatVector.fromArray(V, c, cOff + 3 * L)).intoArray(c, cOff + 3 * L);
            c10.add(FloatVector.fromArray(V, c, o1)).intoArray(c, o1);
            c11.add(FloatVector.fromArray(V, c, o1 + L)).intoArray(c, o1 + L);
            c12.add(FloatVector.fromArray(V, c, o1 + 2 * L)).intoArray(c, o1 + 2 * L);
            c13.add(FloatVector.fromArray(V, c, o1 + 3 * L)).intoArray(c, o1 + 3 * L);
            c20.add(FloatVector.fromArray(V, c, o2)).intoArray(c, o2);
            c21.add(FloatVector.fromArray(V, c, o2 + L)).intoArray(c, o2 + L);
            c22.add(FloatVector.fromArray(V, c, o2 + 2 * L)).intoArray(c, o2 + 2 * L);
            c23.add(FloatVector.fromArray(V, c, o2 + 3 * L)).intoArray(c, o2 + 3 * L);
            c30.add(FloatVector.fromArray(V, c, o3)).intoArray(c, o3);
            c31.add(FloatVector.fromArray(V, c, o3 + L)).intoArray(c, o3 + L);
            c32.add(FloatVector.fromArray(V, c, o3 + 2 * L)).intoArray(c, o3 + 2 * L);
            c33.add(FloatVector.fromArray(V, c, o3 + 3 * L)).intoArray(c, o3 + 3 * L);
            c40.add(FloatVector.fromArray(V, c, o4)).intoArray(c, o4);
            c41.add(FloatVector.fromArray(V, c, o4 + L)).intoArray(c, o4 + L);
            c42.add(FloatVector.fromArray(V, c, o4 + 2 * L)).intoArray(c, o4 + 2 * L);
            c43.add(FloatVector.fromArray(V, c, o4 + 3 * L)).intoArray(c, o4 + 3 * L);
            c50.add(FloatVector.fromArray(V, c, o5)).intoArray(c, o5);
            c51.add(FloatVector.fromArray(V, c, o5 + L)).intoArray(c, o5 + L);
            c52.add(FloatVector.fromArray(V, c, o5 + 2 * L)).intoArray(c, o5 + 2 * L);
            c53.add(FloatVector.fromArray(V, c, o5 + 3 * L)).intoArray(c, o5 + 3 * L);
        } else {
            c00.intoArray(c, cOff); c01.intoArray(c, cOff + L); c02.intoArray(c, cOff + 2 * L); c03.intoArray(c, cOff + 3 * L);
            c10.intoArray(c, o1); c11.intoArray(c, o1 + L); c12.intoArray(c, o1 + 2 * L); c13.intoArray(c, o1 + 3 * L);
            c20.intoArray(c, o2); c21.intoArray(c, o2 + L); c22.intoArray(c, o2 + 2 * L); c23.intoArray(c, o2 + 3 * L);
            c30.intoArray(c, o3); c31.intoArray(c, o3 + L); c32.intoArray(c, o3 + 2 * L); c33.intoArray(c, o3 + 3 * L);
            c40.intoArray(c, o4); c41.intoArray(c, o4 + L); c42.intoArray(c, o4 + 2 * L); c43.intoArray(c, o4 + 3 * L);
            c50.intoArray(c, o5); c51.intoArray(c, o5 + L); c52.intoArray(c, o5 + 2 * L); c53.intoArray(c, o5 + 3 * L);
        }
    }

    /**
     * Writes the valid mr x nr corner of a tile of sums into C: c = alpha * tile + beta * c, reading c only when
     * beta != 0 (so NaNs in an output that is being overwritten do not leak). With beta != 0 it is one rounding,
     * fma(beta, c, alpha * tile), which for beta == 1 is exactly c + alpha * tile.
     */
    static void updateC(float[] tile, int mr, int nr, float alpha, float beta, float[] c, int cOff, int ldc) {
        if (mr == MR && nr == NR) {
            FloatVector va = FloatVector.broadcast(V, alpha);
            if (beta == 0f) {
                for (int r = 0; r < MR; r++) {
                    for (int j = 0; j < NR; j += L) {
                        FloatVector.fromArray(V, tile, r * NR + j).mul(va).intoArray(c, cOff + r * ldc + j);
                    }
                }
            } else {
                FloatVector vb = FloatVector.broadcast(V, beta);
                for (int r = 0; r < MR; r++) {
                    for (int j = 0; j < NR; j += L) {
                        int o = cOff + r * ldc + j;
                        FloatVector.fromArray(V, c, o).fma(vb, FloatVector.fromArray(V, tile, r * NR + j).mul(va)).intoArray(c, o);
                    }
                }
            }
            return;
        }
        for (int r = 0; r < mr; r++) {
            int t = r * NR, o = cOff + r * ldc;
            for (int j = 0; j < nr; j++) {
                c[o + j] = beta == 0f ? alpha * tile[t + j] : Math.fma(beta, c[o + j], alpha * tile[t + j]);
            }
        }
    }

    /** {0, ld, 2*ld, ...}: one vector's worth of gather offsets, walking down a column of a row-major matrix. */
    static int[] laneStrides(int ld) {
        if ((long) (L - 1) * ld > Integer.MAX_VALUE) return null; // too far apart to gather: scalar copies
        int[] map = new int[L];
        for (int i = 0; i < L; i++) map[i] = i * ld;
        return map;
    }

    /**
     * Packs op(B)[p0 .. p0+kc, j0 .. j0+NR) into one panel {@code dst[dOff + p*NR + j]}, zero-padding columns past n.
     */
    static void packB(boolean transB, float[] b, int bOff, int ldb, int[] gather, int p0, int kc, int j0, int n,
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
            // op(B)(p, j) = b[j*ldb + p]: a transpose. Each group of L columns is one gather per k step: L stored
            // rows, one element each; successive k steps hit the same L cache lines, so they stay in L1.
            int full = gather == null ? 0 : nr / L * L;
            for (int j = 0; j < full; j += L) {
                int src = bOff + (j0 + j) * ldb + p0, d = dOff + j;
                for (int p = 0; p < kc; p++) FloatVector.fromArray(V, b, src + p, gather, 0).intoArray(dst, d + p * NR);
            }
            for (int j = full; j < nr; j++) {
                int src = bOff + (j0 + j) * ldb + p0, d = dOff + j;
                for (int p = 0; p < kc; p++) dst[d + p * NR] = b[src + p];
            }
            for (int j = nr; j < NR; j++) {
                for (int p = 0; p < kc; p++) dst[dOff + p * NR + j] = 0f;
            }
        }
    }

    /**
     * Packs op(A)[i0 .. i0+mc, p0 .. p0+kc) into panels of MR rows: row r of panel q is
     * {@code dst[q*MR*KCS + r*KCS + p]}, rows past mc zero. From row-major A each row is one array copy. From a
     * stored-transposed A (op(A)(i, p) = a[p*lda + i]) each run of L k steps of a row is one gather down a column of
     * A; the loop takes L k steps for all rows before the next L, so the L source lines being gathered from (a power
     * of two apart, hence in few cache sets) are reused by the following rows while still in L1.
     */
    static void packA(boolean transA, float[] a, int aOff, int lda, int[] gather,
                      int i0, int mc, int p0, int kc, float[] dst) {
        int rows = ceilDiv(mc, MR) * MR;
        for (int ii = mc; ii < rows; ii++) {
            int d = ii * KCS; // panel ii / MR at (ii / MR) * MR * KCS, row ii % MR at (ii % MR) * KCS
            java.util.Arrays.fill(dst, d, d + kc, 0f);
        }
        if (!transA) {
            for (int ii = 0; ii < mc; ii++) {
                System.arraycopy(a, aOff + (i0 + ii) * lda + p0, dst, ii * KCS, kc);
            }
            return;
        }
        int full = gather == null ? 0 : kc / L * L;
        for (int p = 0; p < full; p += L) {
            int src = aOff + (p0 + p) * lda + i0;
            for (int ii = 0; ii < mc; ii++) FloatVector.fromArray(V, a, src + ii, gather, 0).intoArray(dst, ii * KCS + p);
        }
        if (full < kc && gather != null) {
            // The last kc % L k steps: still one gather per row (element-wise copies here, with their scattered
            // stores, cost several times more). Lanes past the end re-read lane 0 (a masked gather would still
            // range-check them); what they store lands past kc in the row, where the kernel never reads.
            int[] tailMap = java.util.Arrays.copyOf(gather, L);
            java.util.Arrays.fill(tailMap, kc - full, L, 0);
            int src = aOff + (p0 + full) * lda + i0;
            for (int ii = 0; ii < mc; ii++) FloatVector.fromArray(V, a, src + ii, tailMap, 0).intoArray(dst, ii * KCS + full);
        } else {
            for (int p = full; p < kc; p++) {
                int src = aOff + (p0 + p) * lda + i0;
                for (int ii = 0; ii < mc; ii++) dst[ii * KCS + p] = a[src + ii];
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
