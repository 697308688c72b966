package dev.trm.gpu;

/** A CUDA event: a point in a stream's work, for ordering between streams and for timing on the device. */
public final class Event extends Owned {
    private final long handle;

    Event(GpuDevice device, long handle) {
        super(device);
        this.handle = handle;
    }

    long handle() {
        checkOpen();
        return handle;
    }

    public void record(Stream stream) {
        device.driver.eventRecord(handle(), stream.handle());
    }

    public void synchronize() {
        device.driver.eventSynchronize(handle());
    }

    /** Milliseconds from start to this event (both recorded and completed). */
    public float millisSince(Event start) {
        return device.driver.eventElapsedMillis(start.handle(), handle());
    }

    @Override
    void release() {
        device.driver.eventDestroy(handle);
    }
}
