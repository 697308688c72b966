package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

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
        dev = EmulatedTestDevice.openOrSkip();
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

    @Test
    void emulatedWmmaNeedsTheWholeWarp() {
        try (DeviceBuffer a = dev.alloc(DType.BF16, 256); DeviceBuffer b = dev.alloc(DType.BF16, 256);
             DeviceBuffer c = dev.alloc(DType.F32, 256); DeviceBuffer out = dev.alloc(DType.F32, 256)) {
            CudaException ex = assertThrows(CudaException.class, () -> dev.kernel("emu_check_wmma").launch(
                    dev.defaultStream(), 1, 16, 0, KernelArgs.of().i32(0).ptr(a).ptr(b).ptr(c).ptr(out)));
            assertTrue(ex.getMessage().contains("kernel error in emu_check_wmma")
                    && ex.getMessage().contains("with 16 live lanes: WMMA needs the whole warp"), ex.getMessage());
        }
    }

    /**
     * Launches the GPU refuses (CUDA_ERROR_INVALID_VALUE) fail on the emulated device too, naming the kernel and the
     * limit: gridDim.y and .z over 65535, blockDim.z over 64, more threads than the kernel's __launch_bounds__,
     * dynamic shared memory over the 48 KiB a kernel gets without opting in. The largest valid ones still run.
     */
    @Test
    void emulatedLaunchesOutsideTheHardwareLimitsAreRefused() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 1024); DeviceBuffer counter = dev.alloc(DType.I32, 1)) {
            Stream s = dev.defaultStream();
            Kernel bounded = dev.kernel("emu_check_bounded"), block = dev.kernel("emu_check_block");
            String[][] refused = {  // {what, expected text}
                {"grid y", "grid 1x65536x1 (x at most 2^31-1, y and z at most 65535"},
                {"grid z", "grid 1x1x65536"},
                {"block z", "block 1x1x65 (each of x, y at most 1024, z at most 64"},
                {"launch bounds", "block 65x1x1 has 65 threads, over the kernel's __launch_bounds__ of 64"},
                {"dynamic shared", "dynamic shared memory 49156 bytes exceeds 49152"}};
            Runnable[] launches = {
                () -> bounded.launch(s, 1, 65536, 1, 32, 1, 1, 0, KernelArgs.of().ptr(out)),
                () -> bounded.launch(s, 1, 1, 65536, 32, 1, 1, 0, KernelArgs.of().ptr(out)),
                () -> block.launch(s, 1, 1, 1, 1, 1, 65, 0, KernelArgs.of().ptr(out)),
                () -> bounded.launch(s, 1, 1, 1, 65, 1, 1, 0, KernelArgs.of().ptr(out)),
                () -> block.launch(s, 1, 1, 1, 32, 1, 1, 48 * 1024 + 4, KernelArgs.of().ptr(out))};
            for (int i = 0; i < launches.length; i++) {
                CudaException ex = assertThrows(CudaException.class, launches[i]::run, refused[i][0]);
                assertEquals("CUDA_ERROR_INVALID_VALUE", ex.statusName(), refused[i][0]);
                String kernel = i == 2 || i == 4 ? "emu_check_block" : "emu_check_bounded";
                assertTrue(ex.getMessage().contains("invalid launch configuration for " + kernel)
                        && ex.getMessage().contains(refused[i][1]), refused[i][0] + ": " + ex.getMessage());
            }
            // at the limits: 65535 blocks along y, 64 threads of a kernel bounded to 64, 48 KiB of dynamic shared
            bounded.launch(s, 1, 65535, 1, 64, 1, 1, 0, KernelArgs.of().ptr(out));
            int[] o = out.downloadInts();
            for (int t = 0; t < 64; t++) assertEquals(t, o[t]);
            block.launch(s, 1, 1, 1, 32, 1, 1, 48 * 1024, KernelArgs.of().ptr(out));
            block.launch(s, 1, 1, 1, 1, 1, 64, 64 * 4, KernelArgs.of().ptr(out));
        }
    }

    /**
     * What faults on the GPU with a misaligned address and silently works on the host: a pointer argument not aligned
     * to its element type, and a 16-byte vector access (float4, uint4 through reinterpret_cast in the GPU branch) at
     * an address that is not a multiple of 16, both through a check kernel and through gemm_swiglu's own loads.
     */
    @Test
    void emulatedMisalignedPointersFailTheLaunch() {
        try (DeviceBuffer in = dev.alloc(DType.F32, 16).upload(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                13, 14, 15}); DeviceBuffer out = dev.alloc(DType.F32, 4)) {
            Kernel vector = dev.kernel("emu_check_vector");
            vector.launch(dev.defaultStream(), 1, 1, 0, KernelArgs.of().ptr(in, 16).ptr(out));
            assertEquals(List.of(4f, 5f, 6f, 7f), floats(out.downloadFloats()));
            CudaException ex = assertThrows(CudaException.class, () -> vector.launch(dev.defaultStream(), 1, 1, 0,
                    KernelArgs.of().ptr(in, 4).ptr(out)));
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", ex.statusName());
            assertTrue(ex.getMessage().contains("kernel error in emu_check_vector: emu_check_vector (a float4 load): "
                    + "address") && ex.getMessage().contains("is not 16-byte aligned"), ex.getMessage());
            ex = assertThrows(CudaException.class, () -> dev.kernel("emu_check_atomics").launch(dev.defaultStream(),
                    1, 32, 0, KernelArgs.of().ptr(in, 2).ptr(out).ptr(in)));
            assertTrue(ex.getMessage().contains("kernel error in emu_check_atomics: pointer argument 0")
                    && ex.getMessage().contains("is not aligned to its 4-byte elements"), ex.getMessage());
        }
        // gemm_swiglu (x [16, 32], w [32, 32] bf16, 128 threads): x one bf16 (2 bytes) into its buffer is a valid
        // bf16 pointer, but its uint4 loads are misaligned
        try (DeviceBuffer x = dev.alloc(DType.BF16, 16 * 32 + 8); DeviceBuffer w = dev.alloc(DType.BF16, 32 * 32);
             DeviceBuffer h = dev.alloc(DType.BF16, 16 * 16)) {
            Kernel gs = dev.kernel("gemm_swiglu");
            gs.launch(dev.defaultStream(), 1, 1, 1, 128, 1, 1, 0,
                    KernelArgs.of().ptr(x, 16).ptr(w).nullPtr().ptr(h).i32(16).i32(32).i32(16));
            CudaException ex = assertThrows(CudaException.class, () -> gs.launch(dev.defaultStream(), 1, 1, 1, 128,
                    1, 1, 0, KernelArgs.of().ptr(x, 2).ptr(w).nullPtr().ptr(h).i32(16).i32(32).i32(16)));
            assertTrue(ex.getMessage().contains("kernel error in gemm_swiglu: gs_load16 (a uint4 load): address")
                    && ex.getMessage().contains("is not 16-byte aligned"), ex.getMessage());
        }
    }

    private static List<Float> floats(float[] f) {
        List<Float> l = new java.util.ArrayList<>();
        for (float v : f) l.add(v);
        return l;
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

    /**
     * Under programmatic dependent launch a thread must not touch memory before trm_pdl_begin (on a GPU it would race
     * with the kernel before it): a thread that returns without calling it fails the launch, by thread and block.
     * A plain launch (PDL off) has nothing to wait for and lets it.
     */
    @Test
    void emulatedProgrammaticLaunchNeedsTrmPdlBeginInEveryThread() {
        Stream s = dev.defaultStream();
        Kernel k = dev.kernel("emu_check_pdl");
        try (DeviceBuffer out = dev.alloc(DType.I32, 64)) {
            assertTrue(dev.programmaticLaunch(), "the emulated device launches programmatically by default");
            CudaException e = assertThrows(CudaException.class,
                    () -> k.launch(s, 2, 64, 0, KernelArgs.of().ptr(out).i32(37)));
            assertTrue(e.getMessage().contains("emu_check_pdl: launched as a programmatic dependent, but thread "
                    + "(37,0,0) of block (0,0,0) returned without calling trm_pdl_begin()"), e.getMessage());

            k.launch(s, 1, 64, 0, KernelArgs.of().ptr(out).i32(-1));
            int[] o = out.downloadInts();
            for (int t = 0; t < 64; t++) assertEquals(t, o[t], "every thread past trm_pdl_begin");

            dev.programmaticLaunch(false);
            try {
                out.zero(s);
                k.launch(s, 1, 64, 0, KernelArgs.of().ptr(out).i32(37));
                o = out.downloadInts();
                assertEquals(0, o[37], "thread 37 returned early");
                assertEquals(36, o[36]);
            } finally {
                dev.programmaticLaunch(true);
            }
        }
    }
}
