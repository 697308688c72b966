package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Tensor;
import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Backend;
import dev.trm.gpu.Blas;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The token mixer's fused down GEMM + residual + sequence-axis RMSNorm (gemm_mix_norm.cu) against the unfused path it
 * replaces (the cuBLAS strided-batched GEMM into bf16 sub, as GpuBackend.tokenMix, then rmsnorm_seq_forward) and
 * against the double reference (RefOps: the GEMM, then rmsNormSeqForward with the residual), at S 1, 15, 17, 97 and
 * the most it takes (176), D 8, 72 and 512, batches 1 and 3, I off its k-tiles of 32; its shape constraints failing
 * with a clear message; and GpuBackend's per-shape choice (the mechanism of linearSwiglu and tokenMixSwiglu, recorded
 * under its own op, forced by its own property). Kept small: the emulated device runs every WMMA product on every lane.
 */
final class GemmMixNormCheck {
    private GemmMixNormCheck() {}

    static final float EPS = 1e-5f;

    static void check(Backend kind) {
        try (GpuDevice dev = GpuDevice.open(kind)) {
            fusedAgainstUnfused(dev, 1, 1, 8, 8);      // one valid row of one row tile; one k step, half of it past I
            fusedAgainstUnfused(dev, 3, 15, 72, 40);   // under one row tile; 2 column tiles (64 + 8); 2 k-tiles
            fusedAgainstUnfused(dev, 1, 17, 512, 24);  // 2 row tiles, the second 1 row; 8 column tiles
            fusedAgainstUnfused(dev, 3, 97, 72, 56);   // the preset's S: 7 row tiles, w in 2 groups of 64 rows
            fusedAgainstUnfused(dev, 1, GpuKernels.MIX_NORM_MAX_SEQ, 512, 48);  // 11 full row tiles, 3 groups
            fusedAgainstUnfused(dev, 3, GpuKernels.MIX_NORM_MAX_SEQ, 8, 16);
            constraints(dev);
        }
        try (GpuBackend be = GpuBackend.open(kind)) {
            choices(be, kind);
        }
        forcedByItsOwnProperty(kind);
    }

    /** out [B, S, D] and rstd [B, D] in double from the same bf16 inputs: res + w x[b], normed over S. */
    static double[][] reference(float[] w, float[] x, float[] res, int batch, int seq, int d, int inter) {
        double[] wd = KernelSelftest.d(w), xd = KernelSelftest.d(x);
        double[] mix = new double[batch * seq * d], out = new double[mix.length], rstd = new double[batch * d];
        for (int b = 0; b < batch; b++) {
            double[] xb = Arrays.copyOfRange(xd, b * inter * d, (b + 1) * inter * d), mb = new double[seq * d];
            RefOps.gemm(false, false, seq, d, inter, 1.0, wd, inter, xb, d, 0.0, mb, d);
            System.arraycopy(mb, 0, mix, b * seq * d, mb.length);
        }
        RefOps.rmsNormSeqForward(KernelSelftest.d(res), mix, out, rstd, batch, seq, d, EPS);
        return new double[][] {out, rstd};
    }

    /** Random bf16 inputs for a shape: w [S, I] (range 0.3), x [B, I, D], res [B, S, D] (range 1). */
    static float[][] inputs(Random rnd, int batch, int seq, int d, int inter) {
        return new float[][] {GemmSwigluCheck.bf(rnd, seq * inter, 0.3), GemmSwigluCheck.bf(rnd, batch * inter * d, 1.0),
            GemmSwigluCheck.bf(rnd, batch * seq * d, 1.0)};
    }

