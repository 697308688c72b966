package dev.trm.gpu;

import static dev.trm.gpu.Errors.checkCuda;
import static dev.trm.gpu.Errors.checkCublas;

import dev.trm.bindings.cublas.cublas_h;
import dev.trm.bindings.cuda.CUDA_CONDITIONAL_NODE_PARAMS;
import dev.trm.bindings.cuda.CUgraphEdgeData_st;
import dev.trm.bindings.cuda.CUgraphNodeParams_st;
import dev.trm.bindings.cuda.CUlaunchAttributeValue_union;
import dev.trm.bindings.cuda.CUlaunchAttribute_st;
import dev.trm.bindings.cuda.CUlaunchConfig_st;
import dev.trm.bindings.cuda.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * The real device: one CUDA device's primary context, driven through the jextract bindings. Constructed only by
 * {@link DeviceProbe} after libcuda was found and loaded; every call makes the context current on the calling
 * thread first (cheap), so the runtime may be used from any one thread at a time.
 */
final class CudaDriver implements Driver {
    private static final long BLAS_WORKSPACE_BYTES = 32L << 20;  // cuBLAS needs one it owns for graph capture

    private final int ordinal;
    private final DeviceInfo info;
    private final MemorySegment context;
    private boolean closed;

    CudaDriver(int ordinal, DeviceInfo info) {
        this.ordinal = ordinal;
        this.info = info;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dev = a.allocate(ValueLayout.JAVA_INT);
            checkCuda(cuda_h.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
            MemorySegment ctx = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuDevicePrimaryCtxRetain(ctx, dev.get(ValueLayout.JAVA_INT, 0)),
                    "cuDevicePrimaryCtxRetain(" + ordinal + ")");
            context = ctx.get(ValueLayout.ADDRESS, 0);
        }
        current();
    }

    private void current() {
        if (closed) throw new IllegalStateException("the CUDA device " + ordinal + " was closed");
        checkCuda(cuda_h.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    private static MemorySegment h(long handle) {
        return MemorySegment.ofAddress(handle);
    }

    @Override
    public Backend backend() {
        return Backend.CUDA;
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public long[] memoryInfo() {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(ValueLayout.JAVA_LONG), total = a.allocate(ValueLayout.JAVA_LONG);
            checkCuda(cuda_h.cuMemGetInfo_v2(free, total), "cuMemGetInfo");
            return new long[] {free.get(ValueLayout.JAVA_LONG, 0), total.get(ValueLayout.JAVA_LONG, 0)};
        }
    }

    @Override
    public long alloc(long bytes) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.JAVA_LONG);
            int st = cuda_h.cuMemAlloc_v2(p, bytes);
            if (st == Errors.CUDA_ERROR_OUT_OF_MEMORY) {
                long[] mi = memoryInfo();
                throw Errors.outOfMemory(bytes, mi[0], mi[1]);
            }
            checkCuda(st, "cuMemAlloc(" + bytes + " bytes)");
            return p.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Override
    public void free(long ptr) {
        current();
        checkCuda(cuda_h.cuMemFree_v2(ptr), "cuMemFree");
    }

    @Override
    public long hostAlloc(long bytes) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            // Flags 0: pinned for this (primary) context, which is the only one that copies from it.
            checkCuda(cuda_h.cuMemHostAlloc(p, bytes, 0), "cuMemHostAlloc(" + bytes + " bytes)");
            return p.get(ValueLayout.ADDRESS, 0).address();
        }
    }

    @Override
    public void hostFree(long ptr) {
        current();
        checkCuda(cuda_h.cuMemFreeHost(h(ptr)), "cuMemFreeHost");
    }

    @Override
    public void copyHostToDevice(long dst, MemorySegment src, long bytes, long stream) {
        current();
        checkCuda(cuda_h.cuMemcpyHtoDAsync_v2(dst, src, bytes, h(stream)), "cuMemcpyHtoDAsync(" + bytes + " bytes)");
    }

    @Override
    public void copyDeviceToHost(MemorySegment dst, long src, long bytes, long stream) {
        current();
        checkCuda(cuda_h.cuMemcpyDtoHAsync_v2(dst, src, bytes, h(stream)), "cuMemcpyDtoHAsync(" + bytes + " bytes)");
    }

    @Override
    public void copyDeviceToDevice(long dst, long src, long bytes, long stream) {
        current();
        checkCuda(cuda_h.cuMemcpyDtoDAsync_v2(dst, src, bytes, h(stream)), "cuMemcpyDtoDAsync(" + bytes + " bytes)");
    }

    @Override
    public void memset(long dst, byte value, long bytes, long stream) {
        current();
        checkCuda(cuda_h.cuMemsetD8Async(dst, value, bytes, h(stream)), "cuMemsetD8Async");
    }

    @Override
    public long streamCreate() {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuStreamCreate(s, cuda_h.CU_STREAM_NON_BLOCKING()), "cuStreamCreate");
            return s.get(ValueLayout.ADDRESS, 0).address();
        }
    }

    @Override
    public void streamDestroy(long stream) {
        current();
        checkCuda(cuda_h.cuStreamDestroy_v2(h(stream)), "cuStreamDestroy");
    }

    @Override
    public void streamSynchronize(long stream) {
        current();
        checkCuda(cuda_h.cuStreamSynchronize(h(stream)), "cuStreamSynchronize");
    }

    @Override
    public void streamWaitEvent(long stream, long event) {
        current();
        checkCuda(cuda_h.cuStreamWaitEvent(h(stream), h(event), 0), "cuStreamWaitEvent");
    }

    @Override
    public long eventCreate() {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuEventCreate(e, cuda_h.CU_EVENT_DEFAULT()), "cuEventCreate");
            return e.get(ValueLayout.ADDRESS, 0).address();
        }
    }

    @Override
    public void eventRecord(long event, long stream) {
        current();
        checkCuda(cuda_h.cuEventRecord(h(event), h(stream)), "cuEventRecord");
    }

    @Override
    public void eventSynchronize(long event) {
        current();
        checkCuda(cuda_h.cuEventSynchronize(h(event)), "cuEventSynchronize");
    }

    @Override
    public float eventElapsedMillis(long start, long end) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(ValueLayout.JAVA_FLOAT);
            checkCuda(cuda_h.cuEventElapsedTime_v2(ms, h(start), h(end)), "cuEventElapsedTime");
            return ms.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    @Override
    public void eventDestroy(long event) {
        current();
        checkCuda(cuda_h.cuEventDestroy_v2(h(event)), "cuEventDestroy");
    }

    @Override
    public long moduleLoad(byte[] image) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 8L, 16);  // the driver reads the image from host memory
            MemorySegment.copy(image, 0, img, ValueLayout.JAVA_BYTE, 0, image.length);
            MemorySegment m = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuModuleLoadData(m, img), "cuModuleLoadData(a " + image.length + "-byte fatbin on " + info.name()
                    + ", sm_" + info.ccMajor() + info.ccMinor() + ")");
            return m.get(ValueLayout.ADDRESS, 0).address();
        }
    }

    @Override
    public void moduleUnload(long module) {
        current();
        checkCuda(cuda_h.cuModuleUnload(h(module)), "cuModuleUnload");
    }

    @Override
    public long moduleFunction(long module, String name) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuModuleGetFunction(f, h(module), a.allocateFrom(name)),
                    "cuModuleGetFunction(" + name + ")");
            return f.get(ValueLayout.ADDRESS, 0).address();
        }
    }

    @Override
    public void launch(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream,
                       KernelArgs args, boolean programmatic) {
        current();
        try (Arena a = Arena.ofConfined()) {  // both calls copy the argument values before they return
            if (!programmatic) {
                checkCuda(cuda_h.cuLaunchKernel(h(function), gx, gy, gz, bx, by, bz, sharedBytes, h(stream),
                        args.pack(a), MemorySegment.NULL), "cuLaunchKernel");
                return;
            }
            // cuLaunchKernelEx with one attribute: PROGRAMMATIC_STREAM_SERIALIZATION = 1, this kernel may start
            // before the previous one on the stream completes (it waits in trm_pdl_begin, common.cuh).
            MemorySegment attr = CUlaunchAttribute_st.allocate(a);
            CUlaunchAttribute_st.id(attr, cuda_h.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION());
            CUlaunchAttributeValue_union.programmaticStreamSerializationAllowed(CUlaunchAttribute_st.value(attr), 1);
            MemorySegment config = CUlaunchConfig_st.allocate(a);
            CUlaunchConfig_st.gridDimX(config, gx);
            CUlaunchConfig_st.gridDimY(config, gy);
            CUlaunchConfig_st.gridDimZ(config, gz);
            CUlaunchConfig_st.blockDimX(config, bx);
            CUlaunchConfig_st.blockDimY(config, by);
            CUlaunchConfig_st.blockDimZ(config, bz);
            CUlaunchConfig_st.sharedMemBytes(config, sharedBytes);
            CUlaunchConfig_st.hStream(config, h(stream));
            CUlaunchConfig_st.attrs(config, attr);
            CUlaunchConfig_st.numAttrs(config, 1);
            checkCuda(cuda_h.cuLaunchKernelEx(config, h(function), args.pack(a), MemorySegment.NULL),
                    "cuLaunchKernelEx (programmatic dependent launch)");
        }
    }

    @Override
    public String programmaticLaunchUnsupportedReason() {
        if (info.ccMajor() < 9) {
            return "compute capability " + info.ccMajor() + "." + info.ccMinor() + " (programmatic dependent launch "
                    + "needs 9.0 or newer)";
        }
        return null;
    }

    @Override
    public void beginCapture(long stream) {
        current();
        checkCuda(cuda_h.cuStreamBeginCapture_v2(h(stream), CAPTURE_MODE),
                "cuStreamBeginCapture");
    }

    @Override
    public long endCapture(long stream) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuStreamEndCapture(h(stream), g), "cuStreamEndCapture");
            MemorySegment graph = g.get(ValueLayout.ADDRESS, 0);
            MemorySegment exec = a.allocate(ValueLayout.ADDRESS);
            int st = cuda_h.cuGraphInstantiateWithFlags(exec, graph, 0L);
            // The executable graph is independent of the graph it came from: free that one at once.
            checkCuda(cuda_h.cuGraphDestroy(graph), "cuGraphDestroy");
            checkCuda(st, "cuGraphInstantiate");
            return exec.get(ValueLayout.ADDRESS, 0).address();
        }
    }

    @Override
    public void graphLaunch(long graph, long stream) {
        current();
        checkCuda(cuda_h.cuGraphLaunch(h(graph), h(stream)), "cuGraphLaunch");
    }

    @Override
    public void graphDestroy(long graph) {
        current();
        Long built = builtGraphs.remove(graph);
        try {
            checkCuda(cuda_h.cuGraphExecDestroy(h(graph)), "cuGraphExecDestroy");
        } finally {
            if (built != null) checkCuda(cuda_h.cuGraphDestroy(h(built)), "cuGraphDestroy");
        }
    }

    // ---- Graphs with conditional (IF) nodes -------------------------------------------------------------------
    // Built with stream capture into a graph we create (cuStreamBeginCaptureToGraph), the capture ended and restarted
    // around each IF node: the IF node's body is itself captured from the same stream (the caller's kernels and
    // cuBLAS calls go to the stream they always use). Written from cuda.h of CUDA 13.0 and NVIDIA's documentation;
    // NOT run on hardware here (no GPU on the build machine): every call below is unverified until the @Tag("gpu")
    // tests and GpuDevice's probe graph run on a device.

    /** Executable graph -> the graph it was instantiated from, kept until the executable is destroyed (below). */
    private final Map<Long, Long> builtGraphs = new HashMap<>();

    private static final String[] CONDITIONAL_ENTRY_POINTS = {"cuGraphCreate", "cuStreamBeginCaptureToGraph",
            "cuStreamGetCaptureInfo_v3", "cuGraphAddNode_v2", "cuGraphConditionalHandleCreate"};

    @Override
    public String conditionalGraphsUnsupportedReason() {
        // IF nodes, capture into an existing graph and the v3 capture info (with edge data) came with CUDA 12.3/12.4.
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            checkCuda(cuda_h.cuDriverGetVersion(v), "cuDriverGetVersion");
            int version = v.get(ValueLayout.JAVA_INT, 0);
            if (version < 12040) {
                return "the CUDA driver is " + Errors.versionText(version) + "; conditional graph nodes need 12.4";
            }
        }
        // libcuda was loaded with System.load, so its symbols are in the loader lookup the bindings use.
        SymbolLookup lookup = SymbolLookup.loaderLookup();
        for (String name : CONDITIONAL_ENTRY_POINTS) {
            if (lookup.find(name).isEmpty()) return "the CUDA driver has no " + name;
        }
        return null;
    }

    // Thread-local: only this thread's unsafe calls (allocation, synchronisation) invalidate a capture.
    private static final int CAPTURE_MODE = cuda_h.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL();

    @Override
    public long graphBuildBegin(long stream) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuGraphCreate(g, 0), "cuGraphCreate");
            MemorySegment graph = g.get(ValueLayout.ADDRESS, 0);
            int st = cuda_h.cuStreamBeginCaptureToGraph(h(stream), graph, MemorySegment.NULL, MemorySegment.NULL, 0,
                    CAPTURE_MODE);
            if (st != 0) cuda_h.cuGraphDestroy(graph);
            checkCuda(st, "cuStreamBeginCaptureToGraph");
            return graph.address();
        }
    }

    @Override
    public long conditionalCreate(long graph, int defaultValue) {
        current();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(ValueLayout.JAVA_LONG);
            checkCuda(cuda_h.cuGraphConditionalHandleCreate(c, h(graph), context, defaultValue,
                    cuda_h.CU_GRAPH_COND_ASSIGN_DEFAULT()), "cuGraphConditionalHandleCreate");
            return c.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * Ends the stream's capture into a graph we created. cuda.h documents phGraph only as "the captured graph"
     * (NVIDIA's own sample passes NULL for a capture into an existing graph): we pass a cell and ignore what it gets,
     * since we hold the graph already.
     */
    private void endCaptureInto(long stream, String what) {
        try (Arena a = Arena.ofConfined()) {
            checkCuda(cuda_h.cuStreamEndCapture(h(stream), a.allocate(ValueLayout.ADDRESS)),
                    "cuStreamEndCapture (" + what + ")");
        }
    }

    @Override
    public long graphBuildIfBegin(long graph, long stream, long conditional) {
        current();
        try (Arena a = Arena.ofConfined()) {
            // The nodes the next captured node would depend on (the capture's leaves: the last work on this one
            // stream), with their edge data. The driver's arrays live only until the next call on the stream: copy.
            MemorySegment status = a.allocate(ValueLayout.JAVA_INT), depsOut = a.allocate(ValueLayout.ADDRESS),
                    edgesOut = a.allocate(ValueLayout.ADDRESS), countOut = a.allocate(ValueLayout.JAVA_LONG);
            checkCuda(cuda_h.cuStreamGetCaptureInfo_v3(h(stream), status, MemorySegment.NULL, MemorySegment.NULL,
                    depsOut, edgesOut, countOut), "cuStreamGetCaptureInfo");
            if (status.get(ValueLayout.JAVA_INT, 0) != cuda_h.CU_STREAM_CAPTURE_STATUS_ACTIVE()) {
                throw Errors.cuda(Errors.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,
                        "graph IF: the stream's capture is not active (status " + status.get(ValueLayout.JAVA_INT, 0) + ")");
            }
            long n = countOut.get(ValueLayout.JAVA_LONG, 0);
            long edgeBytes = CUgraphEdgeData_st.layout().byteSize();
            MemorySegment deps = MemorySegment.NULL, edges = MemorySegment.NULL;
            if (n > 0) {
                deps = a.allocate(ValueLayout.ADDRESS, n);
                MemorySegment.copy(depsOut.get(ValueLayout.ADDRESS, 0).reinterpret(n * ValueLayout.ADDRESS.byteSize()),
                        0, deps, 0, n * ValueLayout.ADDRESS.byteSize());
                MemorySegment e = edgesOut.get(ValueLayout.ADDRESS, 0);
                if (!e.equals(MemorySegment.NULL)) {  // NULL: every edge is a plain (default) one
                    edges = a.allocate(CUgraphEdgeData_st.layout(), n);
                    MemorySegment.copy(e.reinterpret(n * edgeBytes), 0, edges, 0, n * edgeBytes);
                }
            }
            endCaptureInto(stream, "before an IF node");
            // The IF node (one body, run when the value is nonzero), depending on those nodes.
            MemorySegment params = a.allocate(CUgraphNodeParams_st.layout());  // zeroed, as the reserved fields must be
            CUgraphNodeParams_st.type(params, cuda_h.CU_GRAPH_NODE_TYPE_CONDITIONAL());
            MemorySegment cond = CUgraphNodeParams_st.conditional(params);
            CUDA_CONDITIONAL_NODE_PARAMS.handle(cond, conditional);
            CUDA_CONDITIONAL_NODE_PARAMS.type(cond, cuda_h.CU_GRAPH_COND_TYPE_IF());
            CUDA_CONDITIONAL_NODE_PARAMS.size(cond, 1);
            CUDA_CONDITIONAL_NODE_PARAMS.ctx(cond, context);
            MemorySegment node = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuGraphAddNode_v2(node, h(graph), deps, edges, n, params),
                    "cuGraphAddNode(conditional IF after " + n + " nodes)");
            // The driver fills phGraph_out with its own array of the node's body graphs (valid while the node is).
            MemorySegment body = CUDA_CONDITIONAL_NODE_PARAMS.phGraph_out(cond)
                    .reinterpret(ValueLayout.ADDRESS.byteSize()).get(ValueLayout.ADDRESS, 0);
            checkCuda(cuda_h.cuStreamBeginCaptureToGraph(h(stream), body, MemorySegment.NULL, MemorySegment.NULL, 0,
                    CAPTURE_MODE), "cuStreamBeginCaptureToGraph (IF body)");
            return node.get(ValueLayout.ADDRESS, 0).address();
        }
    }

    @Override
    public void graphBuildIfEnd(long graph, long stream, long ifNode) {
        current();
        endCaptureInto(stream, "IF body");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment deps = a.allocate(ValueLayout.ADDRESS);
            deps.set(ValueLayout.ADDRESS, 0, h(ifNode));
            checkCuda(cuda_h.cuStreamBeginCaptureToGraph(h(stream), h(graph), deps, MemorySegment.NULL, 1,
                    CAPTURE_MODE), "cuStreamBeginCaptureToGraph (after an IF node)");
        }
    }

    @Override
    public long graphBuildEnd(long graph, long stream) {
        current();
        endCaptureInto(stream, "end of the graph");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment exec = a.allocate(ValueLayout.ADDRESS);
            checkCuda(cuda_h.cuGraphInstantiateWithFlags(exec, h(graph), 0L), "cuGraphInstantiate (conditional graph)");
            long e = exec.get(ValueLayout.ADDRESS, 0).address();
            // Kept until the executable graph is destroyed: the conditional handles were created on this graph, and
            // NVIDIA's examples keep it alive; destroying it early would gain a few KiB.
            builtGraphs.put(e, graph);
            return e;
        }
    }

    @Override
    public void graphBuildAbandon(long graph, long stream) {
        current();
        try (Arena a = Arena.ofConfined()) {
            // Not capturing (already ended): CUDA_ERROR_ILLEGAL_STATE, harmless; an invalidated capture: its error.
            cuda_h.cuStreamEndCapture(h(stream), a.allocate(ValueLayout.ADDRESS));
        }
        cuda_h.cuGraphDestroy(h(graph));  // with the IF nodes' bodies; the conditional handles go with the graph
    }

    /** What one BLAS handle owns: the cuBLAS handle, its workspace, and (made on first use) cuBLASLt's plans. */
    private static final class BlasState {
        final MemorySegment handle;
        final long workspace;
        CudaLtPlans lt;
        long stream;         // the stream the handle is bound to
        boolean bound;

        BlasState(MemorySegment handle, long workspace) {
            this.handle = handle;
            this.workspace = workspace;
        }

        /**
         * Binds the handle to stream, unless it already is. cublasSetStream "unconditionally resets the cuBLAS library
         * workspace back to the default workspace pool" (cuBLAS guide, cublasSetStream): ours goes back with every
         * binding. Without it a GEMM captured into a graph takes its workspace from cuBLAS's pool (12.2+: a
         * stream-ordered allocation, i.e. a memory node, which a conditional IF body may not contain) and
         * BLAS_WORKSPACE_BYTES would be dead weight.
         */
        void bind(long s) {
            if (bound && s == stream) return;
            checkCublas(cublas_h.cublasSetStream_v2(handle, h(s)), "cublasSetStream");
            checkCublas(cublas_h.cublasSetWorkspace_v2(handle, h(workspace), BLAS_WORKSPACE_BYTES), "cublasSetWorkspace");
            stream = s;
            bound = true;
        }
    }

    private final Map<Long, BlasState> blas = new HashMap<>();

    /** A cuBLAS handle bound to the stream, with its own workspace (allocated here, freed in blasDestroy). */
    @Override
    public long blasCreate(long stream) {
        current();
        NativeLibraries.Loaded lib = NativeLibraries.load(NativeLibraries.CUBLAS);
        if (!lib.ok()) throw new CudaException(-1, "CUBLAS_NOT_FOUND", lib.failure());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment hh = a.allocate(ValueLayout.ADDRESS);
            try {
                checkCublas(cublas_h.cublasCreate_v2(hh), "cublasCreate");
            } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
                throw new CudaException(-1, "CUBLAS_NOT_USABLE", "the library at " + lib.path()
                        + " is not a usable cuBLAS (" + (e.getCause() != null ? e.getCause() : e).getMessage() + ")");
            }
            MemorySegment handle = hh.get(ValueLayout.ADDRESS, 0);
            BlasState st = new BlasState(handle, alloc(BLAS_WORKSPACE_BYTES));
            st.bind(stream);
            blas.put(handle.address(), st);
            return handle.address();
        }
    }

    @Override
    public void blasDestroy(long handle) {
        current();
        BlasState st = blas.remove(handle);
        if (st == null) return;
        if (st.lt != null) st.lt.close();
        checkCublas(cublas_h.cublasDestroy_v2(st.handle), "cublasDestroy");
        free(st.workspace);
    }

    @Override
    public void gemm(long handle, GemmEngine engine, long stream, boolean transA, boolean transB, int m, int n, int k,
                     float alpha, long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                     float beta, long c, int cType, int ldc, long strideC, int batch) {
        current();
        BlasState st = blas.get(handle);
        if (engine == GemmEngine.CUBLASLT) {
            if (st.lt == null) st.lt = new CudaLtPlans(st.workspace, BLAS_WORKSPACE_BYTES);
            st.lt.matmul(new CudaLtPlans.Shape(transA, transB, m, n, k, aType, lda, strideA, bType, ldb, strideB,
                    cType, ldc, strideC, batch, CudaLtPlans.alignment(a), CudaLtPlans.alignment(b),
                    CudaLtPlans.alignment(c)), alpha, a, b, beta, c, stream);
            return;
        }
        try (Arena ar = Arena.ofConfined()) {
            st.bind(stream);
            checkCublas(cublas_h.cublasGemmStridedBatchedEx(st.handle,
                    transA ? cublas_h.CUBLAS_OP_T() : cublas_h.CUBLAS_OP_N(),
                    transB ? cublas_h.CUBLAS_OP_T() : cublas_h.CUBLAS_OP_N(), m, n, k,
                    ar.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), h(a), aType, lda, strideA, h(b), bType, ldb,
                    strideB, ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta), h(c), cType, ldc, strideC, batch,
                    cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT()),
                    "cublasGemmStridedBatchedEx(m=" + m + ", n=" + n + ", k=" + k + ", batch=" + batch + ")");
        }
    }

    @Override
    public void synchronize() {
        current();
        checkCuda(cuda_h.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        checkCuda(cuda_h.cuDevicePrimaryCtxRelease_v2(ordinal), "cuDevicePrimaryCtxRelease");
    }
}
