package dev.trm.gpu;

/**
 * Which cuBLAS API runs a {@link Blas}'s GEMMs. CUBLAS: cublasGemmStridedBatchedEx, no per-shape setup. CUBLASLT:
 * cublasLtMatmul with a per-shape plan (descriptors and the heuristic's algorithm, made once and cached) and the
 * handle's 32 MiB workspace; it pays where the heuristic finds a better kernel (split-K for the weight gradients,
 * whose k is the token count) and is where fused epilogues would go. The GPU benchmark times both on each shape.
 * On the emulated device both run the same plain reference.
 */
public enum GemmEngine {
    CUBLAS,
    CUBLASLT
}