    static void fusedAgainstUnfused(GpuDevice dev, int batch, int seq, int d, int inter) {
        float[][] in = inputs(new Random(batch * 131L + seq * 31L + d), batch, seq, d, inter);
        float[] w = in[0], x = in[1], res = in[2];
        double[][] ref = reference(w, x, res, batch, seq, d, inter);
        GpuKernels k = new GpuKernels(dev);
        Stream s = dev.defaultStream();
        try (Blas blas = dev.newBlas(s); DeviceBuffer bw = dev.alloc(DType.BF16, w.length).uploadBf16(w);
             DeviceBuffer bx = dev.alloc(DType.BF16, x.length).uploadBf16(x);
             DeviceBuffer bres = dev.alloc(DType.BF16, res.length).uploadBf16(res);
             DeviceBuffer outF = dev.alloc(DType.BF16, res.length); DeviceBuffer rstdF = dev.alloc(DType.F32, batch * d);
             DeviceBuffer sub = dev.alloc(DType.BF16, res.length); DeviceBuffer outU = dev.alloc(DType.BF16, res.length);
             DeviceBuffer rstdU = dev.alloc(DType.F32, batch * d)) {
            k.gemmMixNorm(s, bw, bx, bres, outF, rstdF, batch, seq, d, inter, EPS);
            // as GpuBackend.tokenMix: sub[b] [S, D] = w [S, I] x[b] [I, D], w shared (stride 0); then the norm
            blas.gemmStridedBatched(s, false, false, seq, d, inter, 1f, bw, inter, 0, bx, d, (long) inter * d, 0f, sub,
                    d, (long) seq * d, batch);
            k.rmsNormSeqForward(s, bres, sub, outU, rstdU, batch, seq, d, EPS);
            s.synchronize();
            String shape = "B " + batch + ", S " + seq + ", D " + d + ", I " + inter;
            double errOut = KernelSelftest.err(outF.downloadBf16(), ref[0]);
            double errOutU = KernelSelftest.err(outU.downloadBf16(), ref[0]);
            double errRstd = KernelSelftest.err(rstdF.downloadFloats(), ref[1]);
            double errRstdU = KernelSelftest.err(rstdU.downloadFloats(), ref[1]);
            System.out.printf("[%s] gemm_mix_norm %s: out err %.2e (unfused %.2e), rstd err %.2e (unfused %.2e)%n",
                    dev.backend().label(), shape, errOut, errOutU, errRstd, errRstdU);
            // fused: out rounded once from fp32, rstd from fp32 sums (no bf16 rounding of the GEMM result)
            assertTrue(errOut <= KernelSelftest.TOL_ONE_ROUNDING, shape + ": fused out error " + errOut);
            assertTrue(errRstd <= KernelSelftest.TOL_F32, shape + ": fused rstd error " + errRstd);
            // unfused: sub's rounding (2^-9 of the GEMM result) shows where res and sub cancel, so err, relative down to
            // a hundredth of the tensor's largest element, reaches 0.1 there; held to the tensor's scale instead
            double normOutU = normwise(outU.downloadBf16(), ref[0]), normRstdU = normwise(rstdU.downloadFloats(), ref[1]);
            assertTrue(normOutU <= KernelSelftest.TOL_BF16, shape + ": unfused out error " + normOutU);
            assertTrue(normRstdU <= KernelSelftest.TOL_BF16, shape + ": unfused rstd error " + normRstdU);
            // no less accurate than the path that rounds sub to bf16 first (both within one rounding at S = 1,
            // where out = +-1 within eps, so there the comparison has nothing to measure)
            if (seq > 1) {
                assertTrue(errOut <= errOutU, shape + ": the fused out (" + errOut + ") is less accurate than the"
                        + " unfused one (" + errOutU + ")");
                assertTrue(errRstd <= errRstdU, shape + ": the fused rstd (" + errRstd + ") is less accurate than the"
                        + " unfused one (" + errRstdU + ")");
            }
        }
    }

