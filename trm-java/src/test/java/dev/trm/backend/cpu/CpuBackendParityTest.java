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
