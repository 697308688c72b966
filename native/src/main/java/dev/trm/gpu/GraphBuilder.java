package dev.trm.gpu;

import java.util.HashMap;
import java.util.Map;

/**
 * Builds a graph from a stream's work with conditional (IF) nodes, so one launch can skip work the device decides
 * to skip: e.g. 16 supervision steps of a TRM solve, each step an IF body guarded by "some puzzle of the batch has
 * not halted", stop costing anything once all have halted, without a round trip to the host.
 *
 * <p>Made by {@link Stream#beginGraph()}; from then on the stream's work (kernels, copies, memsets, BLAS calls on
 * that stream) is captured, as with {@link Stream#beginCapture()}. Use one stream only, sequentially: work on another
 * stream is not part of the graph. Typical use:
 * <pre>{@code
 * try (GraphBuilder b = stream.beginGraph()) {
 *     prelude(stream);                                   // always runs
 *     for (int k = 0; k < 16; k++) {
 *         GraphConditional c = b.conditional(0);
 *         b.setIfAnyZero(c, halted.address(), batch);    // c = 1 while some halted[b] == 0 (int [B])
 *         b.beginIf(c);
 *         step(stream);                                   // runs only when c != 0 at this point of the launch
 *         b.endIf();
 *     }
 *     graph = b.end();                                    // the caller owns (and closes) the graph
 * }
 * }</pre>
 * {@link #close()} without {@link #end()} abandons the graph (any capture under way ends, nothing runs); after
 * {@link #end()} it does nothing. Nested IFs are not supported. Check {@link GpuDevice#supportsConditionalGraphs()}
 * first; where it is false, capture a plain graph ({@link Stream#beginCapture()}) instead.
 *
 * <p>On CUDA (driver 12.4+) the graph is created with cuGraphCreate and captured with cuStreamBeginCaptureToGraph;
 * {@link #beginIf} ends that capture, adds a CU_GRAPH_NODE_TYPE_CONDITIONAL node (IF, one body) after the capture's
 * last nodes and captures the body from the same stream; {@link #endIf} resumes capturing the graph after the IF
 * node. CUDA allows kernels, memsets, memory copies and conditionals in a body (no host nodes, no event nodes), all
 * of one context. On the emulated device the IF node is a recorded step that reads the conditional's value.
 *
 * <p>Unverified on hardware: the CUDA path is written from cuda.h (13.0) and NVIDIA's documentation and has not run
 * on a GPU yet; {@link GpuDevice#supportsConditionalGraphs()} runs a small probe graph before anyone relies on it.
 */
public final class GraphBuilder extends Owned {
    private final Stream stream;
    private final long graph;
    private final Kernel setKernel;
    private final Map<Long, Boolean> conditionals = new HashMap<>();  // handle -> has its IF node
    private long openIf;      // the IF node whose body is being captured, 0 when none
    private boolean ended;

    private GraphBuilder(GpuDevice device, Stream stream, Kernel setKernel, long graph) {
        super(device);
        this.stream = stream;
        this.setKernel = setKernel;
        this.graph = graph;
    }

    /** Starts the capture first, so a failure (e.g. the stream already captures) leaves nothing to abandon. */
    static GraphBuilder begin(GpuDevice device, Stream stream, Kernel setKernel) {
        return new GraphBuilder(device, stream, setKernel, device.driver.graphBuildBegin(stream.handle()));
    }

    private void checkBuilding() {
        checkOpen();
        if (ended) throw new IllegalStateException("the graph was already ended");
    }

    /**
     * A new conditional of this graph whose value is reset to {@code defaultValue} at the start of every launch
     * (CU_GRAPH_COND_ASSIGN_DEFAULT). Each conditional must guard exactly one IF node ({@link #beginIf}): CUDA may
     * refuse to instantiate a graph with a handle no node uses, so {@link #end()} refuses it on every backend.
     */
    public GraphConditional conditional(int defaultValue) {
        checkBuilding();
        if (defaultValue < 0) throw new IllegalArgumentException("a conditional's value is unsigned: " + defaultValue);
        long h = device.driver.conditionalCreate(graph, defaultValue);
        conditionals.put(h, false);
        return new GraphConditional(h, defaultValue);
    }

    /**
     * Enqueues (captures) the kernel that sets {@code c} to 1 if some of the {@code n} ints at {@code flagsDevicePtr}
     * is 0, else to 0, when the launch reaches this point: {@code c = any(flags[0, n) == 0)}. One block of 256
     * threads; the flags are read as the work before it on the stream left them.
     *
     * @param flagsDevicePtr device address of int[n] (e.g. the batch's halted flags, int [B])
     * @param n              at least 1
     */
    public void setIfAnyZero(GraphConditional c, long flagsDevicePtr, int n) {
        checkBuilding();
        checkMine(c);
        if (n < 1) throw new IllegalArgumentException("setIfAnyZero needs at least one flag, not " + n);
        if (flagsDevicePtr == 0) throw new IllegalArgumentException("setIfAnyZero: null flags pointer");
        setKernel.launch(stream, 1, 256, 0, KernelArgs.of().i64(c.handle()).i64(flagsDevicePtr).i32(n));
    }

    /**
     * Places an IF node on {@code c} after all work captured so far; the work enqueued on the stream from here until
     * {@link #endIf()} forms its body, which runs at a launch only when {@code c}'s value is nonzero when the launch
     * reaches the node. Work captured after {@link #endIf()} runs after the node (whether or not the body ran).
     */
    public void beginIf(GraphConditional c) {
        checkBuilding();
        checkMine(c);
        if (openIf != 0) throw new IllegalStateException("nested IFs are not supported: endIf() the open one first");
        if (conditionals.get(c.handle())) {
            throw new IllegalArgumentException("the conditional " + c + " already guards an IF node: make one per IF");
        }
        conditionals.put(c.handle(), true);
        openIf = device.driver.graphBuildIfBegin(graph, stream.handle(), c.handle());
    }

    /** Ends the open IF's body; capture continues after the IF node. */
    public void endIf() {
        checkBuilding();
        if (openIf == 0) throw new IllegalStateException("endIf() without beginIf()");
        long node = openIf;
        openIf = 0;
        device.driver.graphBuildIfEnd(graph, stream.handle(), node);
    }

    /**
     * Ends the capture and instantiates the graph: the launchable {@link Graph}, owned by the caller. This builder is
     * done afterwards (its close() then does nothing).
     */
    public Graph end() {
        checkBuilding();
        if (openIf != 0) throw new IllegalStateException("end() inside an IF body: endIf() first");
        long unused = conditionals.values().stream().filter(used -> !used).count();
        if (unused > 0) throw new IllegalStateException(unused + " conditional(s) of this graph guard no IF node");
        ended = true;
        long exec;
        try {
            exec = device.driver.graphBuildEnd(graph, stream.handle());
        } catch (RuntimeException e) {
            device.driver.graphBuildAbandon(graph, stream.handle());
            close();
            throw e;
        }
        close();
        return new Graph(device, exec);
    }

    private void checkMine(GraphConditional c) {
        if (!conditionals.containsKey(c.handle())) {
            throw new IllegalArgumentException("the conditional " + c + " was not made by this graph builder");
        }
    }

    @Override
    void release() {
        if (!ended) device.driver.graphBuildAbandon(graph, stream.handle());
    }
}
