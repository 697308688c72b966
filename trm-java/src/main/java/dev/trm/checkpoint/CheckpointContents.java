package dev.trm.checkpoint;

import dev.trm.data.TaskKind;
import dev.trm.io.TensorData;
import dev.trm.model.TrmConfig;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything one checkpoint file holds. Arrays are referenced, not copied.
 *
 * <p>The trainer writes two files with it: {@code model.safetensors} with {@code weights} = the EMA weights (as the
 * official code saves them; the raw weights may go in {@code extras}, e.g. under {@code "raw."} + name), and
 * {@code train_state.safetensors} with empty {@code weights} and the resume state in {@code extras} (optimizer moments
 * as F32, e.g. {@code "adam.m."} + name, RNG state and counters as I64).
 *
 * @param config the architecture; stored in the metadata as JSON (every field)
 * @param task what the model was trained on, or null when unknown (then checks against data skip the task)
 * @param step optimizer steps taken
 * @param dataFingerprint the training data's fingerprint as the trainer passes it ({@code DatasetMetadata#fingerprint}),
 *     or "" when unknown
 * @param weights the model under its official names (see {@link ModelShapes}), fp32; either every tensor of the model
 *     or none
 * @param extras any other named tensors, with the dtype each is stored as; names must not collide with weights
 * @param metadata free-form string metadata; the keys {@link Checkpoint} reserves are refused
 */
public record CheckpointContents(TrmConfig config, TaskKind task, long step, String dataFingerprint,
        Map<String, float[]> weights, Map<String, TensorData> extras, Map<String, String> metadata) {

    public CheckpointContents {
        if (config == null) throw new IllegalArgumentException("a checkpoint needs its config");
        dataFingerprint = dataFingerprint == null ? "" : dataFingerprint;
        weights = Collections.unmodifiableMap(new LinkedHashMap<>(weights == null ? Map.of() : weights));
        extras = Collections.unmodifiableMap(new LinkedHashMap<>(extras == null ? Map.of() : extras));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata == null ? Map.of() : metadata));
    }

    /** Model weights only: what inference needs. */
    public static CheckpointContents ofWeights(TrmConfig config, TaskKind task, long step, String dataFingerprint,
            Map<String, float[]> weights) {
        return new CheckpointContents(config, task, step, dataFingerprint, weights, Map.of(), Map.of());
    }

    public boolean hasWeights() {
        return !weights.isEmpty();
    }
}
