package dev.trm.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory (cuMemHostAlloc), with one owner: close() frees it at once. It is the source to use for
 * {@link DeviceBuffer#uploadAsync}: a copy from pageable memory may be made synchronous by the driver (staged through
 * its own pinned buffer), one from pinned memory runs on the stream while the host goes on. The caller keeps the
 * contents unchanged until the copies that read them have run (record an {@link Event} after them).
 */
@SuppressWarnings("restricted")  // a segment over the driver's address; native by design
public final class PinnedHostMemory extends Owned {
    private final long ptr;
    private final long bytes;
    private final Arena scope = Arena.ofShared();  // closing it invalidates every segment handed out
    private final MemorySegment segment;

    /** ptr was allocated by the caller (so a failed allocation leaves no half-built owner behind). */
    PinnedHostMemory(GpuDevice device, long bytes, long ptr) {
        super(device);
        this.ptr = ptr;
        this.bytes = bytes;
        this.segment = MemorySegment.ofAddress(ptr).reinterpret(bytes, scope, null);
    }

    /** The memory, {@code bytes()} long; the segment (and every slice of it) throws once this is closed. */
    public MemorySegment segment() {
        checkOpen();
        return segment;
    }

    public long bytes() {
        return bytes;
    }

    @Override
    void release() {
        scope.close();
        device.driver.hostFree(ptr);
    }
}
