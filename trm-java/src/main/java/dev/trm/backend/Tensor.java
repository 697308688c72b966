package dev.trm.backend;

import java.util.Arrays;

/**
 * A float tensor owned by one {@link Backend}: fp32 (or wider) on the CPU, device memory on a GPU. Row-major; the
 * shape is fixed at allocation. Values move in and out only through the backend ({@link Backend#write},
 * {@link Backend#read}), so model code never depends on where they live.
 */
public interface Tensor {
    int[] shape();

    default long size() {
        long n = 1;
        for (int d : shape()) n *= d;
        return n;
    }

    /** Extent of axis i; negative i counts from the end. */
    default int dim(int i) {
        int[] s = shape();
        return s[i < 0 ? s.length + i : i];
    }

    static String describe(int[] shape) {
        return Arrays.toString(shape);
    }
}
