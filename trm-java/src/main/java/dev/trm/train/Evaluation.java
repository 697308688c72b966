package dev.trm.train;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.IntTensor;
import dev.trm.data.Dataset;
import dev.trm.eval.EvalExample;
import dev.trm.eval.Evaluator;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.Predictions;
import dev.trm.model.TrmModel;

/**
 * The official evaluation (spec 2.3): every test example runs all N_sup supervision steps (no halting), in
 * equal-sized batches (the last padded with PAD inputs and the blank identifier); predictions and q_halt are those of
 * the last step. Each example goes to the task's {@link Evaluator}.
 */
public final class Evaluation {
    private Evaluation() {}

    public static <R> R run(TrmModel model, Dataset test, int batch, Evaluator<R> evaluator) {
        return run(model, test, batch, evaluator, Long.MAX_VALUE);
    }

    /** As {@link #run(TrmModel, Dataset, int, Evaluator)} over at most {@code limit} examples. */
    public static <R> R run(TrmModel model, Dataset test, int batch, Evaluator<R> evaluator, long limit) {
        Backend be = model.backend();
        int len = test.seqLen(), v = model.config().vocabSize(), steps = model.config().haltMaxSteps();
        long total = Math.min(limit, test.exampleCount());
        int[] inputs = new int[batch * len], labels = new int[batch * len], ids = new int[batch];
        IntTensor inT, idT;
        try (var use = be.memory().use(MemoryUse.BATCH)) {
            inT = be.intTensor(batch, len);
            idT = be.intTensor(batch);
        }
        Carry carry = model.initialCarry(batch);
        evaluator.begin();
        for (long start = 0; start < total; start += batch) {
            int n = (int) Math.min(batch, total - start);
            java.util.Arrays.fill(inputs, test.metadata().padId());
            java.util.Arrays.fill(ids, test.metadata().blankIdentifierId());
            for (int b = 0; b < n; b++) {
                test.input(start + b, inputs, b * len);
                System.arraycopy(test.label(start + b), 0, labels, b * len, len);
                ids[b] = test.puzzleIdentifier(test.puzzleOf(start + b));
            }
            be.writeInts(inT, inputs);
            be.writeInts(idT, ids);
            Batch data = new Batch(inT, null, idT);
            model.resetCarry(carry);
            for (int s = 0; s < steps; s++) model.forward(data, carry);
            float[] logits = be.read(model.logits()), q = be.read(model.q());
            for (int b = 0; b < n; b++) {
                int[] pred = Predictions.argmax(logits, b, len, v);
                evaluator.add(new EvalExample(ids[b], java.util.Arrays.copyOfRange(inputs, b * len, (b + 1) * len),
                        java.util.Arrays.copyOfRange(labels, b * len, (b + 1) * len), pred,
                        1 / (1 + Math.exp(-q[2 * b]))));
            }
        }
        be.free(inT);
        be.free(idT);
        be.free(carry.y());
        be.free(carry.z());
        return evaluator.result();
    }
}
