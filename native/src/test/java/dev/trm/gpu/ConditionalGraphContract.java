package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

/**
 * Graphs with conditional IF nodes ({@link GraphBuilder}), checked the same way on each backend
 * ({@link EmulatedDeviceTest}, {@link CudaDeviceTest}): bodies skipped once the device says so, defaults re-applied at
 * every launch, a GEMM inside a body, misuse refused, an abandoned builder leaving the stream capturing nothing.
 */
final class ConditionalGraphContract {
    private ConditionalGraphContract() {}

    static void supported(GpuDevice dev) {
        assertTrue(dev.supportsConditionalGraphs(), () -> "unsupported: " + dev.conditionalGraphsUnsupportedReason());
    }

    /** counter [1] f32 += 1 (one thread; accumulate(acc, accBf, x, xBf, n)). */
    private static void increment(GpuDevice dev, Stream s, DeviceBuffer counter, DeviceBuffer one) {
        dev.kernel("accumulate").launch(s, 1, 32, 0, KernelArgs.of().ptr(counter).i32(0).ptr(one).i32(0).i64(1));
    }

    /**
     * TRM's supervision loop in miniature: B slots, K steps, each step an IF body guarded by "some slot has not
     * halted" (setIfAnyZero over halted [B]). The body is act_halt (steps [B] += 1; halted[b] = (steps >= K or q > 0)
     * and steps >= minSteps[b]; q = 1, so slot b halts at step minSteps[b], never if that is past K) and counter
     * += 1. After one launch the
     * counter is the number of bodies that ran: min(K, max over b of max(1, minSteps[b])). Each launch starts from the
     * prelude (steps, halted, counter zeroed); the postlude after the last IF always runs.
     */
    static void ifBodiesRunUntilEverySlotHalted(GpuDevice dev) {
        int batch = 5, maxSteps = 6;
        float[] q = new float[batch];
        Arrays.fill(q, 1f);
        try (Stream s = dev.newStream(); DeviceBuffer bq = dev.alloc(DType.F32, batch).upload(q);
             DeviceBuffer minSteps = dev.alloc(DType.I32, batch); DeviceBuffer steps = dev.alloc(DType.I32, batch);
             DeviceBuffer halted = dev.alloc(DType.I32, batch);
             DeviceBuffer counter = dev.alloc(DType.F32, 1).upload(new float[] {123f});
             DeviceBuffer after = dev.alloc(DType.F32, 1); DeviceBuffer one = dev.alloc(DType.F32, 1).upload(new float[] {1f})) {
            int before = dev.openResources();
            Graph g;
            try (GraphBuilder b = s.beginGraph()) {
                steps.zero(s);
                halted.zero(s);
                counter.zero(s);
                after.zero(s);
                for (int k = 0; k < maxSteps; k++) {
                    GraphConditional c = b.conditional(0);
                    b.setIfAnyZero(c, halted.address(), batch);
                    b.beginIf(c);
                    dev.kernel("act_halt").launch(s, 1, 256, 0, KernelArgs.of().ptr(bq).i32(1).ptr(minSteps)
                            .ptr(steps).ptr(halted).i32(batch).i32(maxSteps));
                    increment(dev, s, counter, one);
                    b.endIf();
                }
                increment(dev, s, after, one);
                g = b.end();
            }
            assertEquals(before + 1, dev.openResources(), "the builder is closed, the graph open");
            s.synchronize();
            assertEquals(123f, counter.downloadFloats()[0], "building the graph must not run its work");
            int[][] cases = {{2, 4, 3, 1, 2}, {1, 1, 1, 1, 1}, {6, 6, 6, 6, 6}, {9, 1, 1, 1, 1}, {0, 0, 3, 0, 0},
                    {2, 4, 3, 1, 2}};
            for (int[] m : cases) {
                minSteps.upload(m);
                g.launch(s);
                s.synchronize();
                int ran = Math.min(maxSteps, Math.max(1, Arrays.stream(m).max().getAsInt()));
                String what = "minSteps " + Arrays.toString(m);
                assertEquals(ran, counter.downloadFloats()[0], what + ": IF bodies that ran");
                int[] wantSteps = new int[batch], wantHalted = new int[batch];
                Arrays.fill(wantSteps, ran);
                for (int i = 0; i < batch; i++) wantHalted[i] = ran >= m[i] ? 1 : 0;  // 9 > K: never halts
                assertArrayEquals(wantSteps, steps.downloadInts(), what + ": steps");
                assertArrayEquals(wantHalted, halted.downloadInts(), what + ": halted");
                assertEquals(1f, after.downloadFloats()[0], what + ": the work after the IF nodes");
            }
            g.close();
            assertEquals(before, dev.openResources());
        }
    }

