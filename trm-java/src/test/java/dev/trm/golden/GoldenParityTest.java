package dev.trm.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Backend;
import dev.trm.backend.ref.RefBackend;
import dev.trm.io.SafeTensors;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.Parameter;
import dev.trm.model.StepResult;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Parity with the team's independent PyTorch reference (float64; {@code tools/reference/make_goldens.py}): one
 * training supervision step, compared tensor by tensor (logits, q, new carry, losses, every parameter gradient and
 * the puzzle-table gradient). Tiny configs store every tensor; the full-size presets store norms and a fixed sample
 * of elements, with weights both sides generate from one formula.
 *
 * <p>Tolerances: the double reference backend must agree to 2e-7: both sides compute in float64, and the goldens store
 * tensors as float32 (rounding 2^-24 = 6e-8 relative; the float64 losses agree to 1e-13). fp32 backends: 1e-4 relative
 * per tensor (max-norm), the bound.
 */
class GoldenParityTest {

    static Stream<Arguments> tinyCases() {
        List<Arguments> a = new ArrayList<>();
        for (String c : List.of("tiny-att", "tiny-mlp")) {
            for (Backends.Kind k : Backends.Kind.values()) a.add(Arguments.of(c, k));
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("tinyCases")
    void tinyStepMatchesPyTorch(String name, Backends.Kind kind) {
        Backend be = kind.create();
        double tol = kind.tolerance();
        try (SafeTensors f = SafeTensors.open(Golden.file(name))) {
            TrmConfig c = Golden.config(f);
            int b = Golden.batch(f);
            TrmParameters p = new TrmParameters(c, be);
            Golden.loadWeights(f, be, p);
            TrmModel model = new TrmModel(c, be, p);
            model.keepTrainLogits(true);  // the reference's logits are compared after the step
            Batch batch = model.batch(f.ints("inputs"), f.ints("labels"), f.ints("puzzle_ids"));
            Carry carry = new Carry(be.tensor(b, c.seq(), c.hiddenSize()), be.tensor(b, c.seq(), c.hiddenSize()));
            be.write(carry.y(), f.floats("carry_y"));
            be.write(carry.z(), f.floats("carry_z"));
            p.zeroGrad(be);
            StepResult r = model.trainStep(batch, carry);

            Checker check = new Checker(name + " on " + be.name(), tol);
            check.full("out.logits", be.readDouble(model.logits()), f.doubles("out.logits"));
            double[] q = be.readDouble(model.q());
            check.full("out.q_halt", new double[] {q[0], q[2]}, f.doubles("out.q_halt"));
            check.full("out.q_continue", new double[] {q[1], q[3]}, f.doubles("out.q_continue"));
            check.full("out.new_y", be.readDouble(carry.y()), f.doubles("out.new_y"));
            check.full("out.new_z", be.readDouble(carry.z()), f.doubles("out.new_z"));
            check.full("out.per_seq_lm", r.perSeqLoss(), f.doubles("out.per_seq_lm"));
            check.scalar("out.lm_loss", r.lmLoss(), f.doubles("out.lm_loss")[0]);
            check.scalar("out.q_halt_loss", r.qHaltLoss(), f.doubles("out.q_halt_loss")[0]);
            check.scalar("out.loss", r.loss(), f.doubles("out.loss")[0]);
            assertEquals(java.util.Arrays.toString(f.ints("out.seq_correct")), java.util.Arrays.toString(r.seqCorrect()));
            for (Parameter par : p.parameters()) {
                check.full("grad." + par.name(), be.readDouble(par.grad()), f.doubles("grad." + par.name()));
            }
            check.full("grad." + TrmParameters.PUZZLE, Golden.puzzleTableGrad(be.readDouble(model.puzzleSlotGrad()),
                    f.ints("puzzle_ids"), c.numPuzzleIds(), c.hiddenSize()), f.doubles("grad." + TrmParameters.PUZZLE));
            check.assertAll();
        }
    }

    @ParameterizedTest(name = "{0} on cpu")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"full-sudoku-mlp", "full-arc-att"})
    void fullSizeStepMatchesPyTorch(String name) {
        Backend be = Backends.Kind.CPU.create();
        try (SafeTensors f = SafeTensors.open(Golden.file(name))) {
            TrmConfig c = Golden.config(f);
            int b = Golden.batch(f);
            TrmParameters p = new TrmParameters(c, be);
            Golden.formulaWeights(c, be, p);
            Checker check = new Checker(name + " on " + be.name(), Backends.Kind.CPU.tolerance());
            // First make sure both sides generated the same weights.
            for (var e : p.namedTensors().entrySet()) {
                if (!f.has("wnorm." + e.getKey())) continue;
                double[] w = be.readDouble(e.getValue());
                assertEquals(f.doubles("wnorm." + e.getKey())[0], Golden.norm(w), 1e-9 * Golden.norm(w), "weight norm " + e.getKey());
                double[] first = f.doubles("wfirst." + e.getKey());
                for (int i = 0; i < first.length; i++) assertEquals(first[i], w[i], 0.0, "weight " + e.getKey() + "[" + i + "]");
            }
            TrmModel model = new TrmModel(c, be, p);
            model.keepTrainLogits(true);  // the reference's logits are compared after the step
            Batch batch = model.batch(f.ints("inputs"), f.ints("labels"), f.ints("puzzle_ids"));
            Carry carry = model.initialCarry(b);
            p.zeroGrad(be);
            StepResult r = model.trainStep(batch, carry);

            double[] q = be.readDouble(model.q());
            double[] halt = new double[b], cont = new double[b];
            for (int i = 0; i < b; i++) {
                halt[i] = q[2 * i];
                cont[i] = q[2 * i + 1];
            }
            sampled(check, f, "logits", be.readDouble(model.logits()));
            sampled(check, f, "q_halt", halt);
            sampled(check, f, "q_continue", cont);
            sampled(check, f, "new_y", be.readDouble(carry.y()));
            sampled(check, f, "new_z", be.readDouble(carry.z()));
            check.scalar("out.lm_loss", r.lmLoss(), f.doubles("out.lm_loss")[0]);
            check.scalar("out.q_halt_loss", r.qHaltLoss(), f.doubles("out.q_halt_loss")[0]);
            check.scalar("out.loss", r.loss(), f.doubles("out.loss")[0]);
            assertEquals(java.util.Arrays.toString(f.ints("out.seq_correct")), java.util.Arrays.toString(r.seqCorrect()));
            for (Parameter par : p.parameters()) sampled(check, f, "grad." + par.name(), be.readDouble(par.grad()));
            sampled(check, f, "grad." + TrmParameters.PUZZLE, Golden.puzzleTableGrad(be.readDouble(model.puzzleSlotGrad()),
                    f.ints("puzzle_ids"), c.numPuzzleIds(), c.hiddenSize()));
            check.assertAll();
        }
    }

