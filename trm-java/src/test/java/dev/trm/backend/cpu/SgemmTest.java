package dev.trm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Sgemm against a naive double-precision reference, over transposes, odd shapes, offsets, strides and alpha/beta. */
class SgemmTest {

    /** Shapes (m, n, k): ones, sizes that are not multiples of the 6-row or 64-column tile, several k blocks. */
    private static final int[][] SHAPES = {
        {1, 1, 1}, {1, 17, 3}, {3, 1, 17}, {17, 33, 1}, {33, 3, 97}, {97, 130, 33}, {130, 97, 17},
        {3, 130, 130}, {130, 1, 97}, {6, 64, 128}, {12, 128, 300}, {100, 150, 260}, {97, 200, 50},
    };

    private static final boolean[] BOOLS = {false, true};

    @Test
    void matchesReferenceForAllTransposesAndShapes() {
        Random rnd = new Random(1);
        for (int[] s : SHAPES) {
            for (boolean ta : BOOLS) {
                for (boolean tb : BOOLS) {
                    check(rnd, CpuParallel.shared(), ta, tb, s[0], s[1], s[2], 1f, 0f, 0, 0);
                }
            }
        }
    }

    @Test
    void longKSpansSeveralPackedBPasses() {
        // A packed-B budget of 3 k blocks of one panel: k = 1000 takes 3 passes of packing B and consuming it.
        Random rnd = new Random(8);
        Sgemm.Blocking small = new Sgemm.Blocking(128, 96, 3 * 128 * Sgemm.NR);
        for (boolean ta : BOOLS) {
            for (boolean tb : BOOLS) {
                int m = 20, n = 30, k = 1000;
                float[] a = random(rnd, m * k), b = random(rnd, k * n);
                float[] expected = new float[m * n], got = new float[m * n];
                Sgemm.sgemm(CpuParallel.shared(), ta, tb, m, n, k, 1f, a, 0, ta ? m : k, b, 0, tb ? k : n, 0f, expected, 0, n);
                Sgemm.sgemm(CpuParallel.shared(), small, ta, tb, m, n, k, 1f, a, 0, ta ? m : k, b, 0, tb ? k : n, 0f, got, 0, n);
                // Same k blocks summed in the same order: bit-identical to the one-pass result (checked above
                // against the reference), however B's packing is split.
                assertArrayEquals(expected, got);
            }
        }
        check(rnd, CpuParallel.shared(), false, false, 7, 16, 5000, 1f, 0.5f, 0, 0);
    }

    @Test
    void honoursOffsetsAndLeadingDimensionsLargerThanTheWidth() {
        Random rnd = new Random(2);
        for (boolean ta : BOOLS) {
            for (boolean tb : BOOLS) {
                check(rnd, CpuParallel.shared(), ta, tb, 33, 97, 130, 1f, 0f, 5, 7);
                check(rnd, CpuParallel.shared(), ta, tb, 130, 17, 3, 0.75f, 0.5f, 11, 1);
                check(rnd, CpuParallel.shared(), ta, tb, 1, 1, 1, 1f, 1f, 3, 2);
                // Few columns, many rows: computed as the transposed product, then written back transposed.
                check(rnd, CpuParallel.shared(), ta, tb, 130, 5, 40, 1.5f, 0.5f, 3, 4);
            }
        }
    }

    @Test
    void alphaAndBetaVariants() {
        Random rnd = new Random(3);
        float[][] alphaBeta = {{1f, 0f}, {0.5f, 0f}, {1f, 1f}, {-2f, 0.25f}, {1.5f, -1f}, {0f, 0.5f}, {0f, 0f}, {0f, 1f}};
        for (float[] ab : alphaBeta) {
            for (boolean ta : BOOLS) {
                for (boolean tb : BOOLS) {
                    check(rnd, CpuParallel.shared(), ta, tb, 17, 70, 33, ab[0], ab[1], 1, 3);
                }
            }
        }
    }

    @Test
    void kZeroScalesCByBeta() {
        Random rnd = new Random(4);
        check(rnd, CpuParallel.shared(), false, true, 9, 5, 0, 1f, 0.5f, 0, 0);
        check(rnd, CpuParallel.shared(), true, false, 9, 5, 0, 1f, 0f, 0, 2);
    }

