package dev.trm.task.arc;

/** One input/output pair of a task; {@code output} is null for a Kaggle challenge without its solution. */
public record ArcPair(ArcGrid input, ArcGrid output) {}
