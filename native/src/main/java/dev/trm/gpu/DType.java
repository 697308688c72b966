package dev.trm.gpu;

/** Element types of device buffers, with their size and their cudaDataType code where cuBLAS takes them. */
public enum DType {
    F32(4, 0),
    BF16(2, 14),
    I32(4, -1);

    private final int bytes;
    private final int cudaDataType;

    DType(int bytes, int cudaDataType) {
        this.bytes = bytes;
        this.cudaDataType = cudaDataType;
    }

    public int bytes() {
        return bytes;
    }

    int cudaDataType() {
        if (cudaDataType < 0) throw new IllegalArgumentException(this + " is not a GEMM element type");
        return cudaDataType;
    }
}