    @Test
    void betaZeroIgnoresNaNInC() {
        Random rnd = new Random(5);
        for (boolean ta : BOOLS) {
            for (boolean tb : BOOLS) {
                int m = 97, n = 70, k = 33;
                float[] a = random(rnd, m * k), b = random(rnd, k * n);
                float[] c = new float[m * n];
                Arrays.fill(c, Float.NaN);
                Sgemm.sgemm(ta, tb, m, n, k, 1f, a, 0, ta ? m : k, b, 0, tb ? k : n, 0f, c, 0, n);
                for (float v : c) assertTrue(Float.isFinite(v), "beta = 0 must not read the NaNs in C (ta=" + ta + ", tb=" + tb + ")");
                // k = 0 and alpha = 0 with beta = 0 must also clear the NaNs.
                Arrays.fill(c, Float.NaN);
                Sgemm.sgemm(ta, tb, m, n, 0, 1f, a, 0, ta ? m : 1, b, 0, tb ? 1 : n, 0f, c, 0, n);
                for (float v : c) assertEquals(0f, v);
                Arrays.fill(c, Float.NaN);
                Sgemm.sgemm(ta, tb, m, n, k, 0f, a, 0, ta ? m : k, b, 0, tb ? k : n, 0f, c, 0, n);
                for (float v : c) assertEquals(0f, v);
            }
        }
    }

    @Test
    void sameThreadCountGivesBitIdenticalResults() {
        Random rnd = new Random(6);
        int m = 200, n = 150, k = 300;
        float[] a = random(rnd, m * k), b = random(rnd, n * k);
        float[] c1 = new float[m * n], c2 = new float[m * n], c3 = new float[m * n];
        CpuParallel pool = CpuParallel.withThreads(3);
        Sgemm.sgemm(pool, false, true, m, n, k, 1f, a, 0, k, b, 0, k, 0f, c1, 0, n);
        Sgemm.sgemm(pool, false, true, m, n, k, 1f, a, 0, k, b, 0, k, 0f, c2, 0, n);
        assertArrayEquals(c1, c2, "same inputs, same pool: results must be bit-identical");
        // Not promised by the API, but true of this design (k is summed in the same fixed order whoever runs a
        // tile): a different thread count gives the same bits. A change that breaks this should be deliberate.
        Sgemm.sgemm(CpuParallel.withThreads(1), false, true, m, n, k, 1f, a, 0, k, b, 0, k, 0f, c3, 0, n);
        assertArrayEquals(c1, c3);
    }

    @Test
    void edgeTilesGiveTheSameBitsAsFullTiles() {
        // Row 6 of a 7-row product falls in a partial (edge) tile; computed again as the last row of a 6-row product
        // starting one row later, it is in a full tile. The two paths must agree bit for bit, or results would
        // depend on how rows happen to be blocked.
        Random rnd = new Random(9);
        int n = Sgemm.NR, k = 300;
        float[] a = random(rnd, 7 * k), b = random(rnd, k * n);
        for (float beta : new float[] {0f, 1f}) {
            float[] c7 = random(new Random(10), 7 * n), c6 = Arrays.copyOfRange(c7, n, 7 * n);
            Sgemm.sgemm(false, false, 7, n, k, 1f, a, 0, k, b, 0, n, beta, c7, 0, n);
            Sgemm.sgemm(false, false, 6, n, k, 1f, a, k, k, b, 0, n, beta, c6, 0, n);
            assertArrayEquals(Arrays.copyOfRange(c7, n, 7 * n), c6, "beta = " + beta);
        }
    }

    @Test
    void concurrentCallersShareThePoolSafely() throws Exception {
        // Two application threads multiplying different matrices through the one shared pool at the same time: each
        // result must equal what the same call gives alone (per-thread scratch, no shared state between calls).
        Random rnd = new Random(11);
        int m = 60, n = 100, k = 150;
        float[][] as = {random(rnd, m * k), random(rnd, m * k)}, bs = {random(rnd, k * n), random(rnd, k * n)};
        float[][] alone = new float[2][m * n];
        for (int t = 0; t < 2; t++) Sgemm.sgemm(false, true, m, n, k, 1f, as[t], 0, k, bs[t], 0, k, 0f, alone[t], 0, n);
        Thread[] threads = new Thread[2];
        Throwable[] failure = new Throwable[1];
        for (int t = 0; t < 2; t++) {
            int id = t;
            threads[t] = new Thread(() -> {
                try {
                    float[] c = new float[m * n];
                    for (int rep = 0; rep < 8; rep++) {
                        Sgemm.sgemm(false, true, m, n, k, 1f, as[id], 0, k, bs[id], 0, k, 0f, c, 0, n);
                        assertArrayEquals(alone[id], c, "caller " + id + ", call " + rep);
                    }
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                }
            });
            threads[t].start();
        }
        for (Thread t : threads) t.join();
        if (failure[0] != null) throw new AssertionError(failure[0]);
    }

