package dev.trm.backend;

/**
 * What a buffer is for: the rows of the memory table that {@code trm train}, {@code trm bench train} and
 * {@code trm bench solve} print (the issue asks for device memory planned once at start, by parameters, gradients,
 * optimizer state, carry and the activations of the last n+1 calls, and printed as a table). The owner of a buffer
 * says which it is while allocating it ({@link MemoryLedger#use}); a buffer made outside any such scope is
 * {@link #UNLABELLED}, which tests hold to zero after a training step.
 */
public enum MemoryUse {
    PARAMETERS("parameters (trainable weights)"),
    WEIGHT_COPIES("bf16 weight copies (GEMM operands)"),
    BUFFERS("puzzle embedding table, H_init, L_init"),
    GRADIENTS("gradients"),
    OPTIMIZER_STATE("optimizer state (AdamATan2 m, v)"),
    EMA("EMA weights"),
    CARRY("carry (y, z)"),
    SAVED_ACTIVATIONS("activations saved for the backward (n+1 calls)"),
    CALL_ACTIVATIONS("no-grad calls' set, reused (and the last grad call's)"),
    BACKWARD_WORKSPACE("backward workspace (activation gradients)"),
    HEADS("heads and losses (logits, q, their gradients)"),
    BATCH("batches, slot and solve state, schedule, metrics"),
    SCRATCH("RoPE tables, backend scratch"),
    UNLABELLED("unlabelled");

    private final String label;

    MemoryUse(String label) {
        this.label = label;
    }

    /** The row's name in the memory table. */
    public String label() {
        return label;
    }
}
