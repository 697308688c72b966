package dev.trm.model;

import dev.trm.backend.IntTensor;

/**
 * One batch on the backend: inputs [B, L] token ids, labels [B, L] (-100 = ignored; may be null for inference),
 * puzzleIds [B].
 */
public record Batch(IntTensor inputs, IntTensor labels, IntTensor puzzleIds) {
    public int size() {
        return inputs.dim(0);
    }
}
