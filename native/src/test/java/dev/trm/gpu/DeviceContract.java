package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The runtime's contract, checked the same way on each backend ({@link EmulatedDeviceTest}, {@link CudaDeviceTest}):
 * transfers, ownership, errors, kernels, graphs, events, pinned host memory.
 */
final class DeviceContract {
    private DeviceContract() {}

    static void transfersRoundTrip(GpuDevice dev) {
        float[] f = {1.5f, -2.25f, 3e-8f, 1e20f, 0f};
        int[] i = {7, -1, Integer.MAX_VALUE};
        try (DeviceBuffer bf = dev.alloc(DType.F32, f.length); DeviceBuffer bi = dev.alloc(DType.I32, i.length);
             DeviceBuffer bh = dev.alloc(DType.BF16, f.length)) {
            assertArrayEquals(f, bf.upload(f).downloadFloats());
            assertArrayEquals(i, bi.upload(i).downloadInts());
            float[] h = bh.uploadBf16(f).downloadBf16();
            for (int k = 0; k < f.length; k++) assertEquals(Bf16.round(f[k]), h[k]);
            assertThrows(IllegalArgumentException.class, () -> bf.upload(new float[6]), "too many elements");
            assertThrows(IllegalArgumentException.class, () -> bf.upload(new int[2]), "wrong element type");
            bf.zero(dev.defaultStream());
            assertArrayEquals(new float[f.length], bf.downloadFloats());
        }
    }

    static void ownershipIsDeterministic(GpuDevice dev) {
        int before = dev.openResources();
        DeviceBuffer b = dev.alloc(DType.F32, 16);
        Stream s = dev.newStream();
        Event e = dev.newEvent();
        assertEquals(before + 3, dev.openResources());
        b.close();
        b.close();  // a second close does nothing
        assertTrue(b.isClosed());
        assertThrows(IllegalStateException.class, b::address, "use after close");
        e.close();
        s.close();
        assertEquals(before, dev.openResources());
        long[] mem = dev.memoryInfo();
        assertTrue(mem[0] > 0 && mem[0] <= mem[1]);
    }

    static void outOfMemorySaysBytesAskedAndFree(GpuDevice dev) {
        long tooMuch = dev.memoryInfo()[1] + (1L << 30);
        CudaException ex = assertThrows(CudaException.class, () -> dev.alloc(DType.F32, tooMuch / 4));
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", ex.statusName());
        assertTrue(ex.getMessage().contains("asked " + (tooMuch / 4 * 4) + " bytes") && ex.getMessage().contains("free"),
                ex.getMessage());
    }

    static void unknownKernelIsANamedError(GpuDevice dev) {
        CudaException ex = assertThrows(CudaException.class, () -> dev.kernel("no_such_kernel"));
        assertEquals("CUDA_ERROR_NOT_FOUND", ex.statusName());
        assertThrows(IllegalArgumentException.class, () -> dev.kernel("ema").launch(dev.defaultStream(), 1, 2048, 0,
                KernelArgs.of()), "more than 1024 threads per block");
        // More dynamic shared memory than a kernel gets without cuFuncSetAttribute (48 KiB; we never raise it).
        try (DeviceBuffer x = dev.alloc(DType.F32, 32)) {
            assertThrows(CudaException.class, () -> dev.kernel("ema").launch(dev.defaultStream(), 1, 32, 48 * 1024 + 16,
                    KernelArgs.of().ptr(x).nullPtr().ptr(x).i64(32).f32(0.5f)), "dynamic shared memory over 48 KiB");
        }
    }

