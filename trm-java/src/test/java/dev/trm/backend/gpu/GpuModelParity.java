package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Tensor;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.Parameter;
import dev.trm.model.StepResult;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import dev.trm.train.AdamAtan2;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The GPU backend against the fp32 CPU backend on whole supervision steps: the same weights (random, including the
 * q head and puzzle rows that initialisation leaves constant), the same batch; then logits, q, the losses, every
 * parameter gradient, the puzzle rows' gradient, the new carry, and the weights after an AdamATan2 step and the
 * puzzle sign-SGD step. Two steps run, so the second starts from the carry the first left.
 *
 * <p>Error per tensor: max |gpu - cpu| / max |cpu| (relative to the tensor's scale); the bf16 activations set the
 * tolerance, 1e-2 (issue 6), and no value may be NaN.
 */
final class GpuModelParity {
    static final double TOL = Double.parseDouble(System.getenv().getOrDefault("TOLX", "1e-2"));

    private GpuModelParity() {}

    /** A small mlp_t (token mixer) model: S = 10 + 2, D 32. */
    static TrmConfig tinyMlpT() {
        return new TrmConfig(7, 10, 32, 1, 4, 2, 2, 2, true, false, 10000, 1e-5, 2, 5, 4, 0.1,
                TrmConfig.LossType.STABLEMAX);
    }

    /** A small attention model with RoPE: S = 13 + 3, D 32, 2 heads of 16. */
    static TrmConfig tinyAttention() {
        return new TrmConfig(9, 13, 32, 2, 4, 2, 2, 2, false, true, 10000, 1e-5, 3, 5, 4, 0.1,
                TrmConfig.LossType.SOFTMAX);
    }

    static void check(GpuBackend gpu, TrmConfig c, int batch, long seed) {
        CpuBackend cpu = new CpuBackend();
        TrmParameters pc = new TrmParameters(c, cpu), pg = new TrmParameters(c, gpu);
        SplittableRandom rnd = new SplittableRandom(seed);
        pc.initialize(cpu, seed);
        Map<String, Tensor> gpuTensors = pg.namedTensors();
        for (Map.Entry<String, Tensor> e : pc.namedTensors().entrySet()) {
            float[] v = cpu.read(e.getValue());
            if (System.getenv("ROUNDW") != null) {
                for (int i = 0; i < v.length; i++) v[i] = dev.trm.gpu.Bf16.toFloat(dev.trm.gpu.Bf16.fromFloat(v[i]));
                cpu.write(e.getValue(), v);
            }
            // initialisation leaves q_head.weight and the puzzle rows at zero: give them values worth comparing
            if (e.getKey().equals(TrmParameters.Q_WEIGHT) || e.getKey().equals(TrmParameters.PUZZLE)) {
                for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.2);
                cpu.write(e.getValue(), v);
            }
            gpu.write(gpuTensors.get(e.getKey()), v);
        }

        int len = c.seqLen();
        int[] inputs = new int[batch * len], labels = new int[batch * len], ids = new int[batch];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = rnd.nextInt(c.vocabSize());
            labels[i] = rnd.nextInt(8) == 0 ? -100 : 1 + rnd.nextInt(c.vocabSize() - 1);
        }
        for (int b = 0; b < batch; b++) ids[b] = b % 2 == 0 ? 1 : rnd.nextInt(c.numPuzzleIds());  // repeated ids too

        TrmModel mc = new TrmModel(c, cpu, pc), mg = new TrmModel(c, gpu, pg);
        Batch bc = mc.batch(inputs, labels, ids), bg = mg.batch(inputs, labels, ids);
        Carry cc = mc.initialCarry(batch), cg = mg.initialCarry(batch);
        AdamAtan2 ac = new AdamAtan2(cpu, pc), ag = new AdamAtan2(gpu, pg);
        String name = (c.mlpT() ? "mlp_t" : "attention") + " B=" + batch;
        for (int step = 1; step <= 2; step++) {
            String at = name + " step " + step + ": ";
            pc.zeroGrad(cpu);
            pg.zeroGrad(gpu);
            StepResult rc = mc.trainStep(bc, cc), rg = mg.trainStep(bg, cg);
            expectClose(at + "logits", cpu.read(mc.logits()), gpu.read(mg.logits()));
            expectClose(at + "q", cpu.read(mc.q()), gpu.read(mg.q()));
            expectClose(at + "per-sequence loss", rc.perSeqLoss(), rg.perSeqLoss());
            assertTrue(Math.abs(rc.loss() - rg.loss()) <= TOL * Math.abs(rc.loss()),
                    at + "loss " + rg.loss() + " vs cpu " + rc.loss());
            for (Parameter p : pc.parameters()) {
                expectClose(at + "grad " + p.name(), cpu.read(p.grad()), gpu.read(pg.get(p.name()).grad()));
            }
            expectClose(at + "puzzle slot grads", cpu.read(mc.puzzleSlotGrad()), gpu.read(mg.puzzleSlotGrad()));
            expectClose(at + "carry y", cpu.read(cc.y()), gpu.read(cg.y()));
            expectClose(at + "carry z", cpu.read(cc.z()), gpu.read(cg.z()));

            ac.step(1e-3, 0.1, 0.9, 0.95);
            ag.step(1e-3, 0.1, 0.9, 0.95);
            cpu.puzzleSignSgd(pc.puzzleTable(), bc.puzzleIds(), mc.puzzleSlotGrad(), 1e-2, 0.1);
            gpu.puzzleSignSgd(pg.puzzleTable(), bg.puzzleIds(), mg.puzzleSlotGrad(), 1e-2, 0.1);
            for (Map.Entry<String, Tensor> e : pc.namedTensors().entrySet()) {
                expectClose(at + "updated " + e.getKey(), cpu.read(e.getValue()), gpu.read(gpuTensors.get(e.getKey())));
            }
        }
        assertEquals(gpu.name(), gpu.device().backend().label());
    }

    static double expectClose(String what, float[] cpu, float[] gpu) {
        double[] a = new double[cpu.length], b = new double[gpu.length];
        for (int i = 0; i < a.length; i++) a[i] = cpu[i];
        for (int i = 0; i < b.length; i++) b[i] = gpu[i];
        return expectClose(what, a, b);
    }

    static double expectClose(String what, double[] cpu, double[] gpu) {
        assertEquals(cpu.length, gpu.length, what + ": length");
        double maxAbs = 0, maxRef = 0, se = 0, sr = 0;
        for (int i = 0; i < cpu.length; i++) {
            assertTrue(!Double.isNaN(gpu[i]) && !Double.isInfinite(gpu[i]), what + ": " + gpu[i] + " at " + i);
            maxAbs = Math.max(maxAbs, Math.abs(gpu[i] - cpu[i]));
            maxRef = Math.max(maxRef, Math.abs(cpu[i]));
            se += (gpu[i] - cpu[i]) * (gpu[i] - cpu[i]);
            sr += cpu[i] * cpu[i];
        }
        double rel = maxRef == 0 ? maxAbs : maxAbs / maxRef;
        System.out.printf("%-60s max abs %.2e  rel %.2e  norm rel %.2e%n", what, maxAbs, rel, Math.sqrt(se / Math.max(sr, 1e-300)));
        assertTrue(rel < TOL, what + ": relative error " + rel + " (max abs " + maxAbs + ", scale " + maxRef + ")");
        return rel;
    }
}
