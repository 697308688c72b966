package dev.trm.backend.ref;

import dev.trm.backend.Tensor;

/** A reference-backend tensor: its values in double, exposed so that gradient checks can perturb them. */
public record RefTensor(int[] shape, double[] data) implements Tensor {
    public RefTensor(int... shape) {
        this(shape.clone(), new double[Math.toIntExact(sizeOf(shape))]);
    }

    static long sizeOf(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    @Override
    public String toString() {
        return "RefTensor" + Tensor.describe(shape);
    }
}
