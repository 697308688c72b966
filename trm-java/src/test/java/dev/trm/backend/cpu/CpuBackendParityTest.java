package dev.trm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Backend;
import dev.trm.backend.IntTensor;
import dev.trm.backend.RopeTables;
import dev.trm.backend.Tensor;
import dev.trm.backend.ref.RefBackend;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Every op of the fp32 CPU backend against the double-precision reference, forward and backward, on random inputs
 * through the {@link Backend} interface, at sizes that exercise the vector loops and their scalar tails (dims that
 * are not multiples of the vector width). Error: max |cpu - ref| / max |ref| per output.
 */
class CpuBackendParityTest {
    private final Random rnd = new Random(3);
    private final CpuBackend cpu = new CpuBackend();
    private final RefBackend ref = new RefBackend();
    private static final double TOL = 2e-5;

    /** The same random values on both backends. */
    private record Pair(Tensor c, Tensor r) {}

    private Pair random(double std, int... shape) {
        Pair p = new Pair(cpu.tensor(shape), ref.tensor(shape));
        float[] v = new float[Math.toIntExact(p.c().size())];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * std);
        cpu.write(p.c(), v);
        ref.write(p.r(), v);
        return p;
    }

    private Pair zeros(int... shape) {
        return new Pair(cpu.tensor(shape), ref.tensor(shape));
    }

    private void expectClose(String what, Pair p) {
        double[] a = cpu.readDouble(p.c()), b = ref.readDouble(p.r());
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(!Double.isNaN(a[i]), what + ": NaN at " + i);
            maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs(b[i]));
        }
        double rel = maxAbs / Math.max(maxRef, 1e-30);
        System.out.printf("%-34s max abs %.2e  rel %.2e%n", what, maxAbs, rel);
        assertTrue(rel < TOL, what + ": relative error " + rel);
    }

    @Test
    void linearAndBackward() {
        Pair x = random(1, 3, 7, 37), w = random(0.2, 19, 37), bias = random(1, 19), y = zeros(3, 7, 19);
        cpu.linear(x.c(), w.c(), bias.c(), y.c());
        ref.linear(x.r(), w.r(), bias.r(), y.r());
        expectClose("linear", y);
        Pair dy = random(1, 3, 7, 19), dx = random(1, 3, 7, 37), dw = random(1, 19, 37), db = random(1, 19);
        cpu.linearBackward(x.c(), w.c(), dy.c(), dx.c(), true, dw.c(), db.c());
        ref.linearBackward(x.r(), w.r(), dy.r(), dx.r(), true, dw.r(), db.r());
        expectClose("linear backward dx (+=)", dx);
        expectClose("linear backward dw (+=)", dw);
        expectClose("linear backward dbias (+=)", db);
    }

    @Test
    void tokenMixAndBackward() {
        Pair w = random(0.3, 23, 11), x = random(1, 2, 11, 21), y = zeros(2, 23, 21);
        cpu.tokenMix(w.c(), x.c(), y.c());
        ref.tokenMix(w.r(), x.r(), y.r());
        expectClose("tokenMix", y);
        Pair dy = random(1, 2, 23, 21), dx = zeros(2, 11, 21), dw = random(1, 23, 11);
        cpu.tokenMixBackward(w.c(), x.c(), dy.c(), dx.c(), false, dw.c());
        ref.tokenMixBackward(w.r(), x.r(), dy.r(), dx.r(), false, dw.r());
        expectClose("tokenMix backward dx", dx);
        expectClose("tokenMix backward dw (+=)", dw);
    }

    @Test
    void rmsNormBothAxesAndBackward() {
        Pair x = random(1, 2, 9, 37), r = random(1, 2, 9, 37), out = zeros(2, 9, 37), rstd = zeros(18);
        cpu.rmsNorm(x.c(), r.c(), out.c(), rstd.c(), 1e-5f);
        ref.rmsNorm(x.r(), r.r(), out.r(), rstd.r(), 1e-5f);
        expectClose("rmsNorm", out);
        expectClose("rmsNorm rstd", rstd);
        Pair g = random(1, 2, 9, 37), dh = zeros(2, 9, 37);
        cpu.rmsNormBackward(out.c(), rstd.c(), g.c(), dh.c());
        ref.rmsNormBackward(out.r(), rstd.r(), g.r(), dh.r());
        expectClose("rmsNorm backward", dh);

        Pair outS = zeros(2, 9, 37), rstdS = zeros(2, 37);
        cpu.rmsNormSeq(x.c(), r.c(), outS.c(), rstdS.c(), 1e-5f);
        ref.rmsNormSeq(x.r(), r.r(), outS.r(), rstdS.r(), 1e-5f);
        expectClose("rmsNormSeq", outS);
        cpu.rmsNormSeqBackward(outS.c(), rstdS.c(), g.c(), dh.c());
        ref.rmsNormSeqBackward(outS.r(), rstdS.r(), g.r(), dh.r());
        expectClose("rmsNormSeq backward", dh);
    }

    @Test
    void swigluAndBackward() {
        Pair gu = random(2, 3, 5, 2 * 29), out = zeros(3, 5, 29);
        cpu.swiglu(gu.c(), out.c(), 29);
        ref.swiglu(gu.r(), out.r(), 29);
        expectClose("swiglu", out);
        Pair dout = random(1, 3, 5, 29), dgu = zeros(3, 5, 58), again = zeros(3, 5, 29);
        cpu.swigluBackward(gu.c(), dout.c(), dgu.c(), again.c(), 29);
        ref.swigluBackward(gu.r(), dout.r(), dgu.r(), again.r(), 29);
        expectClose("swiglu backward", dgu);
        expectClose("swiglu backward's recomputed activation", again);
        // the CPU recomputes exactly what its forward wrote, so a training step's gradients do not move
        assertArrayEquals(cpu.read(out.c()), cpu.read(again.c()), "recomputed activation = forward's, bit for bit");
    }

    /**
     * A down GEMM's and its SwiGLU's backward in place, as TrmNet.blockBackward runs them on one scratch buffer per
     * activation: d a into a's buffer (linearBackward / tokenMixBackward with dw null read x for its shape only), gu's
     * gradient with a recomputed over d a (swigluBackward's out = dout), then the down weight's gradient from it. Each
     * backend must give the same bits as with separate buffers; the sizes split the element loops into several chunks
     * (CpuParallel) with vector tails.
     */
    @Test
    void swigluBackwardInPlaceAsTheNetRunsIt() {
        for (Backend be : new Backend[] {cpu, ref}) {
            // channel MLP: a [B, S, I], w_down [D, I], g [B, S, D], gu [B, S, 2I]
            int b = 2, s = 67, d = 24, inter = 509;
            Tensor gu = filled(be, 2, b, s, 2 * inter), w = filled(be, 0.2, d, inter), g = filled(be, 1, b, s, d);
            Tensor da = be.tensor(b, s, inter), dgu = be.tensor(b, s, 2 * inter), a = be.tensor(b, s, inter);
            Tensor dw = be.tensor(d, inter);
            be.linearBackward(a, w, g, da, false, null, null);
            be.swigluBackward(gu, da, dgu, a, inter);
            be.linearBackward(a, w, g, null, false, dw, null);
            Tensor buf = be.tensor(b, s, inter), dguIn = be.tensor(b, s, 2 * inter), dwIn = be.tensor(d, inter);
            be.swiglu(gu, buf, inter);   // what the forward left there
            be.linearBackward(buf, w, g, buf, false, null, null);
            be.swigluBackward(gu, buf, dguIn, buf, inter);
            be.linearBackward(buf, w, g, null, false, dwIn, null);
            String at = be.name() + " channel MLP in place: ";
            assertArrayEquals(be.readDouble(a), be.readDouble(buf), at + "recomputed a");
            assertArrayEquals(be.readDouble(dgu), be.readDouble(dguIn), at + "d gu");
            assertArrayEquals(be.readDouble(dw), be.readDouble(dwIn), at + "d w_down");

            // token mixer: a1 [B, I_S, D], w_mix_down [S, I_S], g [B, S, D], gu1 [B, 2 I_S, D]; swiglu's inter I_S D
            int mb = 3, ms = 11, mi = 37, md = 300;
            Tensor gu1 = filled(be, 2, mb, 2 * mi, md), w1 = filled(be, 0.3, ms, mi), g1 = filled(be, 1, mb, ms, md);
            Tensor da1 = be.tensor(mb, mi, md), dgu1 = be.tensor(mb, 2 * mi, md), a1 = be.tensor(mb, mi, md);
            Tensor dw1 = be.tensor(ms, mi);
            be.tokenMixBackward(w1, a1, g1, da1, false, null);
            be.swigluBackward(gu1, da1, dgu1, a1, mi * md);
            be.tokenMixBackward(w1, a1, g1, null, false, dw1);
            Tensor buf1 = be.tensor(mb, mi, md), dgu1In = be.tensor(mb, 2 * mi, md), dw1In = be.tensor(ms, mi);
            be.swiglu(gu1, buf1, mi * md);
            be.tokenMixBackward(w1, buf1, g1, buf1, false, null);
            be.swigluBackward(gu1, buf1, dgu1In, buf1, mi * md);
            be.tokenMixBackward(w1, buf1, g1, null, false, dw1In);
            at = be.name() + " token mixer in place: ";
            assertArrayEquals(be.readDouble(a1), be.readDouble(buf1), at + "recomputed a1");
            assertArrayEquals(be.readDouble(dgu1), be.readDouble(dgu1In), at + "d gu1");
            assertArrayEquals(be.readDouble(dw1), be.readDouble(dw1In), at + "d w_mix_down");
        }
    }

    private Tensor filled(Backend be, double std, int... shape) {
        Tensor t = be.tensor(shape);
        float[] v = new float[Math.toIntExact(t.size())];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * std);
        be.write(t, v);
        return t;
    }

    @Test
    void attentionAndBackward() {
        for (int hd : new int[] {8, 64}) {
            int b = 2, s = 37, heads = 3, dim = heads * hd;
            RopeTables rc = cpu.rope(s, hd, 10000), rr = ref.rope(s, hd, 10000);
            Pair qkv = random(1, b, s, 3 * dim), out = zeros(b, s, dim), lse = zeros(b, heads, s);
            cpu.attention(qkv.c(), out.c(), lse.c(), rc);
            ref.attention(qkv.r(), out.r(), lse.r(), rr);
            expectClose("attention hd=" + hd, out);
            expectClose("attention lse hd=" + hd, lse);
            Pair dout = random(1, b, s, dim), dqkv = zeros(b, s, 3 * dim);
            cpu.attentionBackward(qkv.c(), out.c(), lse.c(), dout.c(), dqkv.c(), rc);
            ref.attentionBackward(qkv.r(), out.r(), lse.r(), dout.r(), dqkv.r(), rr);
            expectClose("attention backward hd=" + hd, dqkv);
        }
    }

    @Test
    void lossesAndEmbedding() {
        int b = 3, len = 17, v = 11;
        int[] labels = new int[b * len];
        for (int i = 0; i < labels.length; i++) labels[i] = i % 7 == 0 ? -100 : rnd.nextInt(v);
        IntTensor lc = cpu.intTensor(b, len), lr = ref.intTensor(b, len);
        cpu.writeInts(lc, labels);
        ref.writeInts(lr, labels);
        for (boolean stablemax : new boolean[] {true, false}) {
            Pair logits = random(3, b, len, v), per = zeros(b), dl = zeros(b, len, v);
            IntTensor cc = cpu.intTensor(b), cr = ref.intTensor(b), tc = cpu.intTensor(b), tr = ref.intTensor(b);
            cpu.crossEntropy(logits.c(), lc, stablemax, 0.25, per.c(), cc, tc, dl.c());
            ref.crossEntropy(logits.r(), lr, stablemax, 0.25, per.r(), cr, tr, dl.r());
            org.junit.jupiter.api.Assertions.assertArrayEquals(ref.readInts(tr), cpu.readInts(tc), "tokensCorrect");
            expectClose("crossEntropy loss " + (stablemax ? "stablemax" : "softmax"), per);
            expectClose("crossEntropy dlogits " + (stablemax ? "stablemax" : "softmax"), dl);
            Pair q = random(2, b, 1, 2), loss = zeros(b), dq = zeros(b, 1, 2);
            cpu.haltingBce(q.c(), cc, 0.5, loss.c(), dq.c());
            ref.haltingBce(q.r(), cr, 0.5, loss.r(), dq.r());
            expectClose("haltingBce", loss);
            expectClose("haltingBce dq", dq);
        }
        int prefix = 4, dim = 24;
        int[] tokens = new int[b * len];
        for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(v);
        IntTensor tc = cpu.intTensor(b, len), tr = ref.intTensor(b, len), pc = cpu.intTensor(b), pr = ref.intTensor(b);
        cpu.writeInts(tc, tokens);
        ref.writeInts(tr, tokens);
        cpu.writeInts(pc, new int[] {2, 0, 2});
        ref.writeInts(pr, new int[] {2, 0, 2});
        Pair embed = random(1, v, dim), table = random(1, 3, dim), x = zeros(b, prefix + len, dim);
        float scale = (float) Math.sqrt(dim);
        cpu.embed(tc, pc, embed.c(), table.c(), x.c(), scale);
        ref.embed(tr, pr, embed.r(), table.r(), x.r(), scale);
        expectClose("embedding", x);
        Pair dx = random(1, b, prefix + len, dim), de = random(1, v, dim), dp = zeros(b, dim);
        cpu.embedBackward(tc, dx.c(), de.c(), dp.c(), scale);
        ref.embedBackward(tr, dx.r(), de.r(), dp.r(), scale);
        expectClose("embedding backward (token rows +=)", de);
        expectClose("embedding backward (puzzle slots)", dp);
    }

    @Test
    void badTokenIsOneClearError() {
        IntTensor t = cpu.intTensor(1, 2), p = cpu.intTensor(1);
        cpu.writeInts(t, new int[] {1, 9});
        Tensor x = cpu.tensor(1, 3, 4);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> cpu.embed(t, p, cpu.tensor(5, 4), cpu.tensor(1, 4), x, 2f));
        assertTrue(e.getMessage().contains("token 9") && e.getMessage().contains("position 1"), e.getMessage());
    }
}
