package dev.trm.gpu;

import dev.trm.bindings.cuda.CUDA_CONDITIONAL_NODE_PARAMS;
import dev.trm.bindings.cuda.CUgraphNodeParams_st;
import dev.trm.bindings.cuda.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * What {@link FakeCudaDriverTest} runs in a child JVM whose TRM_LIBCUDA and TRM_LIBCUBLAS are the fake driver and
 * cuBLAS (kernels/target/fake-cuda/): GpuDevice.open(CUDA) through {@link CudaDriver}, then the device contracts and
 * GEMMs through both engines, each check on its own. Prints "fake child: ok" and exits 0 when all pass; otherwise
 * each failure with its stack trace, and exits 1.
 */
public final class FakeCudaChild {
    private FakeCudaChild() {}

    private interface Check {
        void run(GpuDevice dev) throws Exception;
    }

    public static void main(String[] args) {
        ProbeResult probe = DeviceProbe.probe(Backend.CUDA);
        if (!probe.available()) {
            System.out.println("fake child: no CUDA device: " + probe.reason());
            System.exit(3);
        }
        List<String> failures = new ArrayList<>();
        long t0 = System.nanoTime();
        try (GpuDevice dev = GpuDevice.open(Backend.CUDA)) {
            System.out.println("fake child: opened " + dev.info().describe() + " in " + ms(t0) + " ms");
            List<Object[]> checks = List.of(
                    new Object[] {"the fake says what it is", (Check) FakeCudaChild::isTheFake},
                    new Object[] {"transfersRoundTrip", (Check) DeviceContract::transfersRoundTrip},
                    new Object[] {"ownershipIsDeterministic", (Check) DeviceContract::ownershipIsDeterministic},
                    new Object[] {"outOfMemorySaysBytesAskedAndFree", (Check) DeviceContract::outOfMemorySaysBytesAskedAndFree},
                    new Object[] {"unknownKernelIsANamedError", (Check) DeviceContract::unknownKernelIsANamedError},
                    new Object[] {"graphCaptureRecordsAndReplays", (Check) DeviceContract::graphCaptureRecordsAndReplays},
                    new Object[] {"eventRecordedInACaptureCannotBeWaitedOn",
                            (Check) DeviceContract::eventRecordedInACaptureCannotBeWaitedOn},
                    new Object[] {"pinnedMemoryUploadsAsync", (Check) DeviceContract::pinnedMemoryUploadsAsync},
                    new Object[] {"a capture cannot wait on uncaptured work",
                            (Check) FakeCudaChild::captureCannotWaitOnUncapturedWork},
                    new Object[] {"programmatic launch on (cc 9.0)", (Check) ProgrammaticLaunchContract::onWhereSupported},
                    new Object[] {"programmatic chains keep their order",
                            (Check) d -> ProgrammaticLaunchContract.chainsKeepTheirOrder(d, 2048, 40)},
                    new Object[] {"conditional graphs: supported, the contract passes", (Check) FakeCudaChild::conditionals},
                    new Object[] {"conditional graphs: the driver refuses misuse",
                            (Check) FakeCudaChild::driverRefusesConditionalMisuse},
                    new Object[] {"conditional graphs: the fake checks node params and ownership",
                            (Check) FakeCudaChild::rawConditionalNodeParamsAreChecked},
                    new Object[] {"gemm, cuBLAS", (Check) d -> gemms(d, GemmEngine.CUBLAS)},
                    new Object[] {"gemm, cuBLASLt", (Check) d -> gemms(d, GemmEngine.CUBLASLT)});
            for (Object[] c : checks) {
                long t = System.nanoTime();
                try {
                    ((Check) c[1]).run(dev);
                    System.out.println("fake child: " + c[0] + ": ok (" + ms(t) + " ms)");
                } catch (Throwable e) {
                    java.io.StringWriter w = new java.io.StringWriter();
                    e.printStackTrace(new java.io.PrintWriter(w));
                    failures.add(c[0] + ": " + w);
                    System.out.println("fake child: " + c[0] + ": FAILED: " + e);
                }
            }
            if (dev.openResources() != 1) failures.add("resources left open: " + dev.openResources() + " (want 1, the default stream)");
        } catch (Throwable e) {
            java.io.StringWriter w = new java.io.StringWriter();
            e.printStackTrace(new java.io.PrintWriter(w));
            failures.add("open or close: " + w);
        }
        if (!failures.isEmpty()) {
            System.out.println("fake child: failed\n" + String.join("\n", failures));
            System.exit(1);
        }
        System.out.println("fake child: ok (" + ms(t0) + " ms)");
    }

