package dev.trm.gpu;

/** A CUDA stream (in-order work queue), owned by one holder; it can capture its work into a {@link Graph}. */
public final class Stream extends Owned {
    private final long handle;

    Stream(GpuDevice device, long handle) {
        super(device);
        this.handle = handle;
    }

    long handle() {
        checkOpen();
        return handle;
    }

    public void synchronize() {
        device.driver.streamSynchronize(handle());
    }

    /** Later work on this stream waits until the event has completed. */
    public void waitFor(Event event) {
        device.driver.streamWaitEvent(handle(), event.handle());
    }

    /** From here until {@link #endCapture()}, work enqueued on this stream is recorded, not run. */
    public void beginCapture() {
        device.driver.beginCapture(handle());
    }

    /** Ends the capture and returns the recorded work as a launchable graph (owned by the caller). */
    public Graph endCapture() {
        return new Graph(device, device.driver.endCapture(handle()));
    }

    @Override
    void release() {
        device.driver.streamDestroy(handle);
    }
}
