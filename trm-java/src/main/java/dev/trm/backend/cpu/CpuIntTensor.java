package dev.trm.backend.cpu;

import dev.trm.backend.IntTensor;

/** A CPU-backend int tensor. */
public record CpuIntTensor(int[] shape, int[] data) implements IntTensor {
    public CpuIntTensor(int... shape) {
        this(shape.clone(), new int[Math.toIntExact(CpuTensor.sizeOf(shape))]);
    }
}