    private static long ms(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }

    private static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    private static void isTheFake(GpuDevice dev) {
        check(dev.backend() == Backend.CUDA, "backend " + dev.backend());
        check(dev.info().name().startsWith("FAKE CUDA device"), "name " + dev.info().name());
        check(dev.info().ccMajor() == 9 && dev.info().ccMinor() == 0, "cc " + dev.info().ccMajor() + "." + dev.info().ccMinor());
        check(dev.kernelsRun() == -1, "kernelsRun on CUDA is -1");
    }

    /**
     * A capturing stream that waits on an event recorded outside the capture (here on another stream) would depend on
     * uncaptured work: CUDA refuses it with CUDA_ERROR_STREAM_CAPTURE_ISOLATION (905) and the capture cannot end. The
     * emulated device, with one in-order executor, ignores waits, so only the fake can tell a Java path that does this.
     */
    private static void captureCannotWaitOnUncapturedWork(GpuDevice dev) {
        try (Stream s = dev.newStream(); Stream other = dev.newStream(); Event outside = dev.newEvent()) {
            outside.record(other);
            s.beginCapture();
            try {
                s.waitFor(outside);
                throw new AssertionError("a capture waited on an event recorded outside it");
            } catch (CudaException e) {
                check(e.status() == 905, "the wait failed with " + e.statusName() + " (want 905, "
                        + "CUDA_ERROR_STREAM_CAPTURE_ISOLATION): " + e.getMessage());
            }
            try {
                s.endCapture().close();
                throw new AssertionError("an invalidated capture ended");
            } catch (CudaException e) {
                check(e.status() == 901, "ending it failed with " + e.statusName() + " (want 901, "
                        + "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED)");
            }
            s.waitFor(outside);  // outside a capture the wait is fine
            s.synchronize();
        }
    }

    /**
     * The fake models conditional IF nodes (cuGraphCreate, capture into a graph, capture info v3, cuGraphAddNode of a
     * CONDITIONAL node, cuGraphConditionalHandleCreate): the device must find them supported (its probe graph ran
     * through CudaDriver) and pass the whole contract on them.
     */
    private static void conditionals(GpuDevice dev) {
        check(dev.supportsConditionalGraphs(), "conditional graphs unsupported: " + dev.conditionalGraphsUnsupportedReason());
        check(dev.programmaticLaunch(), "PDL stays on: the probe graph passed with programmatic launches");
        ConditionalGraphContract.ifBodiesRunUntilEverySlotHalted(dev);
        ConditionalGraphContract.defaultsAreReappliedAtEveryLaunch(dev);
        ConditionalGraphContract.gemmInsideAnIfBody(dev);
        ConditionalGraphContract.misuseIsRefusedAndCloseAbandons(dev);
    }

    /**
     * What GraphBuilder never does but the driver must refuse, straight through CudaDriver: an IF node on a handle of
     * another graph, a second IF node on one handle, and instantiating a graph with a handle that guards no node
     * (all CUDA_ERROR_INVALID_VALUE). Each refused graph is abandoned; the streams capture nothing afterwards.
     */
    private static void driverRefusesConditionalMisuse(GpuDevice dev) {
        Driver d = dev.driver;
        try (Stream sa = dev.newStream(); Stream sb = dev.newStream()) {
            long ga = d.graphBuildBegin(sa.handle()), gb = d.graphBuildBegin(sb.handle());
            try {
                long ca = d.conditionalCreate(ga, 0);
                expectInvalidValue(() -> d.graphBuildIfBegin(gb, sb.handle(), ca), "an IF node on another graph's handle");
                // the failed call ended sb's capture before adding the node: the graph is abandoned below
                long node = d.graphBuildIfBegin(ga, sa.handle(), ca);
                d.graphBuildIfEnd(ga, sa.handle(), node);
                expectInvalidValue(() -> d.graphBuildIfBegin(ga, sa.handle(), ca), "a second IF node on one handle");
            } finally {
                d.graphBuildAbandon(ga, sa.handle());
                d.graphBuildAbandon(gb, sb.handle());
            }
            long g = d.graphBuildBegin(sa.handle());
            try {
                d.conditionalCreate(g, 1);
                expectInvalidValue(() -> d.graphBuildEnd(g, sa.handle()), "a handle that guards no node");
            } finally {
                d.graphBuildAbandon(g, sa.handle());
            }
            sa.synchronize();
            sb.synchronize();  // not capturing any more: a capturing stream refuses to synchronise
        }
    }

