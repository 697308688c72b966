package dev.trm.gpu;

/**
 * Base of every device resource: one owner, closed exactly once (later closes do nothing), use after close throws.
 * The owning {@link GpuDevice} also closes what is still open when it closes, so nothing waits for the GC.
 */
abstract class Owned implements AutoCloseable {
    final GpuDevice device;
    private boolean closed;

    Owned(GpuDevice device) {
        this.device = device;
        device.track(this);
    }

    final void checkOpen() {
        if (closed) throw new IllegalStateException(getClass().getSimpleName() + " used after close");
        device.checkOpen();
    }

    public final boolean isClosed() {
        return closed;
    }

    @Override
    public final void close() {
        if (closed) return;
        closed = true;
        device.untrack(this);
        release();
    }

    /** Frees the native resource; called once. */
    abstract void release();
}
