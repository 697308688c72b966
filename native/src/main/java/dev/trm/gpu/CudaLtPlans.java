package dev.trm.gpu;

import static dev.trm.gpu.Errors.checkCublas;

import dev.trm.bindings.cublas.cublasLtMatmulHeuristicResult_t;
import dev.trm.bindings.cublas.cublas_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One cuBLASLt handle and its cached matmul plans: per GEMM shape, the operation descriptor, the three matrix
 * layouts and the algorithm the heuristic picked for our workspace, made on first use and kept until close(), so
 * the steady state (and a CUDA graph capture) does no descriptor work. Column-major, fp32 compute and scale.
 */
final class CudaLtPlans implements AutoCloseable {

    /**
     * Everything that makes two GEMM calls the same plan. alignA/B/C: the largest power of two (at most 256) dividing
     * each operand's address: the heuristic assumes 256-byte-aligned operands unless told (CUBLASLT_MATMUL_PREF_MIN_
     * ALIGNMENT_*_BYTES, default 256, cublasLt.h), so an algorithm picked for an aligned base pointer may refuse an
     * offset one (Blas.gemmStridedBatchedAt); the alignment is therefore part of the plan.
     */
    record Shape(boolean transA, boolean transB, int m, int n, int k, int aType, int lda, long strideA, int bType,
                 int ldb, long strideB, int cType, int ldc, long strideC, int batch, int alignA, int alignB,
                 int alignC) {}

    /** The alignment of a device address for the plan: its largest power-of-two divisor, capped at 256. */
    static int alignment(long address) {
        return address == 0 ? 256 : (int) Math.min(256, Long.lowestOneBit(address));
    }

    private record Plan(MemorySegment desc, MemorySegment aLayout, MemorySegment bLayout, MemorySegment cLayout,
                        MemorySegment algo) {}

    private final MemorySegment handle;
    private final long workspace, workspaceBytes;
    private final Arena arena = Arena.ofShared();  // the plans' algorithm structs live as long as the plans
    private final Map<Shape, Plan> plans = new HashMap<>();

    CudaLtPlans(long workspace, long workspaceBytes) {
        NativeLibraries.Loaded lib = NativeLibraries.load(NativeLibraries.CUBLASLT);
        if (!lib.ok()) throw new CudaException(-1, "CUBLASLT_NOT_FOUND", lib.failure());
        this.workspace = workspace;
        this.workspaceBytes = workspaceBytes;
        MemorySegment h = arena.allocate(ValueLayout.ADDRESS);
        checkCublas(cublas_h.cublasLtCreate(h), "cublasLtCreate");
        this.handle = h.get(ValueLayout.ADDRESS, 0);
    }

