package dev.trm.gpu;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * Maps CUDA driver (CUresult), cuBLAS (cublasStatus_t) and NCCL (ncclResult_t) status codes to their names, from
 * the constants jextract generated: every status the headers define is covered, and nothing is typed by hand.
 * Reading those constants initialises the binding classes, which opens no library (they use the loader lookup and
 * resolve functions lazily), so this works on a machine without CUDA too.
 */
public final class StatusNames {
    private static volatile Map<Integer, String> cuda, cublas, nccl;

    private StatusNames() {}

    public static String cuda(int code) {
        if (cuda == null) cuda = scan("dev.trm.bindings.cuda.cuda_h", "CUDA_ERROR_", "CUDA_SUCCESS");
        return cuda.getOrDefault(code, "CUDA_ERROR_UNRECOGNIZED(" + code + ")");
    }

    public static String cublas(int code) {
        if (cublas == null) cublas = scan("dev.trm.bindings.cublas.cublas_h", "CUBLAS_STATUS_", "CUBLAS_STATUS_");
        return cublas.getOrDefault(code, "CUBLAS_STATUS_UNRECOGNIZED(" + code + ")");
    }

    public static String nccl(int code) {
        if (nccl == null) nccl = scan("dev.trm.bindings.nccl.nccl_h", "ncclSuccess", "nccl");
        return nccl.getOrDefault(code, "ncclUnrecognized(" + code + ")");
    }

    /** Every public static no-argument int method of the header class (and its supers) whose name fits. */
    private static Map<Integer, String> scan(String className, String prefix, String alsoPrefix) {
        Map<Integer, String> names = new HashMap<>();
        try {
            for (Class<?> c = Class.forName(className); c != null && c != Object.class; c = c.getSuperclass()) {
                for (Method m : c.getDeclaredMethods()) {
                    if (!Modifier.isStatic(m.getModifiers()) || !Modifier.isPublic(m.getModifiers())) continue;
                    if (m.getParameterCount() != 0 || m.getReturnType() != int.class) continue;
                    String n = m.getName();
                    boolean statusLike = n.startsWith(prefix) || n.startsWith(alsoPrefix);
                    if (!statusLike || (alsoPrefix.equals("nccl") && !isNcclResult(n))) continue;
                    names.putIfAbsent((Integer) m.invoke(null), n);
                }
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the status constants of " + className, e);
        }
        return Map.copyOf(names);
    }

    private static boolean isNcclResult(String n) {
        return switch (n) {
            case "ncclSuccess", "ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError",
                 "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError", "ncclInProgress" -> true;
            default -> false;
        };
    }
}
