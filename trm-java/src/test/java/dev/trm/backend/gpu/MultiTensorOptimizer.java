package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Backend;
import dev.trm.backend.Tensor;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.gpu.Bf16;
import java.util.Random;

/**
 * The group ops adamAtan2All / emaAll (one multi-tensor launch each) against the per-tensor ops on the same GPU
 * backend, bit for bit: five tensors of odd sizes, one of them a GEMM weight [64, 33] whose maintained bf16 copy the
 * kernel rewrites (observed through a following linear). Eager steps first (the first call uploads the table), then
 * the group ops captured once and replayed with each step's schedule row, uploading nothing more. The same steps on
 * the CPU backend agree within 1e-6 relative.
 */
final class MultiTensorOptimizer {
    private MultiTensorOptimizer() {}

    private static final int[][] SHAPES = {{1}, {37}, {1000}, {3001}, {64, 33}};
    private static final int WEIGHT = 4, ROWS = 5;
    private static final double WD = 0.1, B1 = 0.9, B2 = 0.95, RATE = 0.99;

    /** p, g, m, v, shadow of one group, on one backend. */
    private record Group(Tensor[] p, Tensor[] g, Tensor[] m, Tensor[] v, Tensor[] shadow) {
        static Group on(Backend be, float[][][] init) {
            int n = SHAPES.length;
            Group grp = new Group(new Tensor[n], new Tensor[n], new Tensor[n], new Tensor[n], new Tensor[n]);
            Tensor[][] all = {grp.p, grp.g, grp.m, grp.v, grp.shadow};
            for (int f = 0; f < all.length; f++) {
                for (int i = 0; i < n; i++) {
                    all[f][i] = be.tensor(SHAPES[i]);
                    be.write(all[f][i], init[f][i]);
                }
            }
            return grp;
        }
    }