    @Test
    void runsOnPoolsOfEverySize() {
        Random rnd = new Random(7);
        for (int threads : new int[] {1, 2, 5}) {
            check(rnd, CpuParallel.withThreads(threads), false, false, 130, 97, 300, 1f, 0f, 0, 0);
            check(rnd, CpuParallel.withThreads(threads), true, true, 13, 300, 17, 1f, 1f, 0, 0);
        }
    }

    @Test
    void rejectsArraysTooSmallForTheShape() {
        float[] a = new float[6], b = new float[6], c = new float[4];
        // 2x3 times 3x2 fits exactly; one more row of A does not.
        Sgemm.sgemm(false, false, 2, 2, 3, 1f, a, 0, 3, b, 0, 2, 0f, c, 0, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Sgemm.sgemm(false, false, 3, 2, 3, 1f, a, 0, 3, b, 0, 2, 0f, new float[6], 0, 2));
        assertTrue(e.getMessage().contains("A"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Sgemm.sgemm(false, false, 2, 2, 3, 1f, a, 0, 2, b, 0, 2, 0f, c, 0, 2)); // lda < k
        assertThrows(IllegalArgumentException.class,
                () -> Sgemm.sgemm(false, false, 2, 2, 3, 1f, a, 0, 3, b, 1, 2, 0f, c, 0, 2)); // B offset overruns
        assertThrows(IllegalArgumentException.class,
                () -> Sgemm.sgemm(false, false, 2, 2, 3, 1f, a, 0, 3, b, 0, 2, 0f, c, 1, 2)); // C offset overruns
    }

    /**
     * Runs one GEMM with A, B and C embedded in larger arrays (offset {@code off}, leading dimensions widened by
     * {@code pad}) and compares every element of C with a double-precision reference; also checks that nothing outside
     * C's m x n window changed.
     */
    private static void check(Random rnd, CpuParallel pool, boolean ta, boolean tb, int m, int n, int k,
                              float alpha, float beta, int off, int pad) {
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = Math.max(1, aCols + pad), ldb = Math.max(1, bCols + pad), ldc = n + pad;
        float[] a = random(rnd, off + aRows * lda), b = random(rnd, off + bRows * ldb);
        float[] c = random(rnd, off + m * ldc);
        float[] c0 = c.clone();
        Sgemm.sgemm(pool, ta, tb, m, n, k, alpha, a, off, lda, b, off, ldb, beta, c, off, ldc);

        String what = String.format("ta=%b tb=%b m=%d n=%d k=%d alpha=%s beta=%s off=%d pad=%d", ta, tb, m, n, k, alpha, beta, off, pad);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0, absSum = 0;
                for (int p = 0; p < k; p++) {
                    double x = a[ta ? off + p * lda + i : off + i * lda + p];
                    double y = b[tb ? off + j * ldb + p : off + p * ldb + j];
                    sum += x * y;
                    absSum += Math.abs(x * y);
                }
                double old = c0[off + i * ldc + j];
                double ref = alpha * sum + (beta == 0 ? 0 : beta * old);
                // Tolerance: the classic bound for a float sum of k products is |err| <= gamma_k * sum|a_p b_p| with
                // gamma_k ~ k * 2^-24; the alpha scaling and the beta update add a couple of roundings. We allow
                // (k + 4) * 2^-23 relative to the magnitudes involved: rigorous for any summation order, yet a
                // missing, doubled or misplaced term (error ~ absSum / k) is far above it for the k used here.
                double tol = (k + 4) * 0x1p-23 * (Math.abs(alpha) * absSum + Math.abs(beta * old)) + 1e-30;
                double got = c[off + i * ldc + j];
                if (!(Math.abs(got - ref) <= tol)) {
                    fail(what + ": C(" + i + "," + j + ") = " + got + ", reference " + ref + ", tolerance " + tol);
                }
            }
        }
        // Outside the m x n window (the offset prefix and the ld padding) C must be untouched.
        for (int idx = 0; idx < c.length; idx++) {
            int rel = idx - off;
            boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
            if (!inside && Float.floatToRawIntBits(c[idx]) != Float.floatToRawIntBits(c0[idx])) {
                fail(what + ": wrote outside C at index " + idx);
            }
        }
    }

    private static float[] random(Random rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = rnd.nextFloat() * 2 - 1;
        return x;
    }
}