    /**
     * The fake's checks of cuGraphAddNode's CONDITIONAL params and of graph ownership, through the bindings directly
     * (what CudaDriver never passes): a node type the fake does not model, a non-zero reserved byte, an IF of size 3,
     * a foreign context are refused; a valid IF node gets its CUDA-owned body in phGraph_out, which cuGraphDestroy
     * refuses, as it refuses the graph while a capture still adds to it.
     */
    private static void rawConditionalNodeParamsAreChecked(GpuDevice dev) {
        Driver d = dev.driver;
        try (Stream s = dev.newStream(); Arena a = Arena.ofConfined()) {
            long g = d.graphBuildBegin(s.handle());  // the stream captures into g from here (and the context is current)
            try {
                long c = d.conditionalCreate(g, 0);
                MemorySegment graph = MemorySegment.ofAddress(g);
                MemorySegment node = a.allocate(ValueLayout.ADDRESS);
                java.util.function.IntFunction<MemorySegment> params = size -> {
                    var p = a.allocate(CUgraphNodeParams_st.layout());
                    CUgraphNodeParams_st.type(p, cuda_h.CU_GRAPH_NODE_TYPE_CONDITIONAL());
                    var cond = CUgraphNodeParams_st.conditional(p);
                    CUDA_CONDITIONAL_NODE_PARAMS.handle(cond, c);
                    CUDA_CONDITIONAL_NODE_PARAMS.type(cond, cuda_h.CU_GRAPH_COND_TYPE_IF());
                    CUDA_CONDITIONAL_NODE_PARAMS.size(cond, size);
                    return p;
                };
                var nullDeps = MemorySegment.NULL;
                var kernelType = params.apply(1);
                CUgraphNodeParams_st.type(kernelType, 0);  // CU_GRAPH_NODE_TYPE_KERNEL (not in the bindings)
                check(cuda_h.cuGraphAddNode_v2(node, graph, nullDeps, nullDeps, 0, kernelType) != 0,
                        "a kernel node's type with conditional params was accepted");
                var reserved = params.apply(1);
                reserved.set(ValueLayout.JAVA_INT, 8, 1);  // reserved0[1]
                check(cuda_h.cuGraphAddNode_v2(node, graph, nullDeps, nullDeps, 0, reserved) == 1,
                        "a non-zero reserved byte: want CUDA_ERROR_INVALID_VALUE");
                check(cuda_h.cuGraphAddNode_v2(node, graph, nullDeps, nullDeps, 0, params.apply(3)) == 1,
                        "an IF of size 3: want CUDA_ERROR_INVALID_VALUE");
                var foreignCtx = params.apply(1);
                CUDA_CONDITIONAL_NODE_PARAMS.ctx(CUgraphNodeParams_st.conditional(foreignCtx), a.allocate(64));
                check(cuda_h.cuGraphAddNode_v2(node, graph, nullDeps, nullDeps, 0, foreignCtx) == 201,
                        "a foreign context: want CUDA_ERROR_INVALID_CONTEXT");
                var ok = params.apply(1);
                check(cuda_h.cuGraphAddNode_v2(node, graph, nullDeps, nullDeps, 0, ok) == 0,
                        "a valid IF node was refused");
                var bodies = CUDA_CONDITIONAL_NODE_PARAMS.phGraph_out(CUgraphNodeParams_st.conditional(ok));
                check(!bodies.equals(MemorySegment.NULL), "phGraph_out was not filled");
                var body = bodies.reinterpret(8).get(ValueLayout.ADDRESS, 0);
                check(cuda_h.cuGraphDestroy(body) == 1, "cuGraphDestroy of a CUDA-owned body");
                check(cuda_h.cuGraphDestroy(graph) != 0, "cuGraphDestroy while a capture adds to it");
            } finally {
                d.graphBuildAbandon(g, s.handle());
            }
            s.synchronize();
        }
    }

    private static void expectInvalidValue(Runnable call, String what) {
        try {
            call.run();
        } catch (CudaException e) {
            check(e.status() == 1, what + ": " + e.statusName() + " (want CUDA_ERROR_INVALID_VALUE): " + e.getMessage());
            return;
        }
        throw new AssertionError(what + ": the driver accepted it");
    }

