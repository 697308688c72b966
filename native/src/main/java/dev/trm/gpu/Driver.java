package dev.trm.gpu;

import java.lang.foreign.MemorySegment;

/**
 * The seam between the safe runtime and a device: raw handles (device pointers, streams, events, modules, functions,
 * graphs, BLAS handles) as longs, every call checked (a failure throws {@link CudaException}). Two implementations:
 * {@link CudaDriver} over the jextract bindings and {@link EmulatedDriver} over host memory and the host-compiled
 * kernels. Everything above this interface ({@link GpuDevice}, {@link DeviceBuffer}, {@link Stream}, ...) is shared,
 * so the emulated device runs the GPU backend's Java code unchanged. Not for use outside this package.
 */
interface Driver extends AutoCloseable {

    Backend backend();

    DeviceInfo info();

    /** {free, total} bytes of device memory. */
    long[] memoryInfo();

    long alloc(long bytes);

    void free(long ptr);

    /**
     * Page-locked (pinned) host memory of the given size; returns its host address. A copy from pinned memory is
     * truly asynchronous; one from pageable memory may be staged by the driver and block the calling thread.
     */
    long hostAlloc(long bytes);

    void hostFree(long ptr);

    void copyHostToDevice(long dst, MemorySegment src, long bytes, long stream);

    void copyDeviceToHost(MemorySegment dst, long src, long bytes, long stream);

    void copyDeviceToDevice(long dst, long src, long bytes, long stream);

    void memset(long dst, byte value, long bytes, long stream);

    long streamCreate();

    void streamDestroy(long stream);

    void streamSynchronize(long stream);

    void streamWaitEvent(long stream, long event);

    long eventCreate();

    void eventRecord(long event, long stream);

    void eventSynchronize(long event);

    float eventElapsedMillis(long start, long end);

    void eventDestroy(long event);

    long moduleLoad(byte[] image);

    void moduleUnload(long module);

    long moduleFunction(long module, String name);

    /**
     * Enqueues a kernel; the arguments are packed by the driver (and kept, when a graph is being captured). With
     * programmatic, as a programmatic dependent of the work before it on the stream (PDL: it may start before that
     * completes; the kernel waits in trm_pdl_begin, common.cuh).
     */
    void launch(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream,
                KernelArgs args, boolean programmatic);

    /** Why this device cannot launch kernels as programmatic dependents, or null when it can (as far as it knows). */
    String programmaticLaunchUnsupportedReason();

    void beginCapture(long stream);

    /** Ends the capture; returns the instantiated, launchable graph (the graph itself is owned by the driver). */
    long endCapture(long stream);

    void graphLaunch(long graph, long stream);

    // ---- Graphs with conditional (IF) nodes, built by GraphBuilder: one stream, used sequentially ----------------

    /**
     * Why this driver cannot build conditional graphs (entry points missing, driver too old), or null when it can
     * as far as it knows without trying (GpuDevice also loads the graph-control kernel and runs a probe graph).
     */
    String conditionalGraphsUnsupportedReason();

    /**
     * Creates an empty graph and starts capturing the stream's work into it; returns the graph (the handle the
     * other calls name). Either {@link #graphBuildEnd} or {@link #graphBuildAbandon} must follow.
     */
    long graphBuildBegin(long stream);

    /** A conditional handle of the graph whose value is reset to defaultValue at the start of every launch. */
    long conditionalCreate(long graph, int defaultValue);

    /**
     * Places an IF node on the conditional after all work captured so far and redirects the stream's capture into
     * its body; returns the node, for {@link #graphBuildIfEnd}.
     */
    long graphBuildIfBegin(long graph, long stream, long conditional);

    /** Ends the body's capture; capture continues into the graph after the IF node. */
    void graphBuildIfEnd(long graph, long stream, long ifNode);

    /** Ends the capture and instantiates the graph; returns the launchable graph ({@link #graphDestroy} frees it). */
    long graphBuildEnd(long graph, long stream);

    /** Ends any capture still under way on the stream and frees the graph and its conditionals; never throws. */
    void graphBuildAbandon(long graph, long stream);

    void graphDestroy(long graph);

    long blasCreate(long stream);

    void blasDestroy(long blas);

    /**
     * Column-major C = alpha op(A) op(B) + beta C with fp32 compute, batch after batch at the given strides, as
     * cublasGemmStridedBatchedEx (engine CUBLAS) or cublasLtMatmul (engine CUBLASLT) computes it; types are
     * CUDA_R_32F (0) or CUDA_R_16BF (14).
     */
    void gemm(long blas, GemmEngine engine, long stream, boolean transA, boolean transB, int m, int n, int k,
              float alpha, long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
              float beta, long c, int cType, int ldc, long strideC, int batch);

    void synchronize();

    @Override
    void close();

    /** Kernels this driver has run (graph launches included), where it can tell: the emulated device; else -1. */
    default long kernelsRun() {
        return -1;
    }
}
