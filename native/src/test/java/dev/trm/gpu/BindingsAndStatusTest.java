package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.bindings.cublas.cublasLtMatmulAlgo_t;
import dev.trm.bindings.cublas.cublasLtMatmulHeuristicResult_t;
import dev.trm.bindings.cublas.cublas_h;
import dev.trm.bindings.cuda.CUDA_CONDITIONAL_NODE_PARAMS;
import dev.trm.bindings.cuda.CUgraphEdgeData_st;
import dev.trm.bindings.cuda.CUgraphNodeParams_st;
import dev.trm.bindings.cuda.CUlaunchAttributeValue_union;
import dev.trm.bindings.cuda.CUlaunchAttribute_st;
import dev.trm.bindings.cuda.CUlaunchConfig_st;
import dev.trm.bindings.cuda.cuda_h;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Runs on any machine: loading the generated binding classes opens nothing; statuses map to their names. */
class BindingsAndStatusTest {

    private static long mappedNvidiaLibraries() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(l -> l.contains("/libcuda.so") || l.contains("/libcublas") || l.contains("/libnccl")).count();
    }

    @Test
    void initialisingTheBindingClassesOpensNoLibrary() throws Exception {
        long before = mappedNvidiaLibraries();
        for (String c : new String[] {"dev.trm.bindings.cuda.cuda_h", "dev.trm.bindings.cublas.cublas_h",
                "dev.trm.bindings.nccl.nccl_h"}) {
            Class.forName(c, true, getClass().getClassLoader());  // runs the static initialiser
        }
        assertEquals(before, mappedNvidiaLibraries(), "a binding class's static initialiser opened a library");
    }

    /**
     * The conditional-node structs as CudaDriver fills them: sizes and offsets as gcc lays them out from cuda.h of
     * CUDA 13.0 (sizeof/offsetof printed by a throwaway C program), and the enum values CudaDriver passes.
     */
    @Test
    void conditionalNodeLayoutsMatchCudaH() {
        assertEquals(256, CUgraphNodeParams_st.layout().byteSize());
        assertEquals(16, CUgraphNodeParams_st.conditional$offset());
        assertEquals(32, CUDA_CONDITIONAL_NODE_PARAMS.layout().byteSize());
        assertEquals(0, CUDA_CONDITIONAL_NODE_PARAMS.handle$offset());
        assertEquals(8, CUDA_CONDITIONAL_NODE_PARAMS.type$offset());
        assertEquals(12, CUDA_CONDITIONAL_NODE_PARAMS.size$offset());
        assertEquals(16, CUDA_CONDITIONAL_NODE_PARAMS.phGraph_out$offset());
        assertEquals(24, CUDA_CONDITIONAL_NODE_PARAMS.ctx$offset());
        assertEquals(8, CUgraphEdgeData_st.layout().byteSize());
        assertEquals(0, cuda_h.CU_GRAPH_COND_TYPE_IF());
        assertEquals(13, cuda_h.CU_GRAPH_NODE_TYPE_CONDITIONAL());
        assertEquals(1, cuda_h.CU_GRAPH_COND_ASSIGN_DEFAULT());
        assertEquals(1, cuda_h.CU_STREAM_CAPTURE_STATUS_ACTIVE());
    }

    /** The programmatic launch's structs as CudaDriver fills them: gcc's sizeof/offsetof over cuda.h of CUDA 13.0. */
    @Test
    void launchConfigLayoutsMatchCudaH() {
        assertEquals(56, CUlaunchConfig_st.layout().byteSize());
        assertEquals(24, CUlaunchConfig_st.sharedMemBytes$offset());
        assertEquals(32, CUlaunchConfig_st.hStream$offset());
        assertEquals(40, CUlaunchConfig_st.attrs$offset());
        assertEquals(48, CUlaunchConfig_st.numAttrs$offset());
        assertEquals(72, CUlaunchAttribute_st.layout().byteSize());
        assertEquals(8, CUlaunchAttribute_st.value$offset());
        assertEquals(64, CUlaunchAttributeValue_union.layout().byteSize());
        assertEquals(0, CUlaunchAttributeValue_union.programmaticStreamSerializationAllowed$offset());
        assertEquals(6, cuda_h.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION());
    }

    /**
     * bindings/include/trm_cublas.h is our own; these are the values and layouts of NVIDIA's cublas_api.h, cublasLt.h
     * and library_types.h (cuBLAS 13.0.0 and 12.6, read and run through jextract with the same argfile: identical
     * descriptors). Pinned here so a hand edit of the header cannot drift from them unseen. (Function descriptors are
     * not checked here: reading one resolves its symbol, which needs libcublas.)
     */
    @Test
    void cublasBindingsMatchNvidiasHeaders() {
        assertEquals(64, cublasLtMatmulAlgo_t.layout().byteSize());          // uint64_t data[8]
        assertEquals(96, cublasLtMatmulHeuristicResult_t.layout().byteSize());
        assertEquals(0, cublasLtMatmulHeuristicResult_t.algo$offset());
        assertEquals(64, cublasLtMatmulHeuristicResult_t.workspaceSize$offset());
        assertEquals(72, cublasLtMatmulHeuristicResult_t.state$offset());
        assertEquals(76, cublasLtMatmulHeuristicResult_t.wavesCount$offset());
        assertEquals(80, cublasLtMatmulHeuristicResult_t.reserved$offset());
        assertEquals(0, cublas_h.CUDA_R_32F());
        assertEquals(14, cublas_h.CUDA_R_16BF());
        assertEquals(68, cublas_h.CUBLAS_COMPUTE_32F());
        assertEquals(-1, cublas_h.CUBLAS_GEMM_DEFAULT());
        assertEquals(1, cublas_h.CUBLAS_OP_T());
        assertEquals(3, cublas_h.CUBLASLT_MATMUL_DESC_TRANSA());
        assertEquals(4, cublas_h.CUBLASLT_MATMUL_DESC_TRANSB());
        assertEquals(5, cublas_h.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT());
        assertEquals(6, cublas_h.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET());
        assertEquals(1, cublas_h.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES());
        assertEquals(5, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES());
        assertEquals(6, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES());
        assertEquals(7, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES());
        assertEquals(8, cublas_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES());
    }

    /** The plans' operand alignment: the largest power of two dividing the address, at most 256. */
    @Test
    void ltPlanAlignmentIsTheAddressesPowerOfTwoCappedAt256() {
        assertEquals(256, CudaLtPlans.alignment(0x7f0000000000L));
        assertEquals(256, CudaLtPlans.alignment(0x7f0000000100L));
        assertEquals(128, CudaLtPlans.alignment(0x7f0000000080L));
        assertEquals(2, CudaLtPlans.alignment(0x7f0000000102L));   // a bf16 element offset
        assertEquals(4, CudaLtPlans.alignment(0x7f0000000104L));
    }

    @Test
    void cudaStatusesHaveTheirNames() {
        assertEquals("CUDA_SUCCESS", StatusNames.cuda(0));
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", StatusNames.cuda(2));
        assertEquals("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", StatusNames.cuda(803));
        assertEquals("CUDA_ERROR_NO_DEVICE", StatusNames.cuda(100));
        assertEquals("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", StatusNames.cuda(222));
        assertEquals("CUDA_ERROR_LAUNCH_FAILED", StatusNames.cuda(719));
        assertEquals("CUDA_ERROR_UNRECOGNIZED(123456)", StatusNames.cuda(123456));
    }

    @Test
    void cublasAndNcclStatusesHaveTheirNames() {
        assertEquals("CUBLAS_STATUS_SUCCESS", StatusNames.cublas(0));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", StatusNames.cublas(7));
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", StatusNames.cublas(15));
        assertEquals("ncclInvalidArgument", StatusNames.nccl(4));
        assertEquals("ncclSuccess", StatusNames.nccl(0));
    }

    @Test
    void driverTooOldAndOutOfMemoryMessagesSayWhatToDo() {
        CudaException ptx = Errors.cuda(222, "cuModuleLoadData");
        assertEquals("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", ptx.statusName());
        assertTrue(ptx.getMessage().contains("update the driver to >= "), ptx.getMessage());
        if (KernelImages.fatbinBuilt()) {
            assertTrue(ptx.getMessage().contains(">= " + Errors.versionText(KernelImages.requiredDriver())),
                    ptx.getMessage());
        }
        CudaException oom = Errors.outOfMemory(3L << 30, 1L << 30, 8L << 30);
        assertEquals(2, oom.status());
        assertTrue(oom.getMessage().contains("asked 3221225472 bytes") && oom.getMessage().contains("1073741824 bytes free"),
                oom.getMessage());
    }

    @Test
    void theCudaProbeReturnsDevicesOrAReasonInWords() {
        ProbeResult r = DeviceProbe.probe(Backend.CUDA);
        if (r.available()) {
            assertTrue(((ProbeResult.Available) r).firstUsable().name().length() > 0);
        } else {
            String why = r.reason();
            assertTrue(why.startsWith("no libcuda") || why.startsWith("no device") || why.startsWith("driver too old")
                    || why.startsWith("kernels not built") || why.startsWith("no usable device")
                    || why.startsWith("the CUDA driver did not initialise"), why);
            assertEquals("cpu", DeviceProbe.autoBackend());
        }
    }

    @Test
    void bf16ConversionRoundsToNearestEven() {
        assertEquals(1.0f, Bf16.round(1.0f));
        assertEquals(1.0f, Bf16.round(1.0f + 0x1p-9f));            // exactly half an ulp: ties to even (down)
        assertEquals(1.0f + 0x1p-7f, Bf16.round(1.0f + 0x1p-7f + 0x1p-9f));  // tie, odd below: rounds up
        assertEquals(1.0f + 0x1p-7f, Bf16.round(1.0f + 0x1p-8f + 0x1p-12f));  // above half: up
        assertTrue(Float.isNaN(Bf16.round(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, Bf16.round(Float.POSITIVE_INFINITY));
    }
}