    /**
     * Row-major GEMMs through Blas (every transpose pair, fp32 and bf16 inputs, batched, at element offsets, and one
     * captured into a graph and replayed), against a double-precision reference on the same (bf16-rounded) inputs.
     */
    private static void gemms(GpuDevice dev, GemmEngine engine) {
        Random r = new Random(7);
        int m = 5, n = 7, k = 3, batch = 2;
        try (Stream s = dev.newStream(); Blas blas = dev.newBlas(s, engine)) {
            check(blas.engine() == engine, "engine");
            for (DType in : new DType[] {DType.F32, DType.BF16}) {
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;  // padded rows
                    long sa = (long) (ta ? k : m) * lda + 4, sb = (long) (tb ? n : k) * ldb, sc = (long) m * ldc + 1;
                    long offA = in == DType.BF16 ? 1 : 3, offB = 2, offC = 4;  // element offsets (alignment)
                    float[] a = values(r, (int) (offA + batch * sa), in), b = values(r, (int) (offB + batch * sb), in);
                    float[] c = values(r, (int) (offC + batch * sc), DType.F32);
                    float alpha = 0.75f, beta = t == 3 ? 0f : 0.5f;
                    double[] want = reference(ta, tb, m, n, k, alpha, a, offA, lda, sa, b, offB, ldb, sb, beta, c,
                            offC, ldc, sc, batch);
                    try (DeviceBuffer da = upload(dev, in, a); DeviceBuffer db = upload(dev, in, b);
                         DeviceBuffer dc = dev.alloc(DType.F32, c.length).upload(c)) {
                        blas.gemmStridedBatchedAt(s, ta, tb, m, n, k, alpha, da, offA, lda, sa, db, offB, ldb, sb,
                                beta, dc, offC, ldc, sc, batch);
                        s.synchronize();
                        compare(dc.downloadFloats(), want, engine + " " + in + (ta ? " T" : " N") + (tb ? "T" : "N"));
                        // the same GEMM captured, then replayed onto the original C: the same result
                        dc.upload(c);
                        s.beginCapture();
                        blas.gemmStridedBatchedAt(s, ta, tb, m, n, k, alpha, da, offA, lda, sa, db, offB, ldb, sb,
                                beta, dc, offC, ldc, sc, batch);
                        try (Graph g = s.endCapture()) {
                            check(java.util.Arrays.equals(dc.downloadFloats(), c), "capturing ran the GEMM");
                            g.launch(s);
                            s.synchronize();
                        }
                        compare(dc.downloadFloats(), want, engine + " " + in + " captured");
                    }
                }
            }
        }
    }

    private static float[] values(Random r, int count, DType type) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (float) r.nextGaussian();
            if (type == DType.BF16) v[i] = Bf16.round(v[i]);
        }
        return v;
    }

    private static DeviceBuffer upload(GpuDevice dev, DType type, float[] v) {
        DeviceBuffer b = dev.alloc(type, v.length);
        return type == DType.BF16 ? b.uploadBf16(v) : b.upload(v);
    }

    /** C[m, n] = alpha op(A) op(B) + beta C, row-major, per batch; elements of C outside the m x n blocks kept. */
    private static double[] reference(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, long offA,
                                      int lda, long sa, float[] b, long offB, int ldb, long sb, float beta, float[] c,
                                      long offC, int ldc, long sc, int batch) {
        double[] out = new double[c.length];
        for (int i = 0; i < c.length; i++) out[i] = c[i];
        for (int p = 0; p < batch; p++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int l = 0; l < k; l++) {
                        double x = a[(int) (offA + p * sa + (ta ? (long) l * lda + i : (long) i * lda + l))];
                        double y = b[(int) (offB + p * sb + (tb ? (long) j * ldb + l : (long) l * ldb + j))];
                        sum += x * y;
                    }
                    int at = (int) (offC + p * sc + (long) i * ldc + j);
                    out[at] = alpha * sum + (beta == 0 ? 0 : beta * c[at]);
                }
            }
        }
        return out;
    }

    private static void compare(float[] got, double[] want, String what) {
        for (int i = 0; i < want.length; i++) {
            if (Math.abs(got[i] - want[i]) > 1e-4 * (1 + Math.abs(want[i]))) {
                throw new AssertionError(what + ": element " + i + " is " + got[i] + ", want " + want[i]);
            }
        }
    }
}
