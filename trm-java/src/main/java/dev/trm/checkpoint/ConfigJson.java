package dev.trm.checkpoint;

import dev.trm.data.DataException;
import dev.trm.data.Json;
import dev.trm.model.TrmConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@link TrmConfig} as the JSON string a checkpoint's metadata keeps, every field, under the official config names
 * where the official code has one ({@code L_layers}, {@code H_cycles}, {@code L_cycles}, {@code pos_encodings},
 * {@code loss_type}), so a PyTorch user reading the metadata recognises them.
 */
public final class ConfigJson {
    private ConfigJson() {}

    public static String write(TrmConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vocab_size", c.vocabSize());
        m.put("seq_len", c.seqLen());
        m.put("hidden_size", c.hiddenSize());
        m.put("num_heads", c.numHeads());
        m.put("expansion", c.expansion());
        m.put("L_layers", c.layers());
        m.put("H_cycles", c.hCycles());
        m.put("L_cycles", c.lCycles());
        m.put("mlp_t", c.mlpT());
        m.put("pos_encodings", c.rope() ? "rope" : "none");
        m.put("rope_theta", c.ropeTheta());
        m.put("rms_norm_eps", c.rmsNormEps());
        m.put("puzzle_emb_len", c.puzzleEmbLen());
        m.put("num_puzzle_identifiers", c.numPuzzleIds());
        m.put("halt_max_steps", c.haltMaxSteps());
        m.put("halt_exploration_prob", c.haltExplorationProb());
        m.put("loss_type", c.loss() == TrmConfig.LossType.STABLEMAX ? "stablemax_cross_entropy" : "softmax_cross_entropy");
        return Json.write(m);
    }

    /** Parses what {@link #write} wrote; a missing or bad field is named, prefixed by {@code where}. */
    public static TrmConfig read(String json, String where) {
        Map<String, Object> m = Json.asObject(Json.parse(json), where);
        String pos = string(m, "pos_encodings", where);
        if (!pos.equals("rope") && !pos.equals("none")) throw new DataException(where + ": pos_encodings '" + pos + "' (rope or none)");
        String loss = string(m, "loss_type", where);
        TrmConfig.LossType lossType = switch (loss) {
            case "stablemax_cross_entropy" -> TrmConfig.LossType.STABLEMAX;
            case "softmax_cross_entropy" -> TrmConfig.LossType.SOFTMAX;
            default -> throw new DataException(where + ": loss_type '" + loss + "'");
        };
        Object mlpT = Json.field(m, "mlp_t", where);
        if (!(mlpT instanceof Boolean)) throw new DataException(where + ": mlp_t must be true or false");
        try {
            return new TrmConfig(integer(m, "vocab_size", where), integer(m, "seq_len", where), integer(m, "hidden_size", where),
                    integer(m, "num_heads", where), integer(m, "expansion", where), integer(m, "L_layers", where),
                    integer(m, "H_cycles", where), integer(m, "L_cycles", where), (Boolean) mlpT, pos.equals("rope"),
                    Json.asDouble(Json.field(m, "rope_theta", where), where + " rope_theta"),
                    Json.asDouble(Json.field(m, "rms_norm_eps", where), where + " rms_norm_eps"),
                    integer(m, "puzzle_emb_len", where), integer(m, "num_puzzle_identifiers", where),
                    integer(m, "halt_max_steps", where),
                    Json.asDouble(Json.field(m, "halt_exploration_prob", where), where + " halt_exploration_prob"), lossType);
        } catch (IllegalArgumentException e) {
            throw new DataException(where + ": " + e.getMessage());
        }
    }

    private static int integer(Map<String, Object> m, String key, String where) {
        long v = Json.asLong(Json.field(m, key, where), where + " " + key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw new DataException(where + ": " + key + " out of range: " + v);
        return (int) v;
    }

    private static String string(Map<String, Object> m, String key, String where) {
        return Json.asString(Json.field(m, key, where), where + " " + key);
    }
}
