package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The runtime contract on a real CUDA device. Skipped (with the probe's reason) where there is none, except when
 * TRM_REQUIRE_CUDA=1 (the device run sets it): then a missing device is a failure, never a silent skip.
 */
@Tag("gpu")
class CudaDeviceTest {
    static GpuDevice dev;

    static void requireOrSkip() {
        ProbeResult r = DeviceProbe.probe(Backend.CUDA);
        if ("1".equals(System.getenv("TRM_REQUIRE_CUDA"))) {
            assertTrue(r.available(), () -> "TRM_REQUIRE_CUDA=1 but no CUDA device: " + r.reason());
        }
        assumeTrue(r.available(), () -> "no CUDA device: " + r.reason());
    }

    @BeforeAll
    static void open() {
        requireOrSkip();
        dev = GpuDevice.open(Backend.CUDA);
        assertEquals(Backend.CUDA, dev.backend());
    }

    @AfterAll
    static void close() {
        if (dev != null) dev.close();
    }

    @Test
    void cudaTransfersRoundTrip() {
        DeviceContract.transfersRoundTrip(dev);
    }

    @Test
    void cudaOwnershipIsDeterministic() {
        DeviceContract.ownershipIsDeterministic(dev);
    }

    @Test
    void cudaOutOfMemorySaysBytesAskedAndFree() {
        DeviceContract.outOfMemorySaysBytesAskedAndFree(dev);
    }

    @Test
    void cudaUnknownKernelIsANamedError() {
        DeviceContract.unknownKernelIsANamedError(dev);
    }

    @Test
    void cudaGraphCaptureRecordsAndReplays() {
        DeviceContract.graphCaptureRecordsAndReplays(dev);
    }

    @Test
    void cudaEventRecordedInACaptureCannotBeWaitedOn() {
        DeviceContract.eventRecordedInACaptureCannotBeWaitedOn(dev);
    }

    @Test
    void cudaPinnedMemoryUploadsAsync() {
        DeviceContract.pinnedMemoryUploadsAsync(dev);
    }

    @Test
    void cudaSupportsConditionalGraphs() {
        ConditionalGraphContract.supported(dev);
    }

    @Test
    void cudaIfBodiesRunUntilEverySlotHalted() {
        ConditionalGraphContract.ifBodiesRunUntilEverySlotHalted(dev);
    }

    @Test
    void cudaConditionalDefaultsAreReappliedAtEveryLaunch() {
        ConditionalGraphContract.defaultsAreReappliedAtEveryLaunch(dev);
    }

    @Test
    void cudaGemmInsideAnIfBody() {
        ConditionalGraphContract.gemmInsideAnIfBody(dev);
    }

    @Test
    void cudaGraphBuilderMisuseIsRefusedAndCloseAbandons() {
        ConditionalGraphContract.misuseIsRefusedAndCloseAbandons(dev);
    }

    @Test
    void cudaProgrammaticLaunchIsOnWhereSupported() {
        ProgrammaticLaunchContract.onWhereSupported(dev);
    }

    @Test
    void cudaProgrammaticLaunchChainsKeepTheirOrder() {
        ProgrammaticLaunchContract.chainsKeepTheirOrder(dev);
    }
}
