package dev.trm.backend;

/** Rotary-embedding tables cos, sin [seq, headDim] in the rotate-half layout (spec 1.3), built by a backend. */
public record RopeTables(Tensor cos, Tensor sin, int seq, int headDim) {}
