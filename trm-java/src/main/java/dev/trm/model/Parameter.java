package dev.trm.model;

import dev.trm.backend.Tensor;

/**
 * One trainable tensor: its official name (spec section 7, without the {@code model.inner.} prefix), its value and
 * its gradient (same shape; accumulated with {@code +=}, zeroed by the trainer; null in a set made without gradients:
 * {@link TrmParameters#forInference}, the EMA copy).
 */
public record Parameter(String name, Tensor value, Tensor grad) {
    public int[] shape() {
        return value.shape();
    }

    /** fan-in of a Linear weight [out, in], or of an embedding row. */
    public int inFeatures() {
        return value.dim(-1);
    }
}
