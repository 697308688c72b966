package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Graph;
import dev.trm.gpu.Stream;
import java.util.Random;

/**
 * The optimizer step captured once as a CUDA graph and replayed for steps t = 1..3, with only the device-side
 * schedule (lr, 1 - beta1^t, 1 - beta2^t) rewritten between replays: the reason adam_atan2 reads it from device
 * memory. Checked against RefOps applying the same three steps, on whichever device is given.
 */
final class OptimizerGraphReplay {
    private OptimizerGraphReplay() {}

    static void check(GpuDevice dev) {
        int n = 2000;
        Random rnd = new Random(7);
        float[] p = new float[n], g = new float[n];
        for (int i = 0; i < n; i++) {
            p[i] = (float) rnd.nextGaussian();
            g[i] = (float) (0.1 * rnd.nextGaussian());
        }
        double lr = 1e-3, wd = 0.1, b1 = 0.9, b2 = 0.95, rate = 0.999;
        double[] pr = new double[n], gr = new double[n], mr = new double[n], vr = new double[n], sr = new double[n];
        for (int i = 0; i < n; i++) {
            pr[i] = p[i];
            gr[i] = g[i];
            sr[i] = p[i];
        }
        GpuKernels k = new GpuKernels(dev);
        try (Stream s = dev.newStream(); DeviceBuffer bp = dev.alloc(DType.F32, n).upload(p);
             DeviceBuffer bg = dev.alloc(DType.F32, n).upload(g); DeviceBuffer bm = dev.alloc(DType.F32, n);
             DeviceBuffer bv = dev.alloc(DType.F32, n); DeviceBuffer shadow = dev.alloc(DType.F32, n).upload(p);
             DeviceBuffer sched = dev.alloc(DType.F32, 3)) {
            bm.zero(dev.defaultStream());
            bv.zero(dev.defaultStream());
            dev.synchronize();
            s.beginCapture();
            k.adamAtan2(s, bp, bg, bm, bv, n, sched, (float) wd, (float) b1, (float) b2);
            k.ema(s, shadow, bp, n, (float) rate);
            try (Graph step = s.endCapture()) {
                for (long t = 1; t <= 3; t++) {
                    sched.upload(GpuKernels.adamSchedule(lr, b1, b2, t));  // synchronous: done before the replay
                    step.launch(s);
                    s.synchronize();
                    RefOps.adamAtan2(pr, gr, mr, vr, n, lr, wd, b1, b2, t);
                    RefOps.ema(sr, pr, n, rate);
                }
            }
            float[] gotP = bp.downloadFloats(), gotS = shadow.downloadFloats();
            double worst = Math.max(KernelSelftest.err(gotP, pr), KernelSelftest.err(gotS, sr));
            assertEquals(0.0, worst, KernelSelftest.TOL_F32, "graph-replayed optimizer steps vs RefOps");
            assertArrayEquals(gotP, bp.downloadFloats(), "reading back changed nothing");
        }
    }
}