    /** ema(shadow, p, n, rate) captured once, replayed three times: shadow = p + (s0 - p) rate^3. */
    static void graphCaptureRecordsAndReplays(GpuDevice dev) {
        int n = 1000;
        float[] s0 = new float[n], p = new float[n];
        for (int k = 0; k < n; k++) {
            s0[k] = k;
            p[k] = -k;
        }
        try (Stream s = dev.newStream(); DeviceBuffer shadow = dev.alloc(DType.F32, n).upload(s0);
             DeviceBuffer bp = dev.alloc(DType.F32, n).upload(p); Event start = dev.newEvent();
             Event end = dev.newEvent()) {
            s.beginCapture();
            dev.kernel("ema").launch(s, 4, 256, 0, KernelArgs.of().ptr(shadow).nullPtr().ptr(bp).i64(n).f32(0.5f));
            Graph g = s.endCapture();
            s.synchronize();
            assertArrayEquals(s0, shadow.downloadFloats(), "capturing must not run the work");
            start.record(s);
            for (int r = 0; r < 3; r++) g.launch(s);
            end.record(s);
            end.synchronize();
            float[] got = shadow.downloadFloats();
            for (int k = 0; k < n; k++) assertEquals(-k + (2f * k) * 0.125f, got[k], 1e-4f * Math.max(1, k));
            assertTrue(end.millisSince(start) >= 0);
            g.close();
        }
    }

    /**
     * An event recorded while its stream captures adds no node (a replay never records it): waiting on it or timing
     * with it fails with CUDA_ERROR_CAPTURED_EVENT until it is recorded again outside a capture (cuda.h).
     */
    static void eventRecordedInACaptureCannotBeWaitedOn(GpuDevice dev) {
        try (Stream s = dev.newStream(); DeviceBuffer x = dev.alloc(DType.F32, 32); Event before = dev.newEvent();
             Event inside = dev.newEvent()) {
            before.record(s);
            s.beginCapture();
            dev.kernel("ema").launch(s, 1, 32, 0, KernelArgs.of().ptr(x).nullPtr().ptr(x).i64(32).f32(0.5f));
            inside.record(s);
            try (Graph g = s.endCapture()) {
                g.launch(s);
                s.synchronize();
            }
            CudaException ex = assertThrows(CudaException.class, inside::synchronize);
            assertEquals("CUDA_ERROR_CAPTURED_EVENT", ex.statusName());
            assertThrows(CudaException.class, () -> inside.millisSince(before));
            inside.record(s);  // recorded outside a capture: usable again
            inside.synchronize();
            assertTrue(inside.millisSince(before) >= 0);
        }
    }

    /**
     * Pinned host memory as an asynchronous upload source: write it, enqueue the copy, wait on an event, read the
     * buffer back; then refill the same memory and upload again (the reuse the training loop's staging does).
     * Closing is once only, and the segment (also one taken before) is unusable after close.
     */
    static void pinnedMemoryUploadsAsync(GpuDevice dev) {
        int n = 1000;
        int before = dev.openResources();
        PinnedHostMemory pinned = dev.allocPinned(4L * n);
        assertEquals(before + 1, dev.openResources());
        assertEquals(4L * n, pinned.bytes());
        MemorySegment seg = pinned.segment();
        assertEquals(4L * n, seg.byteSize());
        try (Stream s = dev.newStream(); DeviceBuffer b = dev.alloc(DType.F32, n); Event done = dev.newEvent()) {
            for (int round = 0; round < 2; round++) {
                float[] want = new float[n];
                for (int k = 0; k < n; k++) {
                    want[k] = (round + 1) * (k - 0.5f * n);
                    seg.setAtIndex(ValueLayout.JAVA_FLOAT, k, want[k]);
                }
                b.uploadAsync(seg, s);
                done.record(s);
                done.synchronize();
                assertArrayEquals(want, b.downloadFloats(), "round " + round);
            }
        }
        try (Stream s = dev.newStream(); DeviceBuffer b = dev.alloc(DType.F32, 4)) {
            // A Java heap segment cannot be passed to native code (the jextract downcall refuses it): not a source.
            assertThrows(IllegalArgumentException.class, () -> b.uploadAsync(MemorySegment.ofArray(new float[4]), s));
        }
        assertThrows(IllegalArgumentException.class, () -> dev.allocPinned(0));
        pinned.close();
        pinned.close();  // a second close does nothing
        assertTrue(pinned.isClosed());
        assertEquals(before, dev.openResources());
        assertThrows(IllegalStateException.class, pinned::segment, "use after close");
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_FLOAT, 0),
                "a segment taken before close is dead after it");
    }
}
