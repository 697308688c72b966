package dev.trm.gpu;

/** A captured and instantiated CUDA graph: the recorded work, replayed by {@link #launch(Stream)} at low cost. */
public final class Graph extends Owned {
    private final long handle;

    Graph(GpuDevice device, long handle) {
        super(device);
        this.handle = handle;
    }

    public void launch(Stream stream) {
        checkOpen();
        device.driver.graphLaunch(handle, stream.handle());
    }

    @Override
    void release() {
        device.driver.graphDestroy(handle);
    }
}
