package dev.trm.gpu;

import java.util.ArrayList;
import java.util.Arrays;
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
    private String conditionalsUnsupported;  // null: not checked yet; "" after the check passed, else the reason
    private long graphControlModule;         // graph_control.fatbin, loaded by the check; 0 when not loaded
    private Kernel graphControlKernel;
    private String programmaticUnsupported;  // null where kernels can launch as programmatic dependents
    private boolean programmatic;            // whether they do now
    long kernelsEnqueued, gemmsEnqueued;     // counted by Kernel and Blas

    /** The system property that switches programmatic dependent launch off for a run: -Dtrm.pdl=false. */
    public static final String PDL_PROPERTY = "trm.pdl";

    private GpuDevice(Driver driver) {
        this.driver = driver;
        try {
            byte[] image = driver.backend() == Backend.CUDA ? KernelImages.fatbin() : new byte[0];
            this.module = driver.moduleLoad(image);
            this.defaultStream = new Stream(this, driver.streamCreate());
            // -Dtrm.pdl=false is the way out where programmatic launches misbehave on a device: then not even the
            // probe below launches one (a probe that faulted would leave the context unusable for plain launches too).
            String why = driver.programmaticLaunchUnsupportedReason();
            if (why == null && !pdlProperty()) {
                why = "switched off for this run by -D" + PDL_PROPERTY + "=false (not probed)";
            }
            this.programmaticUnsupported = why != null ? why : probeProgrammaticLaunch();
            this.programmatic = programmaticUnsupported == null;
        } catch (RuntimeException e) {
            driver.close();
            throw e;
        }
    }

    private static boolean pdlProperty() {
        String v = System.getProperty(PDL_PROPERTY, "true");
        if (!v.equals("true") && !v.equals("false")) {
            throw new IllegalArgumentException("-D" + PDL_PROPERTY + " must be true or false, not '" + v + "'");
        }
        return v.equals("true");
    }

    /**
     * Two programmatic launches on the default stream with a memset between them, then the same captured into a graph
     * and replayed: a copy a -> b -> c through the convert kernel, whose result must arrive. The memset makes the
     * second kernel a programmatic launch whose predecessor is no kernel, as in the training step's graph (gradients
     * zeroed between kernels); the conditional graph check covers one after an IF node. Null when all of it worked,
     * else what failed (a driver that refuses the attribute or its capture). Errors of a refused launch are not
     * sticky, so the device stays usable with plain launches.
     */
    private String probeProgrammaticLaunch() {
        int n = 1000;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = i + 0.5f;
        Kernel convert = new Kernel(this, "convert", driver.moduleFunction(module, "convert"));
        try (DeviceBuffer a = alloc(DType.F32, n).upload(values); DeviceBuffer b = alloc(DType.F32, n);
             DeviceBuffer c = alloc(DType.F32, n); DeviceBuffer d = alloc(DType.F32, n)) {
            Stream s = defaultStream;
            Runnable copies = () -> {
                convert.launch(s, Kernel.blocks(n, 256), 256, 0, KernelArgs.of().ptr(a).i32(0).ptr(b).i32(0).i64(n), true);
                d.zero(s);
                convert.launch(s, Kernel.blocks(n, 256), 256, 0, KernelArgs.of().ptr(b).i32(0).ptr(c).i32(0).i64(n), true);
            };
            copies.run();
            s.synchronize();
            if (!Arrays.equals(c.downloadFloats(), values)) return "the probe's two launches lost the data";
            c.zero(s);
            b.zero(s);
            s.beginCapture();
            RuntimeException captureFailed = null;
            try {
                copies.run();
            } catch (RuntimeException e) {
                captureFailed = e;  // the capture must still end
            }
            Graph graph;
            try {
                graph = s.endCapture();
            } catch (CudaException e) {
                // A launch refused during the capture invalidates it, so the end fails too: report the launch.
                if (captureFailed == null) throw e;
                captureFailed.addSuppressed(e);
                throw captureFailed;
            }
            try (Graph g = graph) {
                if (captureFailed != null) throw captureFailed;
                g.launch(s);
                s.synchronize();
            }
            if (!Arrays.equals(c.downloadFloats(), values)) return "the probe graph's two launches lost the data";
            return null;
        } catch (CudaException e) {
            return "the programmatic launch probe failed: " + e.getMessage();
        }
    }

    /**
     * Whether kernels launch as programmatic dependents of the work before them on their stream (PDL, see
     * trm_pdl_begin in common.cuh): on by default where {@link #programmaticLaunchUnsupportedReason()} is null (which
     * -Dtrm.pdl=false makes it not). A graph keeps the launches as they were captured.
     */
    public boolean programmaticLaunch() {
        return programmatic;
    }

    /**
     * Why kernels cannot launch as programmatic dependents here (compute capability below 9.0, a failed probe, or
     * -Dtrm.pdl=false, which skips the probe), or null.
     */
    public String programmaticLaunchUnsupportedReason() {
        return programmaticUnsupported;
    }

    /** Switches programmatic dependent launch on or off for the launches that follow (benchmarks compare the two). */
    public void programmaticLaunch(boolean on) {
        checkOpen();
        if (on && programmaticUnsupported != null) {
            throw new UnsupportedOperationException("programmatic dependent launch is unsupported: " + programmaticUnsupported);
        }
        programmatic = on;
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

    /**
     * Kernels of ours enqueued through this device so far, captured ones included (a graph launch adds none): the
     * count before and after some work says how many kernel launches it is, or how many kernel nodes its graph has.
     */
    public long kernelsEnqueued() {
        return kernelsEnqueued;
    }

    /**
     * GEMMs enqueued through this device's BLAS handles so far, counted as {@link #kernelsEnqueued()} is (cuBLAS may
     * run more than one kernel for one GEMM).
     */
    public long gemmsEnqueued() {
        return gemmsEnqueued;
    }

    /**
     * Kernels the device has run so far, graph launches included, where the driver can tell (the emulated device: a
     * test's view of what a conditional graph skipped); -1 on CUDA.
     */
    public long kernelsRun() {
        return driver.kernelsRun();
    }

    /**
     * Whether {@link Stream#beginGraph()} can build graphs with conditional IF nodes here. False when the driver lacks
     * the entry points (or is older than 12.4), when the graph-control kernel module (graph_control.fatbin) was not
     * built or did not load, or when the probe failed: a two-launch graph whose IF body must run at the first launch
     * and be skipped at the second. Callers then capture a plain graph. Checked once (the first call runs the probe
     * on a stream of its own, then waits for it); never throws for a device that is open. Make the first call
     * outside any capture: the probe allocates, which a capturing thread may not do on CUDA (the answer would then be
     * a lasting false). One risk is not covered: a probe kernel that faulted on the GPU would leave the context in a
     * sticky error state, as any faulting kernel does; the probe's kernel is a one-block flag read, so that would mean
     * a broken driver or module.
     */
    public boolean supportsConditionalGraphs() {
        return conditionalGraphsUnsupportedReason() == null;
    }

    /** Why {@link #supportsConditionalGraphs()} is false, in words; null when it is true. */
    public String conditionalGraphsUnsupportedReason() {
        checkOpen();
        if (conditionalsUnsupported == null) conditionalsUnsupported = checkConditionalGraphs();
        return conditionalsUnsupported.isEmpty() ? null : conditionalsUnsupported;
    }

    /** The kernel that sets a conditional, for GraphBuilder; throws where conditional graphs are unsupported. */
    Kernel graphControlKernel() {
        String why = conditionalGraphsUnsupportedReason();
        if (why != null) throw new UnsupportedOperationException("conditional graphs are unsupported: " + why);
        return graphControlKernel;
    }

    private String checkConditionalGraphs() {
        String why = orWhyNot(this::loadGraphControlAndProbe);
        if (why != null && programmatic && graphControlKernel != null) {
            // Programmatic launch has not run on hardware before conditional graphs here: if the probe fails with it
            // and passes without, early halting keeps its conditional nodes and the device gives up PDL instead.
            programmatic = false;
            if (orWhyNot(this::probeConditionalGraph) == null) {
                programmaticUnsupported = "conditional graphs failed with programmatic launches (" + why + ")";
                return "";
            }
            programmatic = true;
        }
        return why == null ? "" : why;
    }

    /** Loads graph_control's module and kernel, then probes; null when all of it worked, else why not. */
    private String loadGraphControlAndProbe() {
        String why = driver.conditionalGraphsUnsupportedReason();
        if (why != null) return why;
        byte[] image = new byte[0];
        if (driver.backend() == Backend.CUDA) {
            image = KernelImages.graphControlFatbin();
            if (image == null) return "graph_control.fatbin was not built (no nvcc when the kernels were built)";
        }
        graphControlModule = driver.moduleLoad(image);
        graphControlKernel = new Kernel(this, "graph_set_if_any_zero",
                driver.moduleFunction(graphControlModule, "graph_set_if_any_zero"));
        return probeConditionalGraph();
    }

    /** The check's answer, or what it threw in words (a driver or module that cannot do conditional graphs). */
    private static String orWhyNot(java.util.function.Supplier<String> check) {
        try {
            return check.get();
        } catch (CudaException | UnsupportedOperationException | IllegalStateException | LinkageError
                 | java.util.NoSuchElementException e) {
            return "the conditional graph check failed: " + e;
        }
    }

    /**
     * One flag, one IF: the body writes 1 into `out` when the flag is 0 (setIfAnyZero gives 1); launched with the
     * flag 0 (body runs), then 1 (body skipped). After the IF node a kernel adds 1 to `after` (a kernel launched,
     * programmatically where the device does, right after an IF node, as the early-halt solve's next step is). Null
     * when both launches did what they should, else what went wrong.
     */
    private String probeConditionalGraph() {
        try (Stream s = newStream(); DeviceBuffer flag = alloc(DType.I32, 1); DeviceBuffer out = alloc(DType.I32, 1);
             DeviceBuffer after = alloc(DType.F32, 1); DeviceBuffer one = alloc(DType.F32, 1).upload(new float[] {1f})) {
            Graph g;
            try (GraphBuilder b = GraphBuilder.begin(this, s, graphControlKernel)) {
                GraphConditional c = b.conditional(0);
                b.setIfAnyZero(c, flag.address(), 1);
                b.beginIf(c);
                driver.memset(out.address(), (byte) 1, 1, s.handle());  // out = 1 (its low byte, the others are 0)
                b.endIf();
                kernel("accumulate").launch(s, 1, 32, 0, KernelArgs.of().ptr(after).i32(0).ptr(one).i32(0).i64(1));
                g = b.end();
            }
            try (g) {
                int[] ran = new int[2];
                float[] afterRan = new float[2];
                for (int flagValue = 0; flagValue < 2; flagValue++) {
                    flag.upload(new int[] {flagValue});
                    out.upload(new int[] {0});
                    after.upload(new float[] {0f});
                    g.launch(s);
                    s.synchronize();
                    ran[flagValue] = out.downloadInts()[0];
                    afterRan[flagValue] = after.downloadFloats()[0];
                }
                if (ran[0] != 1 || ran[1] != 0) {
                    return "the probe graph's IF body ran " + (ran[0] == 1 ? "" : "not ") + "with the flag 0 and "
                            + (ran[1] == 1 ? "" : "not ") + "with the flag 1";
                }
                if (afterRan[0] != 1f || afterRan[1] != 1f) {
                    return "the kernel after the probe graph's IF node added " + afterRan[0] + " and " + afterRan[1]
                            + ", not 1 each time";
                }
                return null;
            }
        }
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
        if (graphControlModule != 0) driver.moduleUnload(graphControlModule);
        driver.moduleUnload(module);
        closed = true;
        driver.close();
    }
}
