package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The runtime contract on the EMULATED device (host memory, host-compiled kernels): what CI runs without a GPU. */
@Tag("emulated")
class EmulatedDeviceTest {
    static GpuDevice dev;

    @BeforeAll
    static void open() {
        dev = EmulatedTestDevice.openOrSkip();
        assertEquals(Backend.EMULATED, dev.backend(), "this test must run on the emulated device");
    }

    @AfterAll
    static void close() {
        if (dev != null) dev.close();
    }

    /**
     * What CUDA refuses while a stream captures (allocating, reading back, synchronising) fails on the emulated device
     * too, so a capture rule broken in the Java above shows in CI rather than first on a GPU.
     */
    @Test
    void emulatedCaptureRefusesAllocationReadBackAndSynchronisation() {
        try (Stream s = dev.newStream(); DeviceBuffer b = dev.alloc(DType.I32, 4)) {
            s.beginCapture();
            try {
                assertThrows(CudaException.class, () -> dev.alloc(DType.I32, 4), "allocation while capturing");
                assertThrows(CudaException.class, b::downloadInts, "read back while capturing");
                assertThrows(CudaException.class, s::synchronize, "synchronise while capturing");
            } finally {
                s.endCapture().close();
            }
            b.upload(new int[] {1, 2, 3, 4});  // after the capture, all is allowed again
            assertEquals(3, b.downloadInts()[2]);
        }
    }

    @Test
    void emulatedTransfersRoundTrip() {
        DeviceContract.transfersRoundTrip(dev);
    }

    @Test
    void emulatedOwnershipIsDeterministic() {
        DeviceContract.ownershipIsDeterministic(dev);
    }

    @Test
    void emulatedOutOfMemorySaysBytesAskedAndFree() {
        DeviceContract.outOfMemorySaysBytesAskedAndFree(dev);
    }

    @Test
    void emulatedUnknownKernelIsANamedError() {
        DeviceContract.unknownKernelIsANamedError(dev);
    }

    @Test
    void emulatedGraphCaptureRecordsAndReplays() {
        DeviceContract.graphCaptureRecordsAndReplays(dev);
    }

    @Test
    void emulatedEventRecordedInACaptureCannotBeWaitedOn() {
        DeviceContract.eventRecordedInACaptureCannotBeWaitedOn(dev);
    }

    @Test
    void emulatedPinnedMemoryUploadsAsync() {
        DeviceContract.pinnedMemoryUploadsAsync(dev);
    }

    @Test
    void emulatedSupportsConditionalGraphs() {
        ConditionalGraphContract.supported(dev);
    }

    @Test
    void emulatedIfBodiesRunUntilEverySlotHalted() {
        ConditionalGraphContract.ifBodiesRunUntilEverySlotHalted(dev);
    }

    @Test
    void emulatedConditionalDefaultsAreReappliedAtEveryLaunch() {
        ConditionalGraphContract.defaultsAreReappliedAtEveryLaunch(dev);
    }

    @Test
    void emulatedGemmInsideAnIfBody() {
        ConditionalGraphContract.gemmInsideAnIfBody(dev);
    }

    @Test
    void emulatedGraphBuilderMisuseIsRefusedAndCloseAbandons() {
        ConditionalGraphContract.misuseIsRefusedAndCloseAbandons(dev);
    }

    @Test
    void emulatedCopiesOutsideAllocationsAreRefused() {
        try (DeviceBuffer b = dev.alloc(DType.F32, 4)) {
            CudaException ex = assertThrows(CudaException.class,
                    () -> dev.driver.copyDeviceToDevice(b.address() + 8, b.address(), 16, 0));
            assertEquals("CUDA_ERROR_INVALID_VALUE", ex.statusName());
        }
    }

    @Test
    void emulatedDeviceCloseReleasesWhatIsStillOpen() {
        GpuDevice d = GpuDevice.open(Backend.EMULATED);
        DeviceBuffer leaked = d.alloc(DType.F32, 1024);
        PinnedHostMemory leakedHost = d.allocPinned(4096);
        d.newStream();
        d.close();
        assertEquals(true, leaked.isClosed());
        assertEquals(true, leakedHost.isClosed());
        assertEquals(0, d.openResources());
        assertThrows(IllegalStateException.class, () -> d.alloc(DType.F32, 1));
    }

    @Test
    void emulatedProgrammaticLaunchIsOnWhereSupported() {
        ProgrammaticLaunchContract.onWhereSupported(dev);
    }

    @Test
    void emulatedProgrammaticLaunchChainsKeepTheirOrder() {
        ProgrammaticLaunchContract.chainsKeepTheirOrder(dev);
    }

    /** Launches and GEMMs count once each when enqueued or captured, never when a graph replays them. */
    @Test
    void emulatedKernelsAndGemmsAreCountedWhenEnqueued() {
        Stream s = dev.defaultStream();
        try (DeviceBuffer a = dev.alloc(DType.F32, 4).upload(new float[] {1, 2, 3, 4});
             DeviceBuffer c = dev.alloc(DType.F32, 4); Blas blas = dev.newBlas(s)) {
            long kernels = dev.kernelsEnqueued(), gemms = dev.gemmsEnqueued();
            Runnable work = () -> {
                dev.kernel("accumulate").launch(s, 1, 32, 0, KernelArgs.of().ptr(a).i32(0).ptr(a).i32(0).i64(4));
                blas.gemm(s, false, false, 2, 2, 2, 1f, a, 2, a, 2, 0f, c, 2);  // c = a a, 2 x 2
            };
            work.run();
            s.beginCapture();
            work.run();
            try (Graph g = s.endCapture()) {
                g.launch(s);
                g.launch(s);
            }
            assertEquals(kernels + 2, dev.kernelsEnqueued(), "one launch run, one captured");
            assertEquals(gemms + 2, dev.gemmsEnqueued(), "one GEMM run, one captured");
            assertEquals(8f, a.downloadFloats()[0], "a doubled once run, twice replayed: 1 -> 8");
        }
    }

    /**
     * -Dtrm.pdl=false is the way out where programmatic launches misbehave on a device, so nothing may launch
     * programmatically, not even GpuDevice's probe at open: no kernel has run once the device is open, switching PDL
     * on is refused with the property as the reason, and a kernel one of whose threads skips trm_pdl_begin runs.
     */
    @Test
    void emulatedPdlPropertyFalseLaunchesNothingProgrammaticallyNotEvenTheProbe() {
        String before = System.getProperty(GpuDevice.PDL_PROPERTY);
        System.setProperty(GpuDevice.PDL_PROPERTY, "false");
        try (GpuDevice d = GpuDevice.open(Backend.EMULATED)) {
            assertEquals(0, d.kernelsRun(), "kernels launched while the device opened (the PDL probe?)");
            assertFalse(d.programmaticLaunch());
            String why = d.programmaticLaunchUnsupportedReason();
            assertTrue(why != null && why.contains("-Dtrm.pdl=false"), "reason: " + why);
            assertThrows(UnsupportedOperationException.class, () -> d.programmaticLaunch(true));
            try (DeviceBuffer out = d.alloc(DType.I32, 64)) {
                d.kernel("emu_check_pdl").launch(d.defaultStream(), 1, 64, 0, KernelArgs.of().ptr(out).i32(37));
                assertEquals(36, out.downloadInts()[36]);
            }
        } finally {
            if (before == null) System.clearProperty(GpuDevice.PDL_PROPERTY);
            else System.setProperty(GpuDevice.PDL_PROPERTY, before);
        }
    }
}
