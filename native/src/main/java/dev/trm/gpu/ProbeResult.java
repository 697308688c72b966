package dev.trm.gpu;

import java.util.List;

/** What the device probe found: devices, or the reason in words why there are none. */
public sealed interface ProbeResult {

    record Available(Backend backend, List<DeviceInfo> devices) implements ProbeResult {
        /** The first device our kernels can run on, or null. */
        public DeviceInfo firstUsable() {
            return devices.stream().filter(DeviceInfo::usable).findFirst().orElse(null);
        }
    }

    record Unavailable(Backend backend, String reason) implements ProbeResult {}

    default boolean available() {
        return this instanceof Available a && a.firstUsable() != null;
    }

    /** The reason no usable device is there, or null when one is. */
    default String reason() {
        return switch (this) {
            case Unavailable u -> u.reason();
            case Available a -> a.firstUsable() != null ? null
                    : "no usable device: " + a.devices().stream().map(DeviceInfo::describe).toList();
        };
    }
}
