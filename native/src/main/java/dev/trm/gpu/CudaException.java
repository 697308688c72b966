package dev.trm.gpu;

/**
 * A failed CUDA driver, cuBLAS or emulated-device call: the status code, its name (e.g. CUDA_ERROR_OUT_OF_MEMORY)
 * and a message that says what was being done and, for the common failures, what to do about it.
 */
public final class CudaException extends RuntimeException {
    private final int status;
    private final String statusName;

    public CudaException(int status, String statusName, String message) {
        super(message);
        this.status = status;
        this.statusName = statusName;
    }

    public int status() {
        return status;
    }

    public String statusName() {
        return statusName;
    }
}
