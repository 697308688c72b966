package dev.trm.model;

import dev.trm.backend.Tensor;

/** The recursion state carried across supervision steps: the answer y (z_H) and the latent z (z_L), [B, S, D]. */
public record Carry(Tensor y, Tensor z) {}
