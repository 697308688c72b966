package dev.trm.gpu;

/**
 * Builds the exceptions for failed calls, with the advice users need for the common failures: a driver older than
 * our kernels (the ecosystem's number-one runtime failure) and running out of device memory.
 */
final class Errors {
    static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
    static final int CUDA_ERROR_NO_DEVICE = 100;
    static final int CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803;
    static final int CUDA_ERROR_JIT_COMPILER_NOT_FOUND = 221;
    static final int CUDA_ERROR_INVALID_HANDLE = 400;
    static final int CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900;
    static final int CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901;
    static final int CUDA_ERROR_CAPTURED_EVENT = 907;
    static final int CUDA_ERROR_NO_BINARY_FOR_GPU = 209;
    static final int CUDA_ERROR_INVALID_PTX = 218;
    static final int CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222;
    static final int CUDA_ERROR_INVALID_VALUE = 1;
    static final int CUDA_ERROR_NOT_FOUND = 500;
    static final int CUDA_ERROR_LAUNCH_FAILED = 719;
    static final int CUDA_ERROR_ILLEGAL_ADDRESS = 700;

    private Errors() {}

    /** Throws unless status is CUDA_SUCCESS; `what` says which call, in words. */
    static void checkCuda(int status, String what) {
        if (status != 0) throw cuda(status, what);
    }

    static CudaException cuda(int status, String what) {
        String name = StatusNames.cuda(status);
        String msg = what + " failed: " + name;
        switch (status) {
            case CUDA_ERROR_UNSUPPORTED_PTX_VERSION, CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, CUDA_ERROR_INVALID_PTX,
                 CUDA_ERROR_NO_BINARY_FOR_GPU, CUDA_ERROR_JIT_COMPILER_NOT_FOUND ->
                msg += " (the installed driver cannot run kernels built by CUDA " + KernelImages.nvccRelease()
                        + "; update the driver to >= " + KernelImages.requiredDriverText() + ")";
            default -> {}
        }
        return new CudaException(status, name, msg);
    }

    static CudaException outOfMemory(long asked, long free, long total) {
        return new CudaException(CUDA_ERROR_OUT_OF_MEMORY, StatusNames.cuda(CUDA_ERROR_OUT_OF_MEMORY),
                "out of device memory: asked " + asked + " bytes (" + mib(asked) + "), " + free + " bytes free ("
                        + mib(free) + ") of " + mib(total));
    }

    static void checkCublas(int status, String what) {
        if (status != 0) {
            String name = StatusNames.cublas(status);
            throw new CudaException(status, name, what + " failed: " + name);
        }
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (double) (1 << 20));
    }

    /** "13.0" from a cuDriverGetVersion number (13000). */
    static String versionText(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }
}
