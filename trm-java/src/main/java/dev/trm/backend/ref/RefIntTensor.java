package dev.trm.backend.ref;

import dev.trm.backend.IntTensor;

/** A reference-backend int tensor. */
public record RefIntTensor(int[] shape, int[] data) implements IntTensor {
    public RefIntTensor(int... shape) {
        this(shape.clone(), new int[Math.toIntExact(RefTensor.sizeOf(shape))]);
    }
}
