package dev.trm.golden;

import dev.trm.backend.Backend;
import dev.trm.backend.Tensor;
import dev.trm.data.Json;
import dev.trm.io.SafeTensors;
import dev.trm.model.Parameter;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reading the golden files written by the team's independent PyTorch reference ({@code tools/reference/}), and the
 * comparison they are checked with: per tensor, the max abs error and the max-norm relative error
 * max|java - torch| / max|torch|.
 */
final class Golden {
    private Golden() {}

    static Path file(String name) {
        try {
            return Path.of(Golden.class.getResource("/golden/" + name + ".safetensors").toURI());
        } catch (Exception e) {
            throw new IllegalStateException("golden file " + name + " missing from test resources", e);
        }
    }

    static TrmConfig config(SafeTensors f) {
        Map<String, Object> m = Json.asObject(Json.parse(f.metadata().get("config")), "config");
        return new TrmConfig(
                (int) Json.asDouble(m.get("vocab_size"), "vocab_size"),
                (int) Json.asDouble(m.get("seq_len"), "seq_len"),
                (int) Json.asDouble(m.get("hidden_size"), "hidden_size"),
                (int) Json.asDouble(m.get("num_heads"), "num_heads"),
                (int) Json.asDouble(m.get("expansion"), "expansion"),
                (int) Json.asDouble(m.get("layers"), "layers"),
                (int) Json.asDouble(m.get("h_cycles"), "h_cycles"),
                (int) Json.asDouble(m.get("l_cycles"), "l_cycles"),
                (Boolean) m.get("mlp_t"),
                (Boolean) m.get("rope"),
                Json.asDouble(m.get("rope_theta"), "rope_theta"),
                Json.asDouble(m.get("rms_norm_eps"), "rms_norm_eps"),
                (int) Json.asDouble(m.get("puzzle_emb_len"), "puzzle_emb_len"),
                (int) Json.asDouble(m.get("num_puzzle_ids"), "num_puzzle_ids"),
                16, 0.1,
                "softmax".equals(m.get("loss")) ? TrmConfig.LossType.SOFTMAX : TrmConfig.LossType.STABLEMAX);
    }

    static int batch(SafeTensors f) {
        return (int) Json.asLong(Json.asObject(Json.parse(f.metadata().get("config")), "config").get("batch"), "batch");
    }

    /**
     * The full-size cases' weights: tensor k in the official order, element i: u = ((i * 2654435761 + (k + 1) *
     * 97531) mod 2^32) / 2^32, value = float(std sqrt(3) (2u - 1)); q_head.bias = -5 (takes no k).
     */
    static void formulaWeights(TrmConfig c, Backend be, TrmParameters p) {
        List<String> order = new ArrayList<>(List.of(TrmParameters.H_INIT, TrmParameters.L_INIT, TrmParameters.EMBED,
                TrmParameters.PUZZLE, TrmParameters.LM_HEAD, TrmParameters.Q_WEIGHT));
        for (int l = 0; l < c.layers(); l++) {
            String pre = "L_level.layers." + l + ".";
            if (c.mlpT()) {
                order.add(pre + "mlp_t.gate_up_proj.weight");
                order.add(pre + "mlp_t.down_proj.weight");
            } else {
                order.add(pre + "self_attn.qkv_proj.weight");
                order.add(pre + "self_attn.o_proj.weight");
            }
            order.add(pre + "mlp.gate_up_proj.weight");
            order.add(pre + "mlp.down_proj.weight");
        }
        Map<String, Tensor> named = p.namedTensors();
        for (int k = 0; k < order.size(); k++) {
            String name = order.get(k);
            Tensor t = named.get(name);
            double std = name.equals(TrmParameters.H_INIT) || name.equals(TrmParameters.L_INIT) ? 1.0
                    : 1.0 / Math.sqrt(t.dim(-1));
            float[] v = new float[Math.toIntExact(t.size())];
            for (int i = 0; i < v.length; i++) {
                long u = ((long) i * 2654435761L + (long) (k + 1) * 97531L) & 0xffffffffL;
                v[i] = (float) (std * Math.sqrt(3) * (2.0 * (u / 4294967296.0) - 1));
            }
            be.write(t, v);
        }
        be.write(p.qBias().value(), new float[] {-5f, -5f});
    }

    /** Loads every weight and buffer stored in the file under its official name. */
    static void loadWeights(SafeTensors f, Backend be, TrmParameters p) {
        for (Map.Entry<String, Tensor> e : p.namedTensors().entrySet()) be.write(e.getValue(), f.floats(e.getKey()));
    }

    /** Max-norm relative error of actual vs expected, and the max abs error. */
    record Error(double maxAbs, double rel) {
        static Error of(double[] actual, double[] expected) {
            if (actual.length != expected.length) {
                throw new AssertionError("length " + actual.length + " vs expected " + expected.length);
            }
            double maxAbs = 0, maxRef = 0;
            for (int i = 0; i < actual.length; i++) {
                if (Double.isNaN(actual[i])) return new Error(Double.NaN, Double.NaN);
                maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected[i]));
                maxRef = Math.max(maxRef, Math.abs(expected[i]));
            }
            return new Error(maxAbs, maxRef == 0 ? maxAbs : maxAbs / maxRef);
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static double norm(double[] v) {
        double s = 0;
        for (double x : v) s += x * x;
        return Math.sqrt(s);
    }

    /** The per-slot puzzle gradient [B, D] scattered into a full-table gradient [ids, D]. */
    static double[] puzzleTableGrad(double[] slots, int[] ids, int numIds, int dim) {
        double[] g = new double[numIds * dim];
        for (int b = 0; b < ids.length; b++) for (int j = 0; j < dim; j++) g[ids[b] * dim + j] += slots[b * dim + j];
        return g;
    }

    static Parameter param(TrmParameters p, String name) {
        return p.get(name);
    }
}
