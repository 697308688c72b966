package dev.trm.checkpoint;

import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors a model of a configuration consists of, under their official names (spec 7, without prefix), with their
 * shapes, in the order of {@link TrmParameters#namedTensors()}: what a checkpoint's weights must be, known without
 * allocating a model (an ARC puzzle table is 1.7 GiB).
 */
public final class ModelShapes {
    private ModelShapes() {}

    public static Map<String, int[]> of(TrmConfig c) {
        int d = c.hiddenSize(), v = c.vocabSize(), s = c.seq();
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put(TrmParameters.H_INIT, new int[] {d});
        m.put(TrmParameters.L_INIT, new int[] {d});
        m.put(TrmParameters.PUZZLE, new int[] {c.numPuzzleIds(), d});
        m.put(TrmParameters.EMBED, new int[] {v, d});
        m.put(TrmParameters.LM_HEAD, new int[] {v, d});
        m.put(TrmParameters.Q_WEIGHT, new int[] {2, d});
        m.put(TrmParameters.Q_BIAS, new int[] {2});
        for (int l = 0; l < c.layers(); l++) {
            String p = "L_level.layers." + l + ".";
            if (c.mlpT()) {
                m.put(p + "mlp_t.gate_up_proj.weight", new int[] {2 * c.tokenIntermediate(), s});
                m.put(p + "mlp_t.down_proj.weight", new int[] {s, c.tokenIntermediate()});
            } else {
                m.put(p + "self_attn.qkv_proj.weight", new int[] {3 * d, d});
                m.put(p + "self_attn.o_proj.weight", new int[] {d, d});
            }
            m.put(p + "mlp.gate_up_proj.weight", new int[] {2 * c.intermediate(), d});
            m.put(p + "mlp.down_proj.weight", new int[] {d, c.intermediate()});
        }
        return m;
    }

    public static long elements(int[] shape) {
        long n = 1;
        for (int x : shape) n *= x;
        return n;
    }
}