    void matmul(Shape s, float alpha, long a, long b, float beta, long c, long stream) {
        Plan p = plans.computeIfAbsent(s, this::plan);
        try (Arena ar = Arena.ofConfined()) {
            checkCublas(cublas_h.cublasLtMatmul(handle, p.desc, ar.allocateFrom(ValueLayout.JAVA_FLOAT, alpha),
                    MemorySegment.ofAddress(a), p.aLayout, MemorySegment.ofAddress(b), p.bLayout,
                    ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta), MemorySegment.ofAddress(c), p.cLayout,
                    MemorySegment.ofAddress(c), p.cLayout, p.algo, MemorySegment.ofAddress(workspace), workspaceBytes,
                    MemorySegment.ofAddress(stream)), "cublasLtMatmul(" + describe(s) + ")");
        }
    }

    /**
     * The plan of one shape: its descriptors, and the algorithm the heuristic picks. A failure (no algorithm, a
     * refused attribute) destroys what was made before it, so a shape that cannot be planned leaks nothing.
     */
    private Plan plan(Shape s) {
        List<Runnable> undo = new ArrayList<>();
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment out = ar.allocate(ValueLayout.ADDRESS);
            checkCublas(cublas_h.cublasLtMatmulDescCreate(out, cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUDA_R_32F()),
                    "cublasLtMatmulDescCreate");
            MemorySegment desc = out.get(ValueLayout.ADDRESS, 0);
            undo.add(() -> cublas_h.cublasLtMatmulDescDestroy(desc));
            setInt(desc, cublas_h.CUBLASLT_MATMUL_DESC_TRANSA(), s.transA ? cublas_h.CUBLAS_OP_T() : cublas_h.CUBLAS_OP_N(), ar);
            setInt(desc, cublas_h.CUBLASLT_MATMUL_DESC_TRANSB(), s.transB ? cublas_h.CUBLAS_OP_T() : cublas_h.CUBLAS_OP_N(), ar);
            // Stored shapes: op(A) is m x k, so A is stored k x m when transposed; likewise B.
            MemorySegment aL = layout(s.aType, s.transA ? s.k : s.m, s.transA ? s.m : s.k, s.lda, s.batch, s.strideA, ar, undo);
            MemorySegment bL = layout(s.bType, s.transB ? s.n : s.k, s.transB ? s.k : s.n, s.ldb, s.batch, s.strideB, ar, undo);
            MemorySegment cL = layout(s.cType, s.m, s.n, s.ldc, s.batch, s.strideC, ar, undo);

            checkCublas(cublas_h.cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate");
            MemorySegment pref = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment results = arena.allocate(cublasLtMatmulHeuristicResult_t.layout());
            MemorySegment count = ar.allocate(ValueLayout.JAVA_INT);
            try {
                checkCublas(cublas_h.cublasLtMatmulPreferenceSetAttribute(pref,
                        cublas_h.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES(), ar.allocateFrom(ValueLayout.JAVA_LONG,
                                workspaceBytes), 8), "cublasLtMatmulPreferenceSetAttribute");
                setPref(pref, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES(), s.alignA, ar);
                setPref(pref, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES(), s.alignB, ar);
                setPref(pref, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES(), s.alignC, ar);
                setPref(pref, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES(), s.alignC, ar);  // D is C
                checkCublas(cublas_h.cublasLtMatmulAlgoGetHeuristic(handle, desc, aL, bL, cL, cL, pref, 1, results,
                        count), "cublasLtMatmulAlgoGetHeuristic(" + describe(s) + ")");
            } finally {
                cublas_h.cublasLtMatmulPreferenceDestroy(pref);  // needed only by the heuristic
            }
            if (count.get(ValueLayout.JAVA_INT, 0) < 1) {
                throw new CudaException(15, StatusNames.cublas(15), "cuBLASLt has no algorithm for " + describe(s));
            }
            return new Plan(desc, aL, bL, cL, cublasLtMatmulHeuristicResult_t.algo(results));
        } catch (RuntimeException e) {
            for (Runnable u : undo.reversed()) u.run();
            throw e;
        }
    }

    private static void setInt(MemorySegment desc, int attr, int value, Arena ar) {
        checkCublas(cublas_h.cublasLtMatmulDescSetAttribute(desc, attr, ar.allocateFrom(ValueLayout.JAVA_INT, value), 4),
                "cublasLtMatmulDescSetAttribute(" + attr + ")");
    }

    /** A uint32_t preference (the MIN_ALIGNMENT_*_BYTES ones). */
    private static void setPref(MemorySegment pref, int attr, int value, Arena ar) {
        checkCublas(cublas_h.cublasLtMatmulPreferenceSetAttribute(pref, attr, ar.allocateFrom(ValueLayout.JAVA_INT,
                value), 4), "cublasLtMatmulPreferenceSetAttribute(" + attr + ")");
    }

    /** A matrix layout; its destruction goes on undo as soon as it exists. */
    private static MemorySegment layout(int type, long rows, long cols, long ld, int batch, long stride, Arena ar,
                                        List<Runnable> undo) {
        MemorySegment out = ar.allocate(ValueLayout.ADDRESS);
        checkCublas(cublas_h.cublasLtMatrixLayoutCreate(out, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
        MemorySegment l = out.get(ValueLayout.ADDRESS, 0);
        undo.add(() -> cublas_h.cublasLtMatrixLayoutDestroy(l));
        if (batch > 1) {
            checkCublas(cublas_h.cublasLtMatrixLayoutSetAttribute(l, cublas_h.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT(),
                    ar.allocateFrom(ValueLayout.JAVA_INT, batch), 4), "cublasLtMatrixLayoutSetAttribute(batch)");
            checkCublas(cublas_h.cublasLtMatrixLayoutSetAttribute(l,
                    cublas_h.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET(), ar.allocateFrom(ValueLayout.JAVA_LONG,
                            stride), 8), "cublasLtMatrixLayoutSetAttribute(stride)");
        }
        return l;
    }

    private static String describe(Shape s) {
        return (s.transA ? "T" : "N") + (s.transB ? "T" : "N") + " m=" + s.m + " n=" + s.n + " k=" + s.k + " batch="
                + s.batch;
    }

    @Override
    public void close() {
        for (Plan p : plans.values()) {
            cublas_h.cublasLtMatmulDescDestroy(p.desc);
            cublas_h.cublasLtMatrixLayoutDestroy(p.aLayout);
            cublas_h.cublasLtMatrixLayoutDestroy(p.bLayout);
            cublas_h.cublasLtMatrixLayoutDestroy(p.cLayout);
        }
        plans.clear();
        cublas_h.cublasLtDestroy(handle);
        arena.close();
    }
}
