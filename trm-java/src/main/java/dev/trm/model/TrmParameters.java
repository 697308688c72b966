package dev.trm.model;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The weights of a TRM on one backend: the trainable {@link Parameter}s under their official names, and the three
 * buffers that are not trained by Adam (spec 1.2, 1.6): H_init (y0) and L_init (z0) [D], and the puzzle-embedding
 * table [ids, D] (trained by sign-SGD, not counted in num_params).
 */
public final class TrmParameters {

    /** Per block: attention (qkv, o) or token mixer (mixGateUp, mixDown), then the channel SwiGLU (gateUp, down). */
    public record Layer(Parameter qkv, Parameter o, Parameter mixGateUp, Parameter mixDown,
                        Parameter gateUp, Parameter down) {}

    public static final String H_INIT = "H_init";
    public static final String L_INIT = "L_init";
    public static final String EMBED = "embed_tokens.embedding_weight";
    public static final String PUZZLE = "puzzle_emb.weights";
    public static final String LM_HEAD = "lm_head.weight";
    public static final String Q_WEIGHT = "q_head.weight";
    public static final String Q_BIAS = "q_head.bias";

    private final TrmConfig config;
    private final Map<String, Parameter> byName = new LinkedHashMap<>();
    private final Parameter embed, lmHead, qWeight, qBias;
    private final Layer[] layers;
    private final Tensor hInit, lInit, puzzleTable;
    private final boolean ownsBuffers, withGradients;
    private final MemoryUse valuesUse;

    /** Parameters for training: every trainable tensor with its gradient. */
    public TrmParameters(TrmConfig config, Backend backend) {
        this(config, backend, null, true, MemoryUse.PARAMETERS);
    }

    /**
     * Parameters without gradients, for a model that only runs forward (a solver, an evaluation of a checkpoint):
     * half the memory of the trainable tensors. {@link Parameter#grad()} is null and a training step refuses them.
     */
    public static TrmParameters forInference(TrmConfig config, Backend backend) {
        return new TrmParameters(config, backend, null, false, MemoryUse.PARAMETERS);
    }

    /**
     * A second set of trainable parameters, without gradients, that shares {@code buffers}' H_init, L_init and puzzle
     * table (the same tensors, not copies): the EMA copy, which the official code evaluates with the live buffers.
     * For ARC this saves a second 1.7 GiB table. Booked as {@link MemoryUse#EMA}.
     */
    public static TrmParameters sharingBuffers(TrmParameters buffers, Backend backend) {
        return new TrmParameters(buffers.config, backend, buffers, false, MemoryUse.EMA);
    }

