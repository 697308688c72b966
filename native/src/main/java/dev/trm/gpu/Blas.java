package dev.trm.gpu;

/**
 * GEMM through cuBLAS (or the emulated device's plain reference): bf16 or fp32 inputs, fp32 accumulation,
 * strided-batched. The API is row-major, like the CPU backend: C[m,n] = alpha op(A) op(B) + beta C with leading
 * dimensions lda, ldb, ldc in elements. cuBLAS is column-major, and a row-major C is a column-major C^T, so we ask
 * it for C^T = op(B)^T op(A)^T: the operands swap and m, n swap, with no data moved.
 */
public final class Blas extends Owned {
    private final long handle;
    private final GemmEngine engine;

    Blas(GpuDevice device, long handle, GemmEngine engine) {
        super(device);
        this.handle = handle;
        this.engine = engine;
    }

    public GemmEngine engine() {
        return engine;
    }

    /** One row-major GEMM (batch of one). */
    public void gemm(Stream stream, boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceBuffer a,
                     int lda, DeviceBuffer b, int ldb, float beta, DeviceBuffer c, int ldc) {
        gemmStridedBatched(stream, transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
    }

    /** Row-major, batch after batch at the given element strides. */
    public void gemmStridedBatched(Stream stream, boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   DeviceBuffer a, int lda, long strideA, DeviceBuffer b, int ldb, long strideB,
                                   float beta, DeviceBuffer c, int ldc, long strideC, int batch) {
        checkOpen();
        checkFits("A", a, transA ? k : m, transA ? m : k, lda, strideA, batch);
        checkFits("B", b, transB ? n : k, transB ? k : n, ldb, strideB, batch);
        checkFits("C", c, m, n, ldc, strideC, batch);
        device.driver.gemm(handle, engine, stream.handle(), transB, transA, n, m, k, alpha, b.address(),
                b.type().cudaDataType(), ldb, strideB, a.address(), a.type().cudaDataType(), lda, strideA, beta,
                c.address(), c.type().cudaDataType(), ldc, strideC, batch);
        device.gemmsEnqueued++;
    }

    /**
     * As {@link #gemmStridedBatched}, with each operand starting at an element offset into its buffer (a slice of a
     * batch, without a view object per slice).
     */
    public void gemmStridedBatchedAt(Stream stream, boolean transA, boolean transB, int m, int n, int k, float alpha,
                                     DeviceBuffer a, long offA, int lda, long strideA, DeviceBuffer b, long offB,
                                     int ldb, long strideB, float beta, DeviceBuffer c, long offC, int ldc,
                                     long strideC, int batch) {
        checkOpen();
        checkFits("A", a, offA, transA ? k : m, transA ? m : k, lda, strideA, batch);
        checkFits("B", b, offB, transB ? n : k, transB ? k : n, ldb, strideB, batch);
        checkFits("C", c, offC, m, n, ldc, strideC, batch);
        device.driver.gemm(handle, engine, stream.handle(), transB, transA, n, m, k, alpha,
                b.address() + offB * b.type().bytes(), b.type().cudaDataType(), ldb, strideB,
                a.address() + offA * a.type().bytes(), a.type().cudaDataType(), lda, strideA, beta,
                c.address() + offC * c.type().bytes(), c.type().cudaDataType(), ldc, strideC, batch);
        device.gemmsEnqueued++;
    }

    private static void checkFits(String what, DeviceBuffer buf, long off, int rows, int cols, int ld, long stride,
                                  int batch) {
        if (off < 0) throw new IllegalArgumentException(what + ": negative offset " + off);
        if (ld < Math.max(1, cols)) throw new IllegalArgumentException(what + ": ld " + ld + " < " + cols + " columns");
        long last = off + (long) (batch - 1) * stride + (long) (rows - 1) * ld + cols;
        if (rows > 0 && cols > 0 && last > buf.count()) {
            throw new IllegalArgumentException(what + " needs " + last + " elements, the buffer holds " + buf.count());
        }
    }

    /** A row-major [rows, cols] operand with leading dimension ld must fit its buffer in every batch. */
    private static void checkFits(String what, DeviceBuffer buf, int rows, int cols, int ld, long stride, int batch) {
        if (ld < Math.max(1, cols)) throw new IllegalArgumentException(what + ": ld " + ld + " < " + cols + " columns");
        long last = (long) (batch - 1) * stride + (long) (rows - 1) * ld + cols;
        if (rows > 0 && cols > 0 && last > buf.count()) {
            throw new IllegalArgumentException(what + " needs " + last + " elements, the buffer holds " + buf.count());
        }
    }

    @Override
    void release() {
        device.driver.blasDestroy(handle);
    }
}
