package dev.trm.backend.cpu;

import dev.trm.backend.Tensor;

/** A CPU-backend tensor: fp32 values in one Java array, row-major. */
public record CpuTensor(int[] shape, float[] data) implements Tensor {
    public CpuTensor(int... shape) {
        this(shape.clone(), new float[Math.toIntExact(sizeOf(shape))]);
    }

    static long sizeOf(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    @Override
    public String toString() {
        return "CpuTensor" + Tensor.describe(shape);
    }
}
