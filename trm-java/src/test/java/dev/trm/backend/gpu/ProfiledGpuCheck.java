package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Backend;
import dev.trm.backend.ProfiledBackend;
import dev.trm.backend.Tensor;
import java.util.Map;

/**
 * The profiler on a GPU backend, whose ops return before their kernels run: times come from CUDA events around each
 * op, the profiled view runs eagerly, and the results are the backend's own. A 64 x 256 x 256 GEMM must take device
 * time; its result must match the same GEMM without the profiler.
 */
final class ProfiledGpuCheck {
    private ProfiledGpuCheck() {}

    static void check(GpuBackend gpu) {
        int m = 64, k = 256, n = 256;
        float[] x = new float[m * k], w = new float[n * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i * 0.37);
        for (int i = 0; i < w.length; i++) w[i] = (float) Math.cos(i * 0.11) * 0.05f;
        Tensor tx = gpu.activation(1, m, k), tw = gpu.tensor(n, k), plain = gpu.activation(1, m, n);
        gpu.write(tx, x);
        gpu.write(tw, w);
        gpu.linear(tx, tw, null, plain);
        float[] expected = gpu.read(plain);

        Backend be;
        try (ProfiledBackend.Profile prof = new ProfiledBackend.Profile()) {
            be = ProfiledBackend.wrap(gpu, prof);
            assertTrue(prof.onDevice(), "a GPU backend is timed by its device clock");
            assertFalse(be.canCapture(), "the profiled view runs eagerly");
            Tensor out = be.activation(1, m, n);
            for (int r = 0; r < 3; r++) be.linear(tx, tw, null, out);
            assertArrayEquals(expected, be.read(out), "the profiled op computes what the backend computes");
            Map<String, double[]> t = prof.totals();
            assertEquals(3, t.get("linear")[1]);
            assertTrue(t.get("linear")[0] > 0, "the GEMMs took device time: " + t.get("linear")[0] + " ms");
            be.free(out);
        }
        // the profile freed its events: the view refuses to make more, which nothing would free
        Backend closedView = be;
        assertThrows(IllegalStateException.class, () -> closedView.zero(plain));
        gpu.free(tx);
        gpu.free(tw);
        gpu.free(plain);
    }
}