    /**
     * Defaults: an IF on a conditional defaulting to 1 and never set runs at every launch, one defaulting to 0 never;
     * one defaulting to 1 that the graph sets to 0 after its IF runs again at the next launch (the default is
     * re-applied at the start of every launch, not only the first). Counters accumulate over three launches.
     */
    static void defaultsAreReappliedAtEveryLaunch(GpuDevice dev) {
        try (Stream s = dev.newStream(); DeviceBuffer on = dev.alloc(DType.F32, 1).upload(new float[] {0f});
             DeviceBuffer off = dev.alloc(DType.F32, 1).upload(new float[] {0f});
             DeviceBuffer reset = dev.alloc(DType.F32, 1).upload(new float[] {0f});
             DeviceBuffer one = dev.alloc(DType.F32, 1).upload(new float[] {1f});
             DeviceBuffer noZero = dev.alloc(DType.I32, 3).upload(new int[] {1, 2, 3})) {
            Graph g;
            try (GraphBuilder b = s.beginGraph()) {
                GraphConditional cOn = b.conditional(1), cOff = b.conditional(0), cReset = b.conditional(1);
                assertEquals(1, cOn.defaultValue());
                b.beginIf(cOn);
                increment(dev, s, on, one);
                b.endIf();
                b.beginIf(cOff);
                increment(dev, s, off, one);
                b.endIf();
                b.beginIf(cReset);
                increment(dev, s, reset, one);
                b.endIf();
                b.setIfAnyZero(cReset, noZero.address(), 3);  // no flag is 0: cReset = 0 until the next launch
                g = b.end();
            }
            try (g) {
                for (int launch = 0; launch < 3; launch++) g.launch(s);
                s.synchronize();
            }
            assertEquals(3f, on.downloadFloats()[0], "default 1, never set");
            assertEquals(0f, off.downloadFloats()[0], "default 0, never set");
            assertEquals(3f, reset.downloadFloats()[0], "default 1, set to 0 after its IF: re-applied at each launch");
        }
    }

