package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceProbe;
import dev.trm.gpu.ProbeResult;

/** How the device tests find their device: a skip with the probe's reason where it is absent. */
final class TestDevices {
    private TestDevices() {}

    /** A usable CUDA device, or a skip; under TRM_REQUIRE_CUDA=1 (the device run) its absence is a failure. */
    static void assumeCuda() {
        ProbeResult r = DeviceProbe.probe(Backend.CUDA);
        if ("1".equals(System.getenv("TRM_REQUIRE_CUDA"))) {
            assertTrue(r.available(), () -> "TRM_REQUIRE_CUDA=1 but no CUDA device: " + r.reason());
        }
        assumeTrue(r.available(), () -> "no CUDA device: " + r.reason());
    }

    /** The emulated device (the emulation library was built), or a skip. */
    static void assumeEmulated() {
        ProbeResult r = DeviceProbe.probe(Backend.EMULATED);
        assumeTrue(r.available(), () -> "emulated device unavailable: " + r.reason());
    }
}
