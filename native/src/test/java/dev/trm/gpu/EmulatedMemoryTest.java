package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The emulated device's memory checks (EmulatedMemory), through emu_check_store (kernels/src/test/cuda/emu_checks.cu:
 * thread t stores out[offset + t] = t + 1 + src[0]), which can store anywhere, as a kernel with a missing guard does:
 * stores just past the end or before the start of a buffer fail by kernel name and byte range; a freed buffer passed
 * to a kernel, directly or in a replayed graph (also once a new buffer of its size exists), is refused before the
 * kernel runs, and so is a replayed copy into a freed buffer; a GEMM operand beyond its allocation is refused; fresh
 * memory reads as poison, not as zeros.
 */
@Tag("emulated")
class EmulatedMemoryTest {
    static GpuDevice dev;

    @BeforeAll
    static void open() {
        dev = EmulatedTestDevice.openOrSkip();
    }

    @AfterAll
    static void close() {
        if (dev != null) dev.close();
    }

    private static void store(DeviceBuffer out, int offset, int n, DeviceBuffer src) {
        dev.kernel("emu_check_store").launch(dev.defaultStream(), 1, 32, 0,
                KernelArgs.of().ptr(out).i32(offset).i32(n).ptr(src));
    }

    @Test
    void freshMemoryIsPoisonNotZeros() {
        try (DeviceBuffer f = dev.alloc(DType.F32, 5); DeviceBuffer h = dev.alloc(DType.BF16, 5);
             DeviceBuffer i = dev.alloc(DType.I32, 5)) {
            for (float v : f.downloadFloats()) assertTrue(Float.isNaN(v), "fp32 poison reads " + v);
            for (float v : h.downloadBf16()) assertTrue(Float.isNaN(v), "bf16 poison reads " + v);
            for (int v : i.downloadInts()) assertEquals(EmulatedMemory.POISON, v);
            i.zero(dev.defaultStream());
            assertArrayEquals(new int[5], i.downloadInts(), "zero() is how a buffer starts at zero, here as on a GPU");
        }
    }

