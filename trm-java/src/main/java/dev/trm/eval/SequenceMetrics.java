package dev.trm.eval;

/**
 * Sudoku and Maze metrics (spec 3): {@code tokenAccuracy} is the mean over examples of the fraction of scored label
 * tokens predicted exactly; {@code exactAccuracy} the fraction of examples with every scored token right (the paper's
 * reported number). {@code validShortestPathRate} (Maze only, else NaN) counts predictions that mark some shortest
 * S-to-G path even when it is not the labelled one (the HRM paper's "valid and optimal").
 */
public record SequenceMetrics(long examples, double tokenAccuracy, double exactAccuracy, double meanHaltConfidence,
        double validShortestPathRate) {}
