package dev.trm.gpu;

/** Thrown by {@link GpuDevice#open} when the asked-for backend has no usable device; the message says why. */
public final class GpuUnavailableException extends RuntimeException {
    public GpuUnavailableException(String message) {
        super(message);
    }
}
