package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Bf16;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The attention kernels (kernels/src/main/cuda/attention.cu, attention_tc.cu) against {@link RefOps#attentionForward}
 * and {@link RefOps#attentionBackward} in double, on whichever device is given. Inputs are drawn bf16-exact (and the
 * RoPE tables fp32-exact), so the reference sees the very values the device reads. Backward runs from the device's
 * own out (bf16) and lse, as the backend does, and the reference gets those same values.
 *
 * <p>Error measures: out and each of dq, dk, dv (stored in bf16): max |got - ref| / max |ref| over the tensor, under
 * 1e-2; lse (fp32): max absolute error under 1e-3. Shapes cross the kernels' 32- and 64-row tiles, with and without
 * RoPE. Head size 64 runs both kernel sets as the backend pairs them: the CUDA-core forward and backward (the
 * -Dtrm.attention.tc=false path), and the tensor-core forward (attention_forward_tc) followed by both backwards from
 * its out and lse (attention_backward_tc, and the CUDA-core attention_backward), each against RefOps and the two
 * against each other. Each backward is one launch whose blocks take the dQ role or the dK/dV role; the partial tiles
 * here reach both roles' edges, and delta (computed in each role) enters every gradient, so a role's wrong delta shows
 * as an error. Other head sizes have the CUDA-core kernels only.
 */
final class AttentionKernelCheck {
    private AttentionKernelCheck() {}

    static final double TOL_REL = 1e-2, TOL_LSE = 1e-3;

    /** sd: the standard deviation of q, k and v; a large one makes peaked softmax rows (large score range). */
    record Shape(int batch, int seq, int heads, int headDim, boolean rope, double sd) {
        Shape(int batch, int seq, int heads, int headDim, boolean rope) {
            this(batch, seq, heads, headDim, rope, 1.5);
        }

        @Override
        public String toString() {
            return "B=" + batch + " S=" + seq + " H=" + heads + " hd=" + headDim + (rope ? " rope" : " no-rope")
                    + " sd=" + sd;
        }
    }

    /**
     * The shapes checked: S below, at and past the tiles; hd 8, 10 (not a multiple of 4), 16, 32 and 64 (at 64, S of
     * 1, 37, 97, 130 and 300: one partial tile, several with a partial last one, with and without RoPE). The larger
     * hd = 64 shapes are one batch element: the emulator computes every WMMA tile in each of the 32 lanes, so its
     * tensor-core backward takes ~2 s per (b, h) at S = 300 (the whole check ~30 s on a busy 2-core machine).
     */
    static final List<Shape> SHAPES = List.of(
            new Shape(1, 1, 1, 8, true),
            new Shape(2, 13, 2, 16, true),
            new Shape(2, 13, 2, 16, false),
            new Shape(1, 33, 3, 10, true),
            new Shape(2, 97, 2, 16, true),
            new Shape(1, 97, 1, 16, false),
            new Shape(2, 64, 2, 32, true),
            new Shape(1, 1, 1, 64, true),
            new Shape(2, 37, 2, 64, true),
            new Shape(2, 37, 2, 64, false),
            new Shape(1, 97, 2, 64, true),
            new Shape(1, 97, 2, 64, false),
            new Shape(1, 130, 2, 64, true),
            new Shape(1, 130, 2, 64, false),
            new Shape(1, 130, 2, 64, false, 4.0),
            new Shape(1, 300, 1, 64, true),
            new Shape(1, 300, 1, 64, false));

    /** Relative errors of one backward's dq, dk and dv (the three thirds of dqkv's rows). */
    record Grads(double dq, double dk, double dv) {
        boolean ok() {
            return dq < TOL_REL && dk < TOL_REL && dv < TOL_REL;  // false on NaN
        }

        @Override
        public String toString() {
            return String.format("dq %.2e dk %.2e dv %.2e", dq, dk, dv);
        }
    }

    /**
     * Errors of one shape through one forward kernel: out (relative), lse (absolute), then the CUDA-core backward's
     * and (after the tensor-core forward) the tensor-core backward's gradients against RefOps, and the tensor-core
     * gradients against the CUDA-core ones (tc and tcVsCuda null after the CUDA-core forward).
     */
    record Errors(Shape shape, boolean tensorCores, double out, double lse, Grads cuda, Grads tc, Grads tcVsCuda) {
        boolean ok() {
            return out < TOL_REL && lse < TOL_LSE && cuda.ok() && (tc == null || tc.ok() && tcVsCuda.ok());
        }

        @Override
        public String toString() {
            return String.format("%s, forward %s: out %.2e, lse %.2e; backward vs RefOps: cuda-cores %s%s", shape,
                    tensorCores ? "tensor-cores" : "cuda-cores", out, lse, cuda,
                    tc == null ? "" : ", tensor-cores " + tc + "; tensor-cores vs cuda-cores " + tcVsCuda);
        }
    }

    /** Runs every shape; asserts the tolerances, bitwise-repeatable backwards and the head-size limit. */
    static List<Errors> check(GpuDevice dev) {
        List<Errors> all = new ArrayList<>();
        for (Shape sh : SHAPES) {
            all.add(run(dev, sh, false, new Random(sh.hashCode())));
            if (sh.headDim == 64) all.add(run(dev, sh, true, new Random(sh.hashCode())));
        }
        for (Errors e : all) assertTrue(e.ok(), () -> "attention kernels vs RefOps: " + e + "\nall: " + all);
        GpuKernels k = new GpuKernels(dev);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> k.attentionForward(dev.defaultStream(), null, null, null, null, null, 1, 4, 1, 66));
        assertTrue(e.getMessage().contains("66"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> k.attentionBackward(dev.defaultStream(), null, null, null,
                null, null, null, null, 1, 4, 1, 128));
        return all;
    }

    static Errors run(GpuDevice dev, Shape sh, boolean tensorCores, Random rnd) {
        int b = sh.batch, seq = sh.seq, h = sh.heads, hd = sh.headDim, dim = h * hd;
        float[] qkv = bf(rnd, b * seq * 3 * dim, sh.sd), dout = bf(rnd, b * seq * dim, 1.0);
        float[] cos = null, sin = null;
        if (sh.rope) {
            double[] c = new double[seq * hd], s = new double[seq * hd];
            RefOps.ropeTables(seq, hd, 10000.0, c, s);
            cos = toFloat(c);
            sin = toFloat(s);
        }
        double[] outRef = new double[b * seq * dim], lseRef = new double[b * h * seq];
        RefOps.attentionForward(d(qkv), outRef, lseRef, d(cos), d(sin), b, seq, h, hd);
        GpuKernels k = new GpuKernels(dev);
        Stream st = dev.defaultStream();
        try (DeviceBuffer bq = dev.alloc(DType.BF16, qkv.length).uploadBf16(qkv);
             DeviceBuffer bo = dev.alloc(DType.BF16, outRef.length);
             DeviceBuffer bl = dev.alloc(DType.F32, lseRef.length);
             DeviceBuffer bg = dev.alloc(DType.BF16, dout.length).uploadBf16(dout);
             DeviceBuffer bd = dev.alloc(DType.BF16, qkv.length);
             DeviceBuffer bc = cos == null ? null : dev.alloc(DType.F32, cos.length).upload(cos);
             DeviceBuffer bs = sin == null ? null : dev.alloc(DType.F32, sin.length).upload(sin)) {
            k.attentionForward(st, bq, bo, bl, bc, bs, b, seq, h, hd, tensorCores);
            st.synchronize();
            float[] out = bo.downloadBf16(), lse = bl.downloadFloats();
            if (hd == 64 && tensorCores == GpuKernels.ATT_TENSOR_CORES) {  // the public entry takes this same kernel
                bo.uploadBf16(filled(out.length, Float.NaN));
                k.attentionForward(st, bq, bo, bl, bc, bs, b, seq, h, hd);
                st.synchronize();
                assertArrayEquals(out, bo.downloadBf16(), sh + ": attentionForward dispatches by -Dtrm.attention.tc");
            }
            double[] dqkvRef = new double[qkv.length];
            RefOps.attentionBackward(d(qkv), d(out), d(lse), d(dout), dqkvRef, d(cos), d(sin), b, seq, h, hd);
            float[] cuda = null, tc = null;
            for (boolean tcBackward : tensorCores ? new boolean[] {false, true} : new boolean[] {false}) {
                // over a poisoned output (an element left unwritten stays NaN and fails the error check), then again:
                // the same bits (no atomics). The tensor-core kernels repeat up to S = 37 only (a partial 64-row
                // block, two 32-row tiles; ~10 s of emulation saved on the larger shapes)
                float[] first = null;
                for (int rep = 0; rep < (tcBackward && seq > 37 ? 1 : 2); rep++) {
                    bd.uploadBf16(filled(qkv.length, Float.NaN));
                    k.attentionBackward(st, bq, bo, bl, bg, bd, bc, bs, b, seq, h, hd, tcBackward);
                    st.synchronize();
                    float[] got = bd.downloadBf16();
                    if (first == null) first = got;
                    else assertArrayEquals(first, got, sh + ": a second backward gives the same bits (tc "
                            + tcBackward + ")");
                }
                if (tcBackward) tc = first;
                else cuda = first;
            }
            if (tensorCores && seq <= 37) {  // the public entry takes the backward -Dtrm.attention.tc selects
                k.attentionBackward(st, bq, bo, bl, bg, bd, bc, bs, b, seq, h, hd);
                st.synchronize();
                assertArrayEquals(GpuKernels.ATT_TENSOR_CORES ? tc : cuda, bd.downloadBf16(),
                        sh + ": attentionBackward dispatches by -Dtrm.attention.tc");
            }
            return new Errors(sh, tensorCores, relErr(out, outRef), absErr(lse, lseRef), grads(cuda, dqkvRef, dim),
                    tc == null ? null : grads(tc, dqkvRef, dim), tc == null ? null : grads(tc, d(cuda), dim));
        }
    }

    /** relErr of dq, dk and dv: columns [0, D), [D, 2D), [2D, 3D) of each [3D] row of dqkv. */
    static Grads grads(float[] got, double[] ref, int dim) {
        double[] e = new double[3];
        for (int part = 0; part < 3; part++) {
            int rows = ref.length / (3 * dim);
            float[] g = new float[rows * dim];
            double[] r = new double[rows * dim];
            for (int row = 0; row < rows; row++) {
                for (int c = 0; c < dim; c++) {
                    g[row * dim + c] = got[row * 3 * dim + part * dim + c];
                    r[row * dim + c] = ref[row * 3 * dim + part * dim + c];
                }
            }
            e[part] = relErr(g, r);
        }
        return new Grads(e[0], e[1], e[2]);
    }

    /** max |got - ref| / max |ref| (max |got - ref| where ref is all zero); NaN if any value is NaN. */
    static double relErr(float[] got, double[] ref) {
        double worst = 0, scale = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Double.isNaN(got[i])) return Double.NaN;
            worst = Math.max(worst, Math.abs(got[i] - ref[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        return scale > 0 ? worst / scale : worst;  // an all-zero reference (S = 1: dq, dk): absolute
    }

    static double absErr(float[] got, double[] ref) {
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Double.isNaN(got[i])) return Double.NaN;
            worst = Math.max(worst, Math.abs(got[i] - ref[i]));
        }
        return worst;
    }

    private static float[] bf(Random rnd, int n, double sd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = Bf16.round((float) (sd * rnd.nextGaussian()));
        return x;
    }

    private static float[] filled(int n, float v) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, v);
        return x;
    }

    private static float[] toFloat(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (float) x[i];
        return f;
    }

    private static double[] d(float[] x) {
        if (x == null) return null;
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; i++) r[i] = x[i];
        return r;
    }
}
