package dev.trm.gpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An open device (CUDA: its primary context; emulated: host memory) with the kernel module loaded, a default stream
 * and the factories for everything else: buffers, pinned host memory, streams, events, BLAS. It owns what it
 * creates only as a safety net: each resource has one owner who closes it; close() here closes what is still open,
 * in reverse order of creation, then releases the context. Use it from one thread at a time.
 */
public final class GpuDevice implements AutoCloseable {
    final Driver driver;
    private final Set<Owned> live = new LinkedHashSet<>();
    private final Map<String, Kernel> kernels = new HashMap<>();
    private final long module;
    private final Stream defaultStream;
    private boolean closed;

    private GpuDevice(Driver driver) {
        this.driver = driver;
        try {
            byte[] image = driver.backend() == Backend.CUDA ? KernelImages.fatbin() : new byte[0];
            this.module = driver.moduleLoad(image);
            this.defaultStream = new Stream(this, driver.streamCreate());
        } catch (RuntimeException e) {
            driver.close();
            throw e;
        }
    }

    /** Opens the first usable device of the backend, or throws {@link GpuUnavailableException} saying why not. */
    public static GpuDevice open(Backend backend) {
        ProbeResult probe = DeviceProbe.probe(backend);
        if (!probe.available()) {
            throw new GpuUnavailableException("no " + backend.label() + " device: " + probe.reason());
        }
        DeviceInfo info = ((ProbeResult.Available) probe).firstUsable();
        Driver d = switch (backend) {
            case CUDA -> new CudaDriver(info.ordinal(), info);
            case EMULATED -> new EmulatedDriver(KernelImages.emulationLibrary());
        };
        return new GpuDevice(d);
    }

    public Backend backend() {
        return driver.backend();
    }

    public DeviceInfo info() {
        return driver.info();
    }

    /** {free, total} bytes. */
    public long[] memoryInfo() {
        checkOpen();
        return driver.memoryInfo();
    }

    public Stream defaultStream() {
        checkOpen();
        return defaultStream;
    }

    public DeviceBuffer alloc(DType type, long count) {
        checkOpen();
        if (count <= 0) throw new IllegalArgumentException("a device buffer needs at least one element, not " + count);
        long bytes = count * type.bytes();
        return new DeviceBuffer(this, type, bytes, driver.alloc(bytes));
    }

    /** Page-locked host memory of {@code bytes} bytes, for asynchronous uploads (see {@link PinnedHostMemory}). */
    public PinnedHostMemory allocPinned(long bytes) {
        checkOpen();
        if (bytes <= 0) throw new IllegalArgumentException("pinned host memory needs at least one byte, not " + bytes);
        return new PinnedHostMemory(this, bytes, driver.hostAlloc(bytes));
    }

    public Stream newStream() {
        checkOpen();
        return new Stream(this, driver.streamCreate());
    }

    public Event newEvent() {
        checkOpen();
        return new Event(this, driver.eventCreate());
    }

    /** A BLAS handle (cuBLAS engine) whose work goes to `stream` unless a call names another. */
    public Blas newBlas(Stream stream) {
        return newBlas(stream, GemmEngine.CUBLAS);
    }

    public Blas newBlas(Stream stream, GemmEngine engine) {
        checkOpen();
        return new Blas(this, driver.blasCreate(stream.handle()), engine);
    }

    /** A kernel of our module by its name (e.g. "rmsnorm_forward"); cached. */
    public Kernel kernel(String name) {
        checkOpen();
        return kernels.computeIfAbsent(name, n -> new Kernel(this, n, driver.moduleFunction(module, n)));
    }

    /** Waits for all work on the device. */
    public void synchronize() {
        checkOpen();
        driver.synchronize();
    }

    /**
     * How many resources are still open (buffers, pinned host memory, streams, events, graphs, BLAS handles, the
     * default stream).
     */
    public int openResources() {
        return live.size();
    }

    void track(Owned o) {
        live.add(o);
    }

    void untrack(Owned o) {
        live.remove(o);
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("the " + backend().label() + " device was closed");
    }

    @Override
    public void close() {
        if (closed) return;
        List<Owned> open = new ArrayList<>(live);
        for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
        kernels.clear();
        driver.moduleUnload(module);
        closed = true;
        driver.close();
    }
}
