package dev.trm.eval;

/**
 * Scores one evaluation pass: {@link #begin} at the start of a pass, {@link #add} for every test example, then
 * {@link #result}. Each task returns its own metrics record.
 */
public interface Evaluator<R> {
    void begin();

    void add(EvalExample example);

    R result();
}