    /** max |got - ref| / max |ref|: the error at the tensor's scale. */
    static double normwise(float[] got, double[] ref) {
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(got[i] - ref[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxAbs / maxRef;
    }

    static void constraints(GpuDevice dev) {
        GpuKernels k = new GpuKernels(dev);
        try (DeviceBuffer buf = dev.alloc(DType.BF16, 4096); DeviceBuffer f = dev.alloc(DType.F32, 64)) {
            Stream s = dev.defaultStream();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> k.gemmMixNorm(s, buf, buf, buf, buf, f, 1, 177, 8, 8, EPS));
            assertTrue(e.getMessage().contains("gemm_mix_norm: S = 177 exceeds 176"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> k.gemmMixNorm(s, buf, buf, buf, buf, f, 2, 5, 36, 8,
                    EPS));
            assertTrue(e.getMessage().contains("gemm_mix_norm: D = 36 is not a multiple of 8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> k.gemmMixNorm(s, buf, buf, buf, buf, f, 2, 5, 8, 50,
                    EPS));
            assertTrue(e.getMessage().contains("gemm_mix_norm: I = 50 is not a multiple of 8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> k.gemmMixNorm(s, buf, buf, buf, buf, f, 70000, 1, 8,
                    8, EPS));
            assertTrue(e.getMessage().contains("B = 70000 exceeds"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> k.gemmMixNorm(s, buf, buf, buf, buf, f, 1, 0, 8, 8,
                    EPS));
            assertTrue(e.getMessage().contains("empty shape"), e.getMessage());
        }
        assertEquals(null, GpuKernels.gemmMixNormUnsupported(768, 97, 512, 512));  // the preset's training shape
        assertEquals(null, GpuKernels.gemmMixNormUnsupported(65535, 176, 8, 8));
    }

    /**
     * Under auto (the default; skipped when a property forces a path): a shape the kernel takes is fused on the
     * emulated device (untimed; the scratch then never written) and timed on CUDA (both medians positive, the lower
     * one chosen); a shape it cannot take (D = 36) goes to the unfused path with the reason; each choice is recorded
     * as the mix norm's op; a shape first seen while a graph is captured is not timed there (CUDA) and is remembered
     * only where no timing was needed (emulated). Each result matches the double reference.
     */
    static void choices(GpuBackend be, Backend kind) {
        if (!GpuBackend.SwigluOp.MIX_NORM.mode().equals("auto")) return;  // a forced path: nothing to choose
        Random rnd = new Random(5);
        int batch = 2, seq = 13, inter = 24;
        for (int d : new int[] {40, 36}) {
            float[][] in = inputs(rnd, batch, seq, d, inter);
            Tensor tw = be.tensor(seq, inter), tx = be.activation(batch, inter, d), tres = be.activation(batch, seq, d);
            Tensor scratch = be.activation(batch, seq, d), out = be.activation(batch, seq, d), rstd = be.tensor(batch, d);
            be.write(tw, in[0]);
            be.write(tx, in[1]);
            be.write(tres, in[2]);
            float[] poison = new float[batch * seq * d];
            Arrays.fill(poison, Float.NaN);
            be.write(scratch, poison);
            be.tokenMixNorm(tw, tx, tres, scratch, out, rstd, EPS);
            double[][] ref = reference(in[0], in[1], in[2], batch, seq, d, inter);
            double err = normwise(be.read(out), ref[0]), errRstd = normwise(be.read(rstd), ref[1]);  // either path
            assertTrue(err <= KernelSelftest.TOL_BF16, "tokenMixNorm D " + d + ": out error " + err);
            assertTrue(errRstd <= KernelSelftest.TOL_BF16, "tokenMixNorm D " + d + ": rstd error " + errRstd);
            if (kind == Backend.EMULATED && d == 40) {
                assertArrayEquals(poison, be.read(scratch), "the fused path wrote the scratch");
            }
        }
        List<GpuBackend.SwigluChoice> seen = be.swigluChoices();
        seen.forEach(c -> System.out.println("[" + kind.label() + "] " + c));
        assertEquals(2, seen.size(), seen.toString());
        GpuBackend.SwigluChoice ok = seen.get(0), cannot = seen.get(1);
        assertEquals(GpuBackend.SwigluOp.MIX_NORM, ok.op(), ok.toString());
        assertTrue(ok.toString().startsWith("token mixer down + residual + RMSNorm [B 2, S 13, D 40, I 24]: "),
                ok.toString());
        assertFalse(cannot.fused(), cannot.toString());
        assertTrue(cannot.why().contains("gemm_mix_norm cannot take it: D = 36 is not a multiple of 8"),
                cannot.toString());
        if (kind == Backend.EMULATED) {
            assertTrue(ok.fused() && Double.isNaN(ok.fusedMs()), ok.toString());
        } else {
            assertTrue(ok.fusedMs() > 0 && ok.unfusedMs() > 0, ok.toString());
            assertEquals(ok.fusedMs() < ok.unfusedMs(), ok.fused(), ok.toString());
        }
        // a new shape (batch 3) met first inside a capture
        Tensor tw = be.tensor(seq, inter), tx = be.activation(3, inter, 40), tres = be.activation(3, seq, 40);
        Tensor scratch = be.activation(3, seq, 40), out = be.activation(3, seq, 40), rstd = be.tensor(3, 40);
        be.tokenMix(tw, tx, scratch);  // makes w's bf16 copy outside the capture
        try (dev.trm.backend.Backend.Replay r = be.capture(() -> be.tokenMixNorm(tw, tx, tres, scratch, out, rstd,
                EPS))) {
            assertEquals(kind == Backend.EMULATED ? 3 : 2, be.swigluChoices().size(), be.swigluChoices().toString());
        }
    }

    /**
     * -Dtrm.mixnorm.fused=false forces the mix norm's unfused path and says so, while the SwiGLU ops keep their own
     * setting; only when neither property is set (it sets and clears trm.mixnorm.fused itself).
     */
    static void forcedByItsOwnProperty(Backend kind) {
        if (System.getProperty("trm.mixnorm.fused") != null || System.getProperty("trm.swiglu.fused") != null) return;
        System.setProperty("trm.mixnorm.fused", "false");
        try (GpuBackend be = GpuBackend.open(kind)) {
            assertEquals("auto", GpuBackend.SwigluOp.MIX.mode());
            Tensor tw = be.tensor(13, 24), tx = be.activation(2, 24, 40), tres = be.activation(2, 13, 40);
            Tensor scratch = be.activation(2, 13, 40), out = be.activation(2, 13, 40), rstd = be.tensor(2, 40);
            be.tokenMixNorm(tw, tx, tres, scratch, out, rstd, EPS);
            GpuBackend.SwigluChoice c = be.swigluChoices().getFirst();
            assertFalse(c.fused(), c.toString());
            assertEquals("forced (trm.mixnorm.fused=false)", c.why(), c.toString());
        } finally {
            System.clearProperty("trm.mixnorm.fused");
        }
    }
}