    @Test
    void storesInsideTheBufferPass() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 8)) {
            store(out, 0, 8, null);
            assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, out.downloadInts());
        }
    }

    @Test
    void aStorePastTheEndFailsByKernelAndRange() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 8)) {
            out.zero(dev.defaultStream());
            CudaException e = assertThrows(CudaException.class, () -> store(out, 6, 4, null));
            assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.statusName(), e.getMessage());
            assertTrue(e.getMessage().contains("kernel emu_check_store stored outside its buffers: bytes [+32, +40) "
                    + "past the end of the 32-byte allocation"), e.getMessage());
            assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 1, 2}, out.downloadInts(), "the in-bounds stores landed");
            store(out, 0, 8, null);  // the red zone was restored: one bad store is reported once
            assertEquals(8, out.downloadInts()[7]);
        }
    }

    @Test
    void aStoreBeforeTheStartFailsByKernelAndRange() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 8)) {
            CudaException e = assertThrows(CudaException.class, () -> store(out, -3, 4, null));
            assertTrue(e.getMessage().contains("kernel emu_check_store stored outside its buffers: bytes [-12, +0) "
                    + "before the start of the 32-byte allocation"), e.getMessage());
        }
    }

    @Test
    void aStoreAtAnOddEndIsCaughtToTheByte() {
        // 7 bf16 elements: 14 bytes, so the red zone starts mid-int; an int store at element index 3 (bytes 12..15)
        // crosses the end by two bytes.
        try (DeviceBuffer out = dev.alloc(DType.BF16, 7)) {
            long address = out.address();
            CudaException e = assertThrows(CudaException.class, () -> dev.kernel("emu_check_store").launch(
                    dev.defaultStream(), 1, 32, 0, KernelArgs.of().ptr(out, 12).i32(0).i32(1).nullPtr()));
            assertTrue(e.getMessage().contains("bytes [+14, +16) past the end of the 14-byte allocation at 0x"
                    + Long.toHexString(address)), e.getMessage());
        }
    }

    @Test
    void aFreedBufferPassedToAKernelIsRefusedBeforeItRuns() {
        try (DeviceBuffer out = dev.alloc(DType.I32, 4)) {
            out.zero(dev.defaultStream());
            DeviceBuffer src = dev.alloc(DType.I32, 1).upload(new int[] {10});
            KernelArgs args = KernelArgs.of().ptr(out).i32(0).i32(4).ptr(src);
            src.close();
            CudaException e = assertThrows(CudaException.class, () -> dev.kernel("emu_check_store")
                    .launch(dev.defaultStream(), 1, 32, 0, args));
            assertTrue(e.getMessage().contains("cuLaunchKernel(emu_check_store): argument 3"), e.getMessage());
            assertTrue(e.getMessage().contains("freed 4-byte allocation: a use after free"), e.getMessage());
            assertArrayEquals(new int[4], out.downloadInts(), "the kernel did not run");
        }
    }

    @Test
    void aGraphReplayedAfterItsBufferWasFreedIsRefused() {
        Stream s = dev.defaultStream();
        try (DeviceBuffer out = dev.alloc(DType.I32, 4)) {
            DeviceBuffer src = dev.alloc(DType.I32, 1).upload(new int[] {10});
            s.beginCapture();
            store(out, 0, 4, src);
            try (Graph g = s.endCapture()) {
                g.launch(s);
                assertArrayEquals(new int[] {11, 12, 13, 14}, out.downloadInts());
                src.close();
                CudaException e = assertThrows(CudaException.class, () -> g.launch(s));
                assertTrue(e.getMessage().contains("a use after free"), e.getMessage());
            }
        }
    }

    @Test
    void aGraphReplayedAfterItsBufferWasFreedAndANewOneAllocatedIsRefused() {
        // malloc hands a freed block to the next request of its size: without the quarantine the new buffer took the
        // freed one's address and the replay read it as if nothing had happened
        Stream s = dev.defaultStream();
        try (DeviceBuffer out = dev.alloc(DType.I32, 4)) {
            DeviceBuffer src = dev.alloc(DType.I32, 1).upload(new int[] {10});
            long freedAddress = src.address();
            s.beginCapture();
            store(out, 0, 4, src);
            try (Graph g = s.endCapture()) {
                src.close();
                try (DeviceBuffer next = dev.alloc(DType.I32, 1).upload(new int[] {20})) {
                    assertTrue(next.address() != freedAddress, "the freed address was handed out again");
                    CudaException e = assertThrows(CudaException.class, () -> g.launch(s));
                    assertTrue(e.getMessage().contains("a use after free"), e.getMessage());
                }
            }
        }
    }

    @Test
    void aCopyInAGraphReplayedAfterItsBufferWasFreedIsRefused() {
        Stream s = dev.defaultStream();
        try (DeviceBuffer src = dev.alloc(DType.I32, 4).upload(new int[] {1, 2, 3, 4})) {
            DeviceBuffer dst = dev.alloc(DType.I32, 4);
            s.beginCapture();
            dst.copyFrom(src, s);
            try (Graph g = s.endCapture()) {
                g.launch(s);
                assertArrayEquals(new int[] {1, 2, 3, 4}, dst.downloadInts());
                dst.close();
                CudaException e = assertThrows(CudaException.class, () -> g.launch(s));
                assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.statusName(), e.getMessage());
                assertTrue(e.getMessage().contains("cuMemcpyDtoD as it ran"), e.getMessage());
                assertTrue(e.getMessage().contains("a use after free"), e.getMessage());
            }
        }
    }

    @Test
    void aGemmOperandBeyondItsAllocationIsRefused() {
        // Driver level (Blas checks its row-major shapes first): C is 4 x 4 fp32 column-major, ldc 4, in 15 floats.
        try (DeviceBuffer a = dev.alloc(DType.F32, 16); DeviceBuffer b = dev.alloc(DType.F32, 16);
             DeviceBuffer c = dev.alloc(DType.F32, 15)) {
            c.zero(dev.defaultStream());
            CudaException e = assertThrows(CudaException.class, () -> dev.driver.gemm(1, GemmEngine.CUBLAS,
                    dev.defaultStream().handle(), false, false, 4, 4, 4, 1f, a.address(), 0, 4, 0, b.address(), 0,
                    4, 0, 0f, c.address(), 0, 4, 0, 1));
            assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.statusName(), e.getMessage());
            assertTrue(e.getMessage().contains(", C (4 x 4, ld 4): [0x" + Long.toHexString(c.address())
                    + ", +64) is not inside a live device allocation (it runs 4 bytes past the end of the 60-byte "
                    + "allocation"), e.getMessage());
            assertArrayEquals(new float[15], c.downloadFloats(), "nothing was written");
        }
    }
}