    /** A stored-by-sample tensor: its L2 norm and 64 fixed elements, both relative to the reference's scale. */
    private static void sampled(Checker check, SafeTensors f, String name, double[] actual) {
        double norm = f.doubles("norm." + name)[0];
        check.scalar("norm." + name, Golden.norm(actual), norm);
        long[] idx = f.longs("idx." + name);
        double[] picked = new double[idx.length];
        for (int i = 0; i < idx.length; i++) picked[i] = actual[Math.toIntExact(idx[i])];
        check.full("val." + name, picked, f.doubles("val." + name));
    }

    /** Per-tensor comparison with a printed table, failing at the end with every tensor over tolerance. */
    static final class Checker {
        private final String label;
        private final double tol;
        private final List<String> failures = new ArrayList<>();

        Checker(String label, double tol) {
            this.label = label;
            this.tol = tol;
            System.out.printf("%n%s (tolerance %.0e relative)%n%-50s %12s %12s%n", label, tol, "tensor", "max abs", "max rel");
        }

        void full(String name, double[] actual, double[] expected) {
            report(name, Golden.Error.of(actual, expected));
        }

        void scalar(String name, double actual, double expected) {
            report(name, Golden.Error.of(new double[] {actual}, new double[] {expected}));
        }

        void report(String name, Golden.Error e) {
            boolean ok = e.rel() <= tol;
            System.out.printf("%-50s %12.3e %12.3e %s%n", name, e.maxAbs(), e.rel(), ok ? "ok" : "NOT OK");
            if (!ok) failures.add(name + " rel " + e.rel());
        }

        void assertAll() {
            assertTrue(failures.isEmpty(), label + ": over tolerance: " + failures);
        }
    }

    /** The backends parity runs on. */
    static final class Backends {
        enum Kind {
            REFERENCE(RefBackend::new, 2e-7),
            CPU(dev.trm.backend.cpu.CpuBackend::new, 1e-4);

            private final Supplier<Backend> factory;
            private final double tolerance;

            Kind(Supplier<Backend> factory, double tolerance) {
                this.factory = factory;
                this.tolerance = tolerance;
            }

            Backend create() {
                return factory.get();
            }

            double tolerance() {
                return tolerance;
            }
        }
    }
}
