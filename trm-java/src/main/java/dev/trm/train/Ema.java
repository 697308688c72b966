package dev.trm.train;

import dev.trm.backend.Backend;
import dev.trm.backend.Tensor;
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
    // shadow and live values as arrays for the group op, built once (a GPU backend keys its table on them)
    private final Tensor[] shadowAll, liveAll;

    public Ema(Backend be, TrmParameters live, double rate) {
        this.be = be;
        this.live = live;
        this.rate = rate;
        this.shadow = TrmParameters.sharingBuffers(live, be);
        List<Parameter> a = live.parameters(), b = shadow.parameters();
        for (int i = 0; i < a.size(); i++) be.copy(a.get(i).value(), b.get(i).value());
        shadowAll = new Tensor[a.size()];
        liveAll = new Tensor[a.size()];
        for (int i = 0; i < a.size(); i++) {
            shadowAll[i] = b.get(i).value();
            liveAll[i] = a.get(i).value();
        }
    }

    /** shadow = rate shadow + (1 - rate) param over every parameter, in one group op (one launch on a GPU). */
    public void update() {
        be.emaAll(shadowAll, liveAll, rate);
    }

    /** The EMA weights with the live buffers (puzzle table, H_init, L_init): what evaluation and checkpoints use. */
    public TrmParameters evalCopy() {
        return shadow;
    }

    public TrmParameters shadow() {
        return shadow;
    }
}