    private TrmParameters(TrmConfig config, Backend backend, TrmParameters shared, boolean withGradients,
                          MemoryUse valuesUse) {
        this.config = config;
        this.withGradients = withGradients;
        this.valuesUse = valuesUse;
        int d = config.hiddenSize(), v = config.vocabSize(), s = config.seq();
        int inter = config.intermediate(), mixInter = config.tokenIntermediate();
        ownsBuffers = shared == null;
        try (var use = backend.memory().use(MemoryUse.BUFFERS)) {
            hInit = shared != null ? shared.hInit : backend.tensor(d);
            lInit = shared != null ? shared.lInit : backend.tensor(d);
            puzzleTable = shared != null ? shared.puzzleTable : backend.tensor(config.numPuzzleIds(), d);
        }
        embed = add(backend, EMBED, v, d);
        lmHead = add(backend, LM_HEAD, v, d);
        qWeight = add(backend, Q_WEIGHT, 2, d);
        qBias = add(backend, Q_BIAS, 2);
        layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "L_level.layers." + l + ".";
            Parameter qkv = null, o = null, mixGu = null, mixDown = null;
            if (config.mlpT()) {
                mixGu = add(backend, p + "mlp_t.gate_up_proj.weight", 2 * mixInter, s);
                mixDown = add(backend, p + "mlp_t.down_proj.weight", s, mixInter);
            } else {
                qkv = add(backend, p + "self_attn.qkv_proj.weight", 3 * d, d);
                o = add(backend, p + "self_attn.o_proj.weight", d, d);
            }
            Parameter gu = add(backend, p + "mlp.gate_up_proj.weight", 2 * inter, d);
            Parameter down = add(backend, p + "mlp.down_proj.weight", d, inter);
            layers[l] = new Layer(qkv, o, mixGu, mixDown, gu, down);
        }
    }

    private Parameter add(Backend backend, String name, int... shape) {
        Tensor value, grad = null;
        try (var use = backend.memory().use(valuesUse)) {
            value = backend.tensor(shape);
        }
        if (withGradients) {
            try (var use = backend.memory().use(MemoryUse.GRADIENTS)) {
                grad = backend.tensor(shape);
            }
        }
        Parameter p = new Parameter(name, value, grad);
        byName.put(name, p);
        return p;
    }

    /** Whether every trainable tensor has its gradient (false for {@link #forInference} and the EMA copy). */
    public boolean hasGradients() {
        return withGradients;
    }

    /**
     * The official initialisation (spec 1.8): truncated LeCun normal for every Linear weight (std 1/sqrt(in)), std
     * 1/sqrt(D) for the token embedding, q_head weight 0 and bias -5, puzzle table 0, H_init/L_init std 1.
     */
    public void initialize(Backend backend, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (Parameter p : byName.values()) {
            float[] values = new float[Math.toIntExact(p.value().size())];
            if (p == qBias) {
                java.util.Arrays.fill(values, -5f);
            } else if (p != qWeight) {
                TruncatedNormal.fill(values, 1.0 / Math.sqrt(p.inFeatures()), rng);
            }
            backend.write(p.value(), values);
        }
        // H_init and L_init are created in bf16 by the official code (spec 1.6): draw, then round to bf16 values.
        float[] init = new float[config.hiddenSize()];
        TruncatedNormal.fill(init, 1.0, rng);
        backend.write(hInit, roundToBf16(init));
        TruncatedNormal.fill(init, 1.0, rng);
        backend.write(lInit, roundToBf16(init));
        backend.zero(puzzleTable);
    }

    /** Round to the nearest bf16 value (ties to even), kept in float. */
    static float[] roundToBf16(float[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            int bits = Float.floatToRawIntBits(v[i]);
            bits += 0x7FFF + ((bits >>> 16) & 1);
            out[i] = Float.intBitsToFloat(bits & 0xFFFF0000);
        }
        return out;
    }

    /**
     * Releases every tensor (see {@link Backend#free}): values and gradients, and H_init, L_init and the puzzle table
     * unless they are shared with another set. The parameters must not be used again.
     */
    public void free(Backend backend) {
        for (Parameter p : byName.values()) {
            backend.free(p.value());
            if (p.grad() != null) backend.free(p.grad());
        }
        if (ownsBuffers) {
            backend.free(hInit);
            backend.free(lInit);
            backend.free(puzzleTable);
        }
    }

    public void zeroGrad(Backend backend) {
        requireGradients();
        for (Parameter p : byName.values()) backend.zero(p.grad());
    }

    /** Fails with a clear message on a set made without gradients. */
    public void requireGradients() {
        if (!withGradients) {
            throw new IllegalStateException("these parameters were made without gradients (for inference, or the "
                    + "EMA copy): a training step needs new TrmParameters(config, backend)");
        }
    }

    public TrmConfig config() {
        return config;
    }

    /** Trainable parameters in a fixed order (the official module order). */
    public List<Parameter> parameters() {
        return Collections.unmodifiableList(new ArrayList<>(byName.values()));
    }

    public Parameter get(String name) {
        Parameter p = byName.get(name);
        if (p == null) throw new IllegalArgumentException("no parameter '" + name + "' in this model");
        return p;
    }

    /** Every named tensor, buffers included, as the official state_dict names them (for checkpoints). */
    public Map<String, Tensor> namedTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(H_INIT, hInit);
        m.put(L_INIT, lInit);
        m.put(PUZZLE, puzzleTable);
        for (Parameter p : byName.values()) m.put(p.name(), p.value());
        return m;
    }

    public Parameter embed() { return embed; }
    public Parameter lmHead() { return lmHead; }
    public Parameter qWeight() { return qWeight; }
    public Parameter qBias() { return qBias; }
    public Layer layer(int l) { return layers[l]; }
    public Tensor hInit() { return hInit; }
    public Tensor lInit() { return lInit; }
    public Tensor puzzleTable() { return puzzleTable; }
}
