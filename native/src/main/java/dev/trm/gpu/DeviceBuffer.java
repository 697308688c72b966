package dev.trm.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One device allocation, with one owner: close() frees it at once. Transfers are explicit and synchronous on the
 * device's default stream (host arrays are staged through off-heap memory); sizes are checked in elements.
 */
public final class DeviceBuffer extends Owned {
    private final long ptr;
    private final long bytes;
    private final DType type;

    /** ptr was allocated by the caller (so a failed allocation leaves no half-built owner behind). */
    DeviceBuffer(GpuDevice device, DType type, long bytes, long ptr) {
        super(device);
        this.type = type;
        this.bytes = bytes;
        this.ptr = ptr;
    }

    /** The device address (for kernel arguments); throws after close. */
    public long address() {
        checkOpen();
        return ptr;
    }

    public long bytes() {
        return bytes;
    }

    public DType type() {
        return type;
    }

    public long count() {
        return bytes / type.bytes();
    }

    private void checkCount(int n, DType expected) {
        if (type != expected) throw new IllegalArgumentException("buffer holds " + type + ", not " + expected);
        if ((long) n * type.bytes() > bytes) {
            throw new IllegalArgumentException(n + " elements do not fit a buffer of " + count());
        }
    }

    public DeviceBuffer upload(float[] host) {
        checkCount(host.length, DType.F32);
        try (Arena a = Arena.ofConfined()) {
            toDevice(a.allocateFrom(ValueLayout.JAVA_FLOAT, host));
        }
        return this;
    }

    /** Rounds each value to bf16 (as __float2bfloat16) and uploads. */
    public DeviceBuffer uploadBf16(float[] host) {
        checkCount(host.length, DType.BF16);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(ValueLayout.JAVA_SHORT, Math.max(1, host.length));
            for (int i = 0; i < host.length; i++) s.setAtIndex(ValueLayout.JAVA_SHORT, i, Bf16.fromFloat(host[i]));
            toDevice(s.asSlice(0, 2L * host.length));
        }
        return this;
    }

    public DeviceBuffer upload(int[] host) {
        checkCount(host.length, DType.I32);
        try (Arena a = Arena.ofConfined()) {
            toDevice(a.allocateFrom(ValueLayout.JAVA_INT, host));
        }
        return this;
    }

    public float[] downloadFloats() {
        if (type != DType.F32) throw new IllegalArgumentException("buffer holds " + type + ", not F32");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(bytes, 8);
            toHost(s);
            return s.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** The bf16 contents widened to float. */
    public float[] downloadBf16() {
        if (type != DType.BF16) throw new IllegalArgumentException("buffer holds " + type + ", not BF16");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(bytes, 8);
            toHost(s);
            float[] out = new float[(int) count()];
            for (int i = 0; i < out.length; i++) out[i] = Bf16.toFloat(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
            return out;
        }
    }

    public int[] downloadInts() {
        if (type != DType.I32) throw new IllegalArgumentException("buffer holds " + type + ", not I32");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(bytes, 8);
            toHost(s);
            return s.toArray(ValueLayout.JAVA_INT);
        }
    }

    /**
     * Enqueues a copy of host memory into the start of this buffer on the stream and returns at once: the caller
     * keeps {@code host} alive and unchanged until the copy has run (record an {@link Event} after it).
     */
    public void uploadAsync(MemorySegment host, Stream stream) {
        if (host.byteSize() > bytes) {
            throw new IllegalArgumentException(host.byteSize() + " bytes do not fit a buffer of " + bytes);
        }
        device.driver.copyHostToDevice(address(), host, host.byteSize(), stream.handle());
    }

    /** Sets every byte to zero, enqueued on the stream. */
    public void zero(Stream stream) {
        device.driver.memset(address(), (byte) 0, bytes, stream.handle());
    }

    /** Copies all of src into this buffer (same size), enqueued on the stream. */
    public void copyFrom(DeviceBuffer src, Stream stream) {
        if (src.bytes != bytes) throw new IllegalArgumentException("copy of " + src.bytes + " bytes into " + bytes);
        device.driver.copyDeviceToDevice(address(), src.address(), bytes, stream.handle());
    }

    private void toDevice(MemorySegment host) {
        Stream s = device.defaultStream();
        device.driver.copyHostToDevice(address(), host, host.byteSize(), s.handle());
        s.synchronize();  // the staging memory dies with the caller's arena
    }

    private void toHost(MemorySegment host) {
        Stream s = device.defaultStream();
        device.driver.copyDeviceToHost(host, address(), host.byteSize(), s.handle());
        s.synchronize();
    }

    @Override
    void release() {
        device.driver.free(ptr);
    }
}
