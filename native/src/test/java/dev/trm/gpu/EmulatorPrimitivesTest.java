package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The EMULATED device's CUDA semantics, through the check kernels of kernels/src/test/cuda/emu_checks.cu (built
 * into the emulation library only): warp votes and shuffles, barriers with shared memory, 2-D blocks and grids,
 * dynamic shared memory, atomics, a deadlock reported instead of a hang, and WMMA (its product, and the launch
 * failing on a misaligned pointer or a bad leading dimension, as real hardware requires).
 */
@Tag("emulated")
class EmulatorPrimitivesTest {
    static GpuDevice dev;

    @BeforeAll
    static void open() {
        ProbeResult r = DeviceProbe.probe(Backend.EMULATED);
        assumeTrue(r.available(), () -> "emulated device unavailable: " + r.reason());
        dev = GpuDevice.open(Backend.EMULATED);
    }

    @AfterAll
    static void close() {
        if (dev != null) dev.close();
    }

    @Test
    void emulatedWarpVotesAndShufflesFollowCuda() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 64 * 7)) {
            dev.kernel("emu_check_warp").launch(dev.defaultStream(), 1, 64, 0, KernelArgs.of().ptr(out));
            int[] o = out.downloadInts();
            for (int t = 0; t < 64; t++) {
                int lane = t % 32, b = 7 * t;
                assertEquals(0xaaaaaaaa, o[b], "ballot(lane odd) at thread " + t);
                assertEquals(1, o[b + 1], "any(lane == 5)");
                assertEquals(0, o[b + 2], "all(lane < 31)");
                assertEquals(30, o[b + 3], "shfl from lane 3");
                assertEquals(lane == 0 ? 0 : lane - 1, o[b + 4], "shfl_up by 1 (lane 0 keeps its own)");
                assertEquals(lane >= 30 ? lane : lane + 2, o[b + 5], "shfl_down by 2 (lanes 30, 31 keep their own)");
                assertEquals(lane ^ 1, o[b + 6], "shfl_xor 1");
            }
        }
    }

    @Test
    void emulatedBarriersSharedMemoryAnd2dIndexing() {
        int bx = 8, by = 4, gx = 3, gy = 2, n = bx * by, blocks = gx * gy;
        try (DeviceBuffer out = dev.alloc(DType.I32, n * blocks)) {
            dev.kernel("emu_check_block").launch(dev.defaultStream(), gx, gy, 1, bx, by, 1, n * 4,
                    KernelArgs.of().ptr(out));
            int[] o = out.downloadInts();
            for (int blk = 0; blk < blocks; blk++) {
                for (int t = 0; t < n; t++) assertEquals(n - 1 - t + 1000 * blk, o[blk * n + t], "block " + blk);
            }
        }
    }

    /**
     * A launch gets at most 48 KiB of dynamic shared memory unless the kernel opted in with cuFuncSetAttribute
     * (dev.trm.gpu never does): exactly 48 KiB runs, more fails as cuLaunchKernel does on a GPU.
     */
    @Test
    void emulatedDynamicSharedMemoryStopsAt48KiB() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 32)) {
            dev.kernel("emu_check_block").launch(dev.defaultStream(), 1, 32, 48 * 1024, KernelArgs.of().ptr(out));
            assertEquals(31, out.downloadInts()[0]);
            CudaException ex = assertThrows(CudaException.class, () -> dev.kernel("emu_check_block")
                    .launch(dev.defaultStream(), 1, 32, 48 * 1024 + 4, KernelArgs.of().ptr(out)));
            assertEquals("CUDA_ERROR_INVALID_VALUE", ex.statusName());
            assertTrue(ex.getMessage().contains("without opting in"), ex.getMessage());
        }
    }

    /** CUDA's per-dimension launch limits: gridDim.y, .z <= 65535 and blockDim.z <= 64, refused before anything runs. */
    @Test
    void emulatedLaunchLimitsPerDimensionFollowCuda() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 128)) {
            for (int[] bad : new int[][] {{1, 65536, 1, 1, 1, 1}, {1, 1, 65536, 1, 1, 1}, {1, 1, 1, 1, 1, 65}}) {
                CudaException ex = assertThrows(CudaException.class, () -> dev.kernel("emu_check_block").launch(
                        dev.defaultStream(), bad[0], bad[1], bad[2], bad[3], bad[4], bad[5], 0, KernelArgs.of().ptr(out)));
                assertEquals("CUDA_ERROR_INVALID_VALUE", ex.statusName());
            }
            dev.kernel("emu_check_block").launch(dev.defaultStream(), 1, 1, 1, 1, 1, 64, 64 * 4, KernelArgs.of().ptr(out));
            assertEquals(0, out.downloadInts()[0]);  // blockDim.z = 64 runs (the kernel indexes x and y only: n = 1)
        }
    }

    @Test
    void emulatedAtomicsAccumulateEveryThread() {
        try (DeviceBuffer counter = dev.alloc(DType.I32, 1).upload(new int[] {0});
             DeviceBuffer fsum = dev.alloc(DType.F32, 1).upload(new float[] {0});
             DeviceBuffer maxv = dev.alloc(DType.I32, 1).upload(new int[] {-1})) {
            dev.kernel("emu_check_atomics").launch(dev.defaultStream(), 5, 96, 0,
                    KernelArgs.of().ptr(counter).ptr(fsum).ptr(maxv));
            assertEquals(480, counter.downloadInts()[0]);
            assertEquals(240f, fsum.downloadFloats()[0]);
            assertEquals(479, maxv.downloadInts()[0]);
        }
    }

    @Test
    void emulatedDivergentBarrierIsReportedNotHung() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 32)) {
            CudaException ex = assertThrows(CudaException.class, () -> dev.kernel("emu_check_deadlock")
                    .launch(dev.defaultStream(), 1, 32, 0, KernelArgs.of().ptr(out)));
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", ex.statusName());
            assertTrue(ex.getMessage().contains("deadlock in emu_check_deadlock"), ex.getMessage());
        }
        // The emulator is usable again after a failed launch.
        emulatedAtomicsAccumulateEveryThread();
    }

    /**
     * The scheduler under load (emu_check_stress): 5 blocks of 1024 threads, lanes 24..31 of each warp returning at
     * once without reaching a barrier, the others running rounds of block barriers, a shared-memory exchange, a
     * shuffle and a ballot; every fiber's stack 16-byte aligned as the ABI requires. Expected values replay the
     * rounds here.
     */
    @Test
    void emulatedFullBlocksWithBarriersAndEarlyReturns() {
        int blocks = 5, n = 1024, rounds = 6;
        try (DeviceBuffer out = dev.alloc(DType.I32, blocks * n)) {
            dev.kernel("emu_check_stress").launch(dev.defaultStream(), blocks, n, 0,
                    KernelArgs.of().ptr(out).i32(rounds));
            int[] o = out.downloadInts();
            for (int blk = 0; blk < blocks; blk++) {
                int[] v = new int[n];
                for (int t = 0; t < n; t++) v[t] = t + 7 * blk;
                for (int r = 0; r < rounds; r++) {
                    int[] w = new int[n];
                    for (int t = 0; t < n; t++) {
                        if (t % 32 >= 24) continue;
                        int warp = t / 32 * 32, odd = 0;
                        for (int l = 0; l < 24; l++) odd += v[warp + l] & 1;
                        w[t] = 3 * v[t] + v[(t + 32) % n] + v[warp] + odd;
                    }
                    v = w;
                }
                for (int t = 0; t < n; t++) {
                    int want = t % 32 >= 24 ? -1 : v[t];
                    assertEquals(want, o[blk * n + t], "block " + blk + " thread " + t);
                }
            }
        }
    }

    /**
     * The reference GEMM behind the emulated cuBLAS, every transpose combination on sizes that fill no SIMD width
     * (m 37, n 5, k 19), batched with strides, fp32 with beta and bf16 inputs: each element must equal, bit for bit,
     * the fp32 sum over k in order (acc += a * b), then alpha * acc + beta * c.
     */
    @Test
    void emulatedGemmSumsInOrderInFp32() {
        int m = 37, n = 5, k = 19, batch = 2;
        java.util.Random rnd = new java.util.Random(11);
        Stream s = dev.defaultStream();
        try (Blas blas = dev.newBlas(s)) {
            for (int bf = 0; bf < 2; bf++) {
                for (int ta = 0; ta < 2; ta++) {
                    for (int tb = 0; tb < 2; tb++) {
                        boolean transA = ta == 1, transB = tb == 1;
                        float alpha = 0.75f, beta = bf == 0 ? 0.5f : 0f;
                        DType in = bf == 1 ? DType.BF16 : DType.F32;
                        int lda = transA ? m : k, ldb = transB ? k : n, ldc = n;
                        float[] a = new float[batch * m * k], b = new float[batch * k * n], c = new float[batch * m * n];
                        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
                        for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextGaussian();
                        for (int i = 0; i < c.length; i++) c[i] = (float) rnd.nextGaussian();
                        try (DeviceBuffer da = dev.alloc(in, a.length); DeviceBuffer db = dev.alloc(in, b.length);
                             DeviceBuffer dc = dev.alloc(DType.F32, c.length).upload(c)) {
                            if (bf == 1) {  // the exact bf16 values are the inputs of the reference
                                a = da.uploadBf16(a).downloadBf16();
                                b = db.uploadBf16(b).downloadBf16();
                            } else {
                                da.upload(a);
                                db.upload(b);
                            }
                            blas.gemmStridedBatched(s, transA, transB, m, n, k, alpha, da, lda, (long) m * k, db, ldb,
                                    (long) k * n, beta, dc, ldc, (long) m * n, batch);
                            float[] got = dc.downloadFloats();
                            for (int p = 0; p < batch; p++) {
                                for (int i = 0; i < m; i++) {
                                    for (int j = 0; j < n; j++) {
                                        float acc = 0f;
                                        for (int l = 0; l < k; l++) {
                                            float av = a[p * m * k + (transA ? l * lda + i : i * lda + l)];
                                            float bv = b[p * k * n + (transB ? j * ldb + l : l * ldb + j)];
                                            acc += av * bv;
                                        }
                                        int ci = p * m * n + i * ldc + j;
                                        float want = alpha * acc + (beta != 0f ? beta * c[ci] : 0f);
                                        assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[ci]),
                                                "bf16 " + bf + " transA " + ta + " transB " + tb + " batch " + p
                                                        + " C[" + i + "][" + j + "]");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void emulatedWmmaComputesTheTileProduct() {
        float[][] r = wmma(0);
        for (int i = 0; i < 16; i++) {
            for (int j = 0; j < 16; j++) assertEquals(r[1][i * 16 + j], r[0][i * 16 + j], "D[" + i + "][" + j + "]");
        }
    }

    @Test
    void emulatedWmmaRejectsBadLeadingDimensionAndMisalignment() {
        String[] expect = {"load_matrix_sync: ldm 20 is not a multiple of 8", "is not 256-bit (32-byte) aligned",
                "store_matrix_sync: ldm 18 is not a multiple of 4"};
        for (int mode = 1; mode <= 3; mode++) {
            int m = mode;
            CudaException ex = assertThrows(CudaException.class, () -> wmma(m), "mode " + m);
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", ex.statusName());
            assertTrue(ex.getMessage().contains("kernel error in emu_check_wmma")
                    && ex.getMessage().contains(expect[m - 1]), ex.getMessage());
        }
        emulatedWmmaComputesTheTileProduct();  // the emulator is usable again
    }

    /**
     * Runs emu_check_wmma in the given mode on small integers (exact in bf16, and every sum exact in fp32); returns
     * {the device's D, the expected D}, both row-major 16 x 16.
     */
    private static float[][] wmma(int mode) {
        java.util.Random rnd = new java.util.Random(7);
        float[] a = new float[256], bColMajor = new float[256], c = new float[256], want = new float[256];
        for (int i = 0; i < 256; i++) {
            a[i] = rnd.nextInt(17) - 8;
            bColMajor[i] = rnd.nextInt(17) - 8;
            c[i] = rnd.nextInt(201) - 100;
        }
        for (int i = 0; i < 16; i++) {
            for (int j = 0; j < 16; j++) {
                float acc = c[i * 16 + j];
                for (int k = 0; k < 16; k++) acc += a[i * 16 + k] * bColMajor[j * 16 + k];
                want[i * 16 + j] = acc;
            }
        }
        try (DeviceBuffer da = dev.alloc(DType.BF16, 256).uploadBf16(a);
             DeviceBuffer db = dev.alloc(DType.BF16, 256).uploadBf16(bColMajor);
             DeviceBuffer dc = dev.alloc(DType.F32, 256).upload(c);
             DeviceBuffer out = dev.alloc(DType.F32, 256)) {
            dev.kernel("emu_check_wmma").launch(dev.defaultStream(), 1, 32, 0,
                    KernelArgs.of().i32(mode).ptr(da).ptr(db).ptr(dc).ptr(out));
            return new float[][] {out.downloadFloats(), want};
        }
    }
}