    private static float[] random(Random rnd, int n, double scale, boolean positive) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            double x = scale * rnd.nextGaussian();
            a[i] = (float) (positive ? Math.abs(x) : x);
        }
        return a;
    }

    private static int count(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    private static float[] schedule(double lr, long t) {
        return new float[] {(float) lr, (float) (1 - Math.pow(B1, t)), (float) (1 - Math.pow(B2, t)), 0f, t};
    }

    static void check(GpuBackend gpu) {
        Random rnd = new Random(11);
        int n = SHAPES.length;
        // init[field][tensor]: p, g (rewritten each step), m, v (>= 0), shadow
        float[][][] init = new float[5][n][];
        for (int i = 0; i < n; i++) {
            int c = count(SHAPES[i]);
            init[0][i] = random(rnd, c, 1.0, false);
            init[1][i] = random(rnd, c, 0.1, false);
            init[2][i] = random(rnd, c, 0.01, false);
            init[3][i] = random(rnd, c, 1e-3, true);
            init[4][i] = random(rnd, c, 1.0, false);
        }
        Group multi = Group.on(gpu, init), single = Group.on(gpu, init);
        try (CpuBackend cpu = new CpuBackend()) {
            Group host = Group.on(cpu, init);
            // the weight and its shadow become GEMM weights: bf16 copies the optimizer and the EMA must keep current
            Tensor x = gpu.activation(ROWS, SHAPES[WEIGHT][1]);
            gpu.write(x, random(rnd, ROWS * SHAPES[WEIGHT][1], 1.0, false));
            Tensor yMulti = gpu.activation(ROWS, SHAPES[WEIGHT][0]), ySingle = gpu.activation(ROWS, SHAPES[WEIGHT][0]);
            for (Group grp : new Group[] {multi, single}) {
                gpu.linear(x, grp.p[WEIGHT], null, yMulti);
                gpu.linear(x, grp.shadow[WEIGHT], null, yMulti);
            }
            assertTrue(t(multi.p[WEIGHT]).halfMaintained && t(multi.shadow[WEIGHT]).halfMaintained, "bf16 copies");

            Tensor schedGpu = gpu.tensor(Backend.SCHEDULE_FIELDS), schedCpu = cpu.tensor(Backend.SCHEDULE_FIELDS);
            float[][] grads = new float[n][];
            Runnable multiStep = () -> {
                gpu.adamAtan2All(multi.p, multi.g, multi.m, multi.v, schedGpu, WD, B1, B2);
                gpu.emaAll(multi.shadow, multi.p, RATE);
            };
            Backend.Replay captured = null;
            try {
                for (long t = 1; t <= 6; t++) {
                    float[] row = schedule(1e-2 / t, t);
                    gpu.write(schedGpu, row);
                    cpu.write(schedCpu, row);
                    for (int i = 0; i < n; i++) {
                        grads[i] = random(rnd, count(SHAPES[i]), 0.1, false);
                        gpu.write(multi.g[i], grads[i]);
                        gpu.write(single.g[i], grads[i]);
                        cpu.write(host.g[i], grads[i]);
                    }
                    if (t <= 2) {
                        multiStep.run();  // eager: the first call uploads the tables
                    } else {
                        if (captured == null) captured = gpu.capture(multiStep);
                        captured.replay();
                    }
                    for (int i = 0; i < n; i++) {
                        gpu.adamAtan2(single.p[i], single.g[i], single.m[i], single.v[i], schedGpu, WD, B1, B2);
                        gpu.ema(single.shadow[i], single.p[i], RATE);
                    }
                    // the CPU through the group ops' defaults (the per-tensor loop)
                    cpu.adamAtan2All(host.p, host.g, host.m, host.v, schedCpu, WD, B1, B2);
                    cpu.emaAll(host.shadow, host.p, RATE);
                    assertEquals(2, gpu.groupTableUploads, "one table per group, uploaded once (step " + t + ")");
                }
            } finally {
                if (captured != null) captured.close();
            }
            // new arrays holding the same tensors find the same table
            gpu.emaAll(multi.shadow.clone(), multi.p.clone(), RATE);
            for (int i = 0; i < n; i++) gpu.ema(single.shadow[i], single.p[i], RATE);
            cpu.emaAll(host.shadow, host.p, RATE);
            assertEquals(2, gpu.groupTableUploads, "repeated calls upload nothing");

            Tensor[][] fieldsMulti = {multi.p, multi.m, multi.v, multi.shadow},
                    fieldsSingle = {single.p, single.m, single.v, single.shadow},
                    fieldsHost = {host.p, host.m, host.v, host.shadow};
            String[] names = {"p", "m", "v", "shadow"};
            for (int f = 0; f < names.length; f++) {
                for (int i = 0; i < n; i++) {
                    float[] got = gpu.read(fieldsMulti[f][i]), want = gpu.read(fieldsSingle[f][i]);
                    String what = names[f] + "[" + i + "]";
                    assertArrayEquals(want, got, what + ": one launch vs one launch per tensor, bit for bit");
                    float[] ref = cpu.read(fieldsHost[f][i]);
                    double worst = relErr(got, ref);
                    assertTrue(worst <= 1e-6, what + " vs the CPU backend: relative error " + worst);
                }
            }
            // the bf16 copies: a GEMM reads the same weights after either path
            for (boolean shadow : new boolean[] {false, true}) {
                gpu.linear(x, shadow ? multi.shadow[WEIGHT] : multi.p[WEIGHT], null, yMulti);
                gpu.linear(x, shadow ? single.shadow[WEIGHT] : single.p[WEIGHT], null, ySingle);
                assertArrayEquals(gpu.read(ySingle), gpu.read(yMulti), "linear after the step, shadow " + shadow);
            }
            // and the copies are current: the bf16 copy equals the fp32 weight rounded
            for (Tensor weight : new Tensor[] {multi.p[WEIGHT], multi.shadow[WEIGHT]}) {
                float[] w = gpu.read(weight), half = t(weight).half.downloadBf16();
                for (int i = 0; i < w.length; i++) assertEquals(Bf16.round(w[i]), half[i], "bf16 copy " + i);
            }
        }
    }

    private static GpuTensor t(Tensor x) {
        return (GpuTensor) x;
    }

    /**
     * max |got - ref| / max |ref|: relative to the tensor's scale. Element by element the backends differ by more
     * where a value cancelled to near zero: the GPU kernels form 1 - beta1 and 1 - rate in float from the float
     * betas, the CPU rounds them from double (0.1f vs 0.100000024f), a 1e-7 relative change of the step's increment.
     */
    private static double relErr(float[] got, float[] ref) {
        double scale = 0, worst = 0;
        for (float r : ref) scale = Math.max(scale, Math.abs(r));
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs((double) got[i] - ref[i]);
            worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : Math.max(worst, e);
        }
        return worst / Math.max(scale, 1e-30);
    }
}
