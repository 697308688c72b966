package dev.trm.train;

import dev.trm.backend.Backend;
import dev.trm.model.Parameter;
import dev.trm.model.TrmParameters;
import java.util.List;

/**
 * The exponential moving average of the trainable parameters (spec 4.4): the shadow starts as a copy of the initial
 * parameters, then shadow = rate shadow + (1 - rate) param after every optimizer step, with no bias correction. It
 * covers nn.Parameters only: the shadow shares the live puzzle table, H_init and L_init (the same tensors), as the
 * official evaluation copy uses the live buffers. The shadow is itself a {@link TrmParameters}, so a model can run on
 * it directly.
 */
public final class Ema {
    private final Backend be;
    private final TrmParameters live, shadow;
    private final double rate;

    public Ema(Backend be, TrmParameters live, double rate) {
        this.be = be;
        this.live = live;
        this.rate = rate;
        this.shadow = TrmParameters.sharingBuffers(live, be);
        List<Parameter> a = live.parameters(), b = shadow.parameters();
        for (int i = 0; i < a.size(); i++) be.copy(a.get(i).value(), b.get(i).value());
    }

    public void update() {
        List<Parameter> a = live.parameters(), b = shadow.parameters();
        for (int i = 0; i < a.size(); i++) be.ema(b.get(i).value(), a.get(i).value(), rate);
    }

    /** The EMA weights with the live buffers (puzzle table, H_init, L_init): what evaluation and checkpoints use. */
    public TrmParameters evalCopy() {
        return shadow;
    }

    public TrmParameters shadow() {
        return shadow;
    }
}
