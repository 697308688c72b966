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

    /**
     * Starts building a graph from this stream's work (segments captured with cuStreamBeginCaptureToGraph) that can
     * hold conditional IF nodes: see {@link GraphBuilder}. The builder owns the graph under construction until its
     * {@link GraphBuilder#end()}; closing it before abandons the graph and ends any capture. Throws
     * {@link UnsupportedOperationException} (with the reason) where {@link GpuDevice#supportsConditionalGraphs()} is
     * false.
     */
    public GraphBuilder beginGraph() {
        checkOpen();
        return GraphBuilder.begin(device, this, device.graphControlKernel());
    }

    @Override
    void release() {
        device.driver.streamDestroy(handle);
    }
}