    /**
     * A GEMM (row-major C [3, 2] = A [3, 4] B [4, 2], fp32) as an IF body, with each engine: it runs when the flag is
     * 0 and is skipped (C keeps its zeros) when the flag is 1.
     */
    static void gemmInsideAnIfBody(GpuDevice dev) {
        int m = 3, n = 2, k = 4;
        float[] a = new float[m * k], bm = new float[k * n], want = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = 0.5f * i - 2f;
        for (int i = 0; i < bm.length; i++) bm[i] = 1f + 0.25f * i;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int l = 0; l < k; l++) want[i * n + j] += a[i * k + l] * bm[l * n + j];
        for (GemmEngine engine : GemmEngine.values()) {
            try (Stream s = dev.newStream(); Blas blas = dev.newBlas(s, engine);
                 DeviceBuffer da = dev.alloc(DType.F32, m * k).upload(a);
                 DeviceBuffer db = dev.alloc(DType.F32, k * n).upload(bm); DeviceBuffer dc = dev.alloc(DType.F32, m * n);
                 DeviceBuffer flag = dev.alloc(DType.I32, 1)) {
                Graph g;
                try (GraphBuilder b = s.beginGraph()) {
                    GraphConditional c = b.conditional(0);
                    b.setIfAnyZero(c, flag.address(), 1);
                    b.beginIf(c);
                    blas.gemm(s, false, false, m, n, k, 1f, da, k, db, n, 0f, dc, n);
                    b.endIf();
                    g = b.end();
                }
                try (g) {
                    flag.upload(new int[] {0});
                    dc.upload(new float[m * n]);
                    g.launch(s);
                    s.synchronize();
                    float[] got = dc.downloadFloats();
                    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4f, engine + " C[" + i + "]");
                    flag.upload(new int[] {1});
                    dc.upload(new float[m * n]);
                    g.launch(s);
                    s.synchronize();
                    assertArrayEquals(new float[m * n], dc.downloadFloats(), engine + ": the body must be skipped");
                }
            }
        }
    }

    /**
     * Nested IFs, end() inside an IF, a stray endIf(), a foreign conditional, a conditional guarding two IFs or none
     * are refused; close() abandons (nothing captured runs, the stream runs its work again and can build anew).
     */
    static void misuseIsRefusedAndCloseAbandons(GpuDevice dev) {
        try (Stream s = dev.newStream(); Stream other = dev.newStream();
             DeviceBuffer x = dev.alloc(DType.F32, 1).upload(new float[] {0f});
             DeviceBuffer one = dev.alloc(DType.F32, 1).upload(new float[] {1f})) {
            int before = dev.openResources();
            GraphBuilder b = s.beginGraph();
            assertThrows(CudaException.class, s::beginGraph, "the stream already captures");
            assertEquals(before + 1, dev.openResources(), "the refused builder holds nothing");
            GraphConditional c = b.conditional(0);
            assertThrows(IllegalArgumentException.class, () -> b.conditional(-1));
            assertThrows(IllegalArgumentException.class, () -> b.setIfAnyZero(c, x.address(), 0));
            b.beginIf(c);
            increment(dev, s, x, one);  // captured into the body, never run
            assertThrows(IllegalStateException.class, () -> b.beginIf(c), "nested IF");
            assertThrows(IllegalStateException.class, b::end, "end() inside an IF");
            try (GraphBuilder b2 = other.beginGraph()) {
                assertThrows(IllegalArgumentException.class, () -> b2.beginIf(c), "a conditional of another builder");
            }
            b.endIf();
            assertThrows(IllegalStateException.class, b::endIf, "endIf() without an open IF");
            assertThrows(IllegalArgumentException.class, () -> b.beginIf(c), "one IF node per conditional");
            b.conditional(1);
            assertThrows(IllegalStateException.class, b::end, "a conditional that guards no IF node");
            b.close();  // abandoned: nothing of it ever runs, and the stream no longer captures
            assertEquals(before, dev.openResources());
            assertThrows(IllegalStateException.class, () -> b.conditional(0), "use after close");
            increment(dev, s, x, one);
            s.synchronize();
            assertEquals(1f, x.downloadFloats()[0], "after close() the stream runs its work again");
            // And a graph can be built on that stream afterwards.
            try (GraphBuilder b3 = s.beginGraph()) {
                increment(dev, s, x, one);
                try (Graph g = b3.end()) {
                    assertThrows(IllegalStateException.class, () -> b3.conditional(0), "the builder is done");
                    g.launch(s);
                    g.launch(s);
                    s.synchronize();
                }
            }
            assertEquals(3f, x.downloadFloats()[0]);
            // Abandoned inside an IF body: that capture ends too.
            GraphBuilder b4 = s.beginGraph();
            b4.beginIf(b4.conditional(1));
            increment(dev, s, x, one);
            b4.close();
            increment(dev, s, x, one);
            s.synchronize();
            assertEquals(4f, x.downloadFloats()[0], "only the increment after close() ran");
            assertEquals(before, dev.openResources());
        }
    }
}
