package dev.trm.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** How the native emulated-device tests open their device: a skip with the probe's reason where it is absent. */
final class EmulatedTestDevice {
    private EmulatedTestDevice() {}

    /** The emulated device (the emulation library was built), or a skip. */
    static GpuDevice openOrSkip() {
        ProbeResult r = DeviceProbe.probe(Backend.EMULATED);
        assumeTrue(r.available(), () -> "emulated device unavailable: " + r.reason());
        return GpuDevice.open(Backend.EMULATED);
    }
}
