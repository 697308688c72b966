package dev.trm.data;

import java.util.Arrays;

/** A growable int array (the CSR index arrays are built one entry at a time). */
final class IntList {
    private int[] a = new int[1024];
    private int size;

    void add(int v) {
        if (size == a.length) a = Arrays.copyOf(a, a.length * 2);
        a[size++] = v;
    }

    int size() {
        return size;
    }

    int get(int i) {
        return a[i];
    }

    int last() {
        return a[size - 1];
    }

    int[] toArray() {
        return Arrays.copyOf(a, size);
    }
}
