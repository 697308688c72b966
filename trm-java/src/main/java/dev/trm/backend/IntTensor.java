package dev.trm.backend;

/** An int32 tensor owned by one {@link Backend}: token ids, labels, puzzle identifiers, per-slot flags. */
public interface IntTensor {
    int[] shape();

    default long size() {
        long n = 1;
        for (int d : shape()) n *= d;
        return n;
    }

    default int dim(int i) {
        int[] s = shape();
        return s[i < 0 ? s.length + i : i];
    }
}
