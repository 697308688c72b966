package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Backend;
import dev.trm.gpu.Bf16;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** TEMPORARY (removed with the three-launch kernels in the next commit): the one-launch backwards
 * (attention_backward, attention_backward_tc) against the three-launch ones (attention_backward_delta, then _dq and
 * _dkdv or their _tc twins), bit for bit, on AttentionKernelCheck's shapes plus S = 916 and 97 at hd = 64, both
 * kernel sets, each also against RefOps. */
@Tag("emulated")
class AttentionFusedVsOldEmulatedTest {
    @Test
    void fusedBackwardGivesTheOldBits() {
        TestDevices.assumeEmulated();
        try (GpuDevice dev = GpuDevice.open(Backend.EMULATED)) {
            java.util.List<AttentionKernelCheck.Shape> shapes = new java.util.ArrayList<>(AttentionKernelCheck.SHAPES);
            // the spec's longest sequence (maze, ARC: 900 + 16), and Sudoku's 97 at batch 2 with 8 heads
            shapes.add(new AttentionKernelCheck.Shape(1, 916, 1, 64, true));
            shapes.add(new AttentionKernelCheck.Shape(2, 97, 8, 64, true));
            for (AttentionKernelCheck.Shape sh : shapes) {
                for (boolean tc : sh.headDim() == 64 ? new boolean[] {false, true} : new boolean[] {false}) {
                    int diffs = compare(dev, sh, tc);
                    System.out.println("[fused vs old] " + sh + " tc " + tc + ": " + diffs + " differing elements");
                    assertEquals(0, diffs, sh + " tc " + tc);
                }
            }
        }
    }

    static int compare(GpuDevice dev, AttentionKernelCheck.Shape sh, boolean tc) {
        Random rnd = new Random(sh.hashCode());
        int b = sh.batch(), seq = sh.seq(), h = sh.heads(), hd = sh.headDim(), dim = h * hd;
        float[] qkv = bf(rnd, b * seq * 3 * dim, sh.sd()), dout = bf(rnd, b * seq * dim, 1.0);
        float[] cos = null, sin = null;
        if (sh.rope()) {
            double[] c = new double[seq * hd], s = new double[seq * hd];
            RefOps.ropeTables(seq, hd, 10000.0, c, s);
            cos = new float[c.length];
            sin = new float[s.length];
            for (int i = 0; i < c.length; i++) {
                cos[i] = (float) c[i];
                sin[i] = (float) s[i];
            }
        }
        GpuKernels k = new GpuKernels(dev);
        Stream st = dev.defaultStream();
        try (DeviceBuffer bq = dev.alloc(DType.BF16, qkv.length).uploadBf16(qkv);
             DeviceBuffer bo = dev.alloc(DType.BF16, b * seq * dim);
             DeviceBuffer bl = dev.alloc(DType.F32, b * h * seq);
             DeviceBuffer bg = dev.alloc(DType.BF16, dout.length).uploadBf16(dout);
             DeviceBuffer bd = dev.alloc(DType.BF16, qkv.length);
             DeviceBuffer delta = dev.alloc(DType.F32, b * h * seq);
             DeviceBuffer bc = cos == null ? null : dev.alloc(DType.F32, cos.length).upload(cos);
             DeviceBuffer bs = sin == null ? null : dev.alloc(DType.F32, sin.length).upload(sin)) {
            k.attentionForward(st, bq, bo, bl, bc, bs, b, seq, h, hd, tc);
            st.synchronize();
            k.attentionBackwardOld(st, bq, bo, bl, bg, bd, delta, bc, bs, b, seq, h, hd, tc);
            st.synchronize();
            float[] old = bd.downloadBf16();
            float[] nan = new float[qkv.length];
            java.util.Arrays.fill(nan, Float.NaN);
            bd.uploadBf16(nan);
            k.attentionBackward(st, bq, bo, bl, bg, bd, bc, bs, b, seq, h, hd, tc);
            st.synchronize();
            float[] got = bd.downloadBf16();
            double[] ref = new double[qkv.length];
            float[] o = bo.downloadBf16(), l = bl.downloadFloats();
            RefOps.attentionBackward(d(qkv), d(o), d(l), d(dout), ref, d(cos), d(sin), b, seq, h, hd);
            System.out.println("  old vs ref " + AttentionKernelCheck.grads(old, ref, dim) + "; new vs ref "
                    + AttentionKernelCheck.grads(got, ref, dim));
            int diffs = 0;
            int[] per = new int[3];
            double worst = 0;
            for (int i = 0; i < got.length; i++) {
                if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(old[i])) {
                    diffs++;
                    per[(i % (3 * dim)) / dim]++;
                    worst = Math.max(worst, Math.abs(got[i] - old[i]));
                    if (diffs < 5) System.out.println("  at " + i + " (row " + i / (3 * dim) + ", col " + i % (3 * dim) + "): old " + old[i] + " new " + got[i]);
                }
            }
            if (diffs > 0) System.out.println("  dq/dk/dv differing: " + java.util.Arrays.toString(per) + ", worst " + worst);
            return diffs;
        }
    }

    private static double[] d(float[] x) {
        if (x == null) return null;
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; i++) r[i] = x[i];
        return r;
    }

    private static float[] bf(Random rnd, int n, double sd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = Bf16.round((float) (sd * rnd.nextGaussian()));
        return x;
    }
}
