package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.IntTensor;
import dev.trm.backend.Tensor;
import dev.trm.gpu.Backend;
import dev.trm.gpu.Bf16;
import java.util.Arrays;
import java.util.Random;

/**
 * The q head and its halting loss on the GPU backend (q_head.cu: {@link GpuBackend#qHead}, {@link
 * GpuBackend#haltingBceBackward}, one launch each) against the CPU backend's default composition (sliceSeq + linear;
 * haltingBce + linearBackward + sliceSeqBackward) at batch 1, 3 and 37 by D 8, 64 and 512 ({@link GpuOpsParity#qHead});
 * then that the GPU reads y in place (the workspace y0, dy0 stays as it was: NaN) and that the backward's sums come
 * out the same bits run after run (a fixed-order reduction, no float atomics). Run by {@link QHeadEmulatedTest} and
 * {@link QHeadCudaTest}.
 */
final class QHeadCheck {
    private QHeadCheck() {}

    static void check(Backend kind) {
        try (GpuBackend gpu = GpuBackend.open(kind)) {
            GpuOpsParity parity = new GpuOpsParity(gpu);
            for (int b : new int[] {1, 3, 37}) {
                for (int d : new int[] {8, 64, 512}) parity.qHead(b, b == 3 ? 1 : 16, 5, d);
            }
            inPlaceAndDeterministic(gpu, 37, 97, 520);
        }
    }

    private static void inPlaceAndDeterministic(GpuBackend gpu, int batch, int seq, int dim) {
        Random rnd = new Random(11);
        Tensor y = gpu.activation(batch, seq, dim), w = gpu.tensor(2, dim), bias = gpu.tensor(2);
        gpu.write(y, bf(rnd, batch * seq * dim, 1));
        gpu.write(w, bf(rnd, 2 * dim, 0.3));
        gpu.write(bias, bf(rnd, 2, 1));
        Tensor y0 = gpu.activation(batch, 1, dim), dy0 = gpu.activation(batch, 1, dim), q = gpu.tensor(batch, 1, 2);
        float[] nan = new float[batch * dim];
        Arrays.fill(nan, Float.NaN);
        gpu.write(y0, nan);
        gpu.write(dy0, nan);
        gpu.qHead(y, w, bias, y0, q);
        IntTensor target = gpu.intTensor(batch);
        int[] t = new int[batch];
        for (int i = 0; i < batch; i++) t[i] = rnd.nextInt(2);
        gpu.writeInts(target, t);
        float[] g0 = bf(rnd, batch * seq * dim, 0.02), dw0 = bf(rnd, 2 * dim, 0.1);
        float[][] first = null;
        for (int run = 0; run < 3; run++) {
            Tensor loss = gpu.tensor(batch), dq = gpu.tensor(batch, 1, 2), dw = gpu.tensor(2, dim), db = gpu.tensor(2);
            Tensor g = gpu.activation(batch, seq, dim);
            gpu.write(g, g0);
            gpu.write(dw, dw0);
            gpu.haltingBceBackward(q, target, 1.0 / batch, loss, dq, y, w, dw, db, g, y0, dy0);
            float[][] got = {gpu.read(loss), gpu.read(dq), gpu.read(dw), gpu.read(db), gpu.read(g)};
            if (first == null) first = got;
            for (int i = 0; i < got.length; i++) {
                assertArrayEquals(first[i], got[i], "output " + i + " of haltingBceBackward differs in run " + run);
            }
            for (Tensor x : new Tensor[] {loss, dq, dw, db, g}) gpu.free(x);
        }
        for (Tensor x : new Tensor[] {y0, dy0}) {
            for (float v : gpu.read(x)) assertTrue(Float.isNaN(v), "the GPU's q head wrote its workspace y0 / dy0");
        }
        for (Tensor x : new Tensor[] {y, w, bias, y0, dy0, q}) gpu.free(x);
        gpu.free(target);
    }

    private static float[] bf(Random rnd, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = Bf16.round((float) (rnd.nextGaussian() * std));
        return v;
    }
}
