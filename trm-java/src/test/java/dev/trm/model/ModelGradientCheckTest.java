package dev.trm.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.ref.RefBackend;
import dev.trm.backend.ref.RefTensor;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Finite-difference check, in double precision, of a whole training supervision step of a tiny model on the
 * reference backend: the gradient of (lm_loss + 0.5 q_halt_loss) / B w.r.t. sampled elements of every parameter and
 * of the puzzle table rows, through the n+1 grad calls, both heads and both losses.
 *
 * <p>TRM's gradient is truncated by design: the T-1 processes before the last run without gradient, so a finite
 * difference of the whole step (which sees the weights through those processes too) is not what it computes. The
 * test therefore checks two things: a T = 2 step's gradient equals, exactly, that of a T = 1 step started from the
 * carry after one no-grad process; and that T = 1 gradient matches finite differences.
 */
class ModelGradientCheckTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"attention", "mixer"})
    void wholeStepGradientMatchesFiniteDifferences(String variant) {
        TrmConfig c = variant.equals("attention") ? TinyConfigs.attention() : TinyConfigs.mixer();
        RefBackend be = new RefBackend();
        TrmParameters params = new TrmParameters(c, be);
        params.initialize(be, 7);
        Random rnd = new Random(11);
        // Non-zero q_head weight, puzzle rows and a random carry so that every path carries gradient.
        randomize(be, (RefTensor) params.qWeight().value(), 0.3, rnd);
        randomize(be, (RefTensor) params.puzzleTable(), 0.3, rnd);
        TrmModel full = new TrmModel(c, be, params);
        TrmModel model = new TrmModel(c.withCycles(1, c.lCycles()), be, params);
        int b = 2, len = c.seqLen();
        int[] inputs = new int[b * len], labels = new int[b * len];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
            labels[i] = i % 5 == 3 ? -100 : rnd.nextInt(c.vocabSize());
        }
        Batch batch = model.batch(inputs, labels, new int[] {1, 2});
        Carry initial = model.initialCarry(b);
        randomize(be, (RefTensor) initial.y(), 1, rnd);
        randomize(be, (RefTensor) initial.z(), 1, rnd);

        // The T = 2 step, then the T = 1 step from the carry after one no-grad process: same gradients.
        params.zeroGrad(be);
        StepResult r = full.trainStep(batch, copy(be, initial));
        double[][] fullGrads = params.parameters().stream().map(p -> be.readDouble(p.grad())).toArray(double[][]::new);
        double[] fullPuzzleGrad = be.readDouble(full.puzzleSlotGrad());
        Carry start = copy(be, initial);
        model.forward(batch, start);
        params.zeroGrad(be);
        StepResult r1 = model.trainStep(batch, copy(be, start));
        assertTrue(Math.abs(r.loss() - r1.loss()) < 1e-12, "T=2 loss " + r.loss() + " vs T=1 from advanced carry " + r1.loss());
        for (int k = 0; k < fullGrads.length; k++) {
            double[] g1 = be.readDouble(params.parameters().get(k).grad());
            for (int i = 0; i < g1.length; i++) {
                assertTrue(Math.abs(g1[i] - fullGrads[k][i]) <= 1e-12 * (1 + Math.abs(g1[i])),
                        params.parameters().get(k).name() + "[" + i + "] differs between T=2 and T=1-from-carry");
            }
        }
        double[] puzzleGrad = be.readDouble(model.puzzleSlotGrad());
        // Snapshot: every finite-difference evaluation below runs trainStep, which accumulates into the gradients.
        double[][] grads = params.parameters().stream().map(p -> be.readDouble(p.grad())).toArray(double[][]::new);
        for (int i = 0; i < puzzleGrad.length; i++) assertTrue(Math.abs(puzzleGrad[i] - fullPuzzleGrad[i]) < 1e-12);

        double worst = 0;
        for (int k = 0; k < grads.length; k++) {
            Parameter p = params.parameters().get(k);
            double[] v = ((RefTensor) p.value()).data();
            double[] g = grads[k];
            for (int s = 0; s < 4; s++) {
                int i = rnd.nextInt(v.length);
                double fd = finiteDifference(v, i, () -> loss(model, batch, be, start) / b);
                double err = Math.abs(fd - g[i]) / Math.max(1e-6, Math.abs(fd) + Math.abs(g[i]));
                worst = Math.max(worst, err);
                assertTrue(err < 1e-5 || Math.abs(fd - g[i]) < 1e-9,
                        p.name() + "[" + i + "]: analytic " + g[i] + " vs finite difference " + fd);
            }
        }
        // Puzzle rows: slot 0 uses id 1, slot 1 uses id 2.
        double[] table = ((RefTensor) params.puzzleTable()).data();
        for (int slot = 0; slot < 2; slot++) {
            for (int j = 0; j < 3; j++) {
                int i = (slot + 1) * c.hiddenSize() + j * 5;
                double fd = finiteDifference(table, i, () -> loss(model, batch, be, start) / b);
                double an = puzzleGrad[slot * c.hiddenSize() + j * 5];
                assertTrue(Math.abs(fd - an) <= 1e-6 * Math.max(1e-3, Math.abs(fd)),
                        "puzzle row " + (slot + 1) + "[" + j * 5 + "]: analytic " + an + " vs finite difference " + fd);
            }
        }
        System.out.printf("%s: loss %.6f, worst relative gradient error %.2e%n", variant, r.loss(), worst);
    }

    static double loss(TrmModel model, Batch batch, RefBackend be, Carry start) {
        return model.trainStep(batch, copy(be, start)).loss();
    }

    /** Central difference with step 1e-5 (double precision: truncation ~h^2, rounding ~1e-16/h). */
    static double finiteDifference(double[] v, int i, java.util.function.DoubleSupplier f) {
        double h = 1e-5, old = v[i];
        v[i] = old + h;
        double up = f.getAsDouble();
        v[i] = old - h;
        double down = f.getAsDouble();
        v[i] = old;
        return (up - down) / (2 * h);
    }

    static Carry copy(RefBackend be, Carry c) {
        Carry n = new Carry(be.tensor(c.y().shape()), be.tensor(c.z().shape()));
        be.copy(c.y(), n.y());
        be.copy(c.z(), n.z());
        return n;
    }

    static void randomize(RefBackend be, RefTensor t, double std, Random rnd) {
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = rnd.nextGaussian() * std;
    }
}
