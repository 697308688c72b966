package dev.trm.model;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.RopeTables;
import dev.trm.backend.Tensor;

/**
 * The one network of TRM (spec 1.4, 1.5): {@code net(hidden, injection) = blocks(hidden + injection)}, two post-norm
 * blocks without biases or norm weights. Attention block: h1 = norm(h + o(attn(qkv(h)))), out = norm(h1 +
 * down(swiglu(gate_up(h1)))). Token-mixer block (mlp_t): the first sublayer is a SwiGLU over the sequence axis,
 * written as left multiplies (gu[b] = W_gu [2I_S, S] h[b] [S, D]) so that nothing is transposed, and its norm runs
 * over the sequence axis.
 *
 * <p>Backward runs in place on one gradient buffer [B, S, D]: on entry it holds d out, on exit d (hidden +
 * injection). Scratch buffers are sized once per batch.
 *
 * <p>The SwiGLU outputs a1 [B, I_S, D] and a2 [B, S, I] live in one scratch buffer each, shared by every call and
 * block: the forward writes them for the down GEMM right after, and the backward recomputes them from the saved gate_up
 * outputs (gu1, gu2) in the same kernel that takes gu's gradient, just before the down weight's gradient reads them.
 * That keeps (n+1) x layers x (a1 + a2) out of a training step's memory for one more write per element of a. The
 * gradient d a shares a's buffer: the SwiGLU backward reads each element of d a before it writes a's there.
 */
public final class TrmNet {
    private final TrmConfig c;
    private final Backend be;
    private final TrmParameters p;
    private final RopeTables rope;
    private final float eps;
    // scratch for one batch size: sublayer outputs before their residual norm; backward intermediates, made on the
    // first backward (an inference-only net never needs them)
    private final int batch;
    private final Tensor sub, a1, a2;   // a1 only for the token mixer
    private Tensor dAtt, dQkv, dGu1, dGu2;

    public TrmNet(TrmConfig c, Backend be, TrmParameters p, RopeTables rope, int batch) {
        this.c = c;
        this.be = be;
        this.p = p;
        this.rope = rope;
        this.eps = (float) c.rmsNormEps();
        this.batch = batch;
        sub = be.activation(batch, c.seq(), c.hiddenSize());
        a1 = c.mlpT() ? be.activation(batch, c.tokenIntermediate(), c.hiddenSize()) : null;
        a2 = be.activation(batch, c.seq(), c.intermediate());
    }

    private void allocateBackward() {
        try (var use = be.memory().use(MemoryUse.BACKWARD_WORKSPACE)) {
            allocateBackwardBuffers();
        }
    }

    private void allocateBackwardBuffers() {
        int s = c.seq(), d = c.hiddenSize(), inter = c.intermediate();
        if (c.mlpT()) {
            int mi = c.tokenIntermediate();
            dAtt = dQkv = null;
            dGu1 = be.activation(batch, 2 * mi, d);
        } else {
            dGu1 = null;
            dAtt = be.activation(batch, s, d);
            dQkv = be.activation(batch, s, 3 * d);
        }
        dGu2 = be.activation(batch, s, 2 * inter);
    }

    /** acts.output() = net(hidden + inj1 (+ inj2)). inj2 may be null (the answer update has no x). */
    public Tensor forward(Tensor hidden, Tensor inj1, Tensor inj2, NetActivations acts) {
        be.add(hidden, inj1, inj2, acts.input);
        return forwardInjected(acts, null, null, null, null);
    }

    /**
     * The net on acts.input, which already holds the injected input (the previous call wrote it). The output goes to
     * out (acts.output() when out is null; a call without backward may write straight into the carry). When next is
     * non-null the last norm also writes next = output + nextA (+ nextB): the following call's injected input, in
     * the same pass over memory.
     */
    public Tensor forwardInjected(NetActivations acts, Tensor out, Tensor nextA, Tensor nextB, Tensor next) {
        int last = acts.blocks.length - 1;
        for (int l = 0; l < last; l++) blockForward(acts, p.layer(l), acts.blocks[l], null, null, null, null);
        return blockForward(acts, p.layer(last), acts.blocks[last], out, nextA, nextB, next);
    }

    private Tensor blockForward(NetActivations acts, TrmParameters.Layer w, NetActivations.Block a, Tensor out,
                                Tensor nextA, Tensor nextB, Tensor next) {
        if (c.mlpT()) {
            // gu1 [B, 2I_S, D] (gate block | up block per batch row), a1 [B, I_S, D]; gu1 only when training needs it
            be.tokenMixSwiglu(w.mixGateUp().value(), a.in, a.gu1, acts.forBackward, a1, c.tokenIntermediate());
            // h1 = norm over S of (in + w_down a1), rstd1 [B, D]; sub [B, S, D] is workspace (a fused kernel skips it)
            be.tokenMixNorm(w.mixDown().value(), a1, a.in, sub, a.h1, a.rstd1, eps);
        } else {
            be.linear(a.in, w.qkv().value(), null, a.qkv);
            be.attention(a.qkv, a.att, a.lse, rope);
            be.linear(a.att, w.o().value(), null, sub);
            be.rmsNorm(a.in, sub, a.h1, a.rstd1, eps);
        }
        // gu2 is read again only by the backward: a no-grad call lets the backend skip storing it (fused kernel)
        be.linearSwiglu(a.h1, w.gateUp().value(), a.gu2, acts.forBackward, a2, c.intermediate());
        be.linear(a2, w.down().value(), null, sub);
        Tensor o = out != null ? out : a.out;
        if (next != null) be.rmsNormInject(a.h1, sub, o, a.rstd2, eps, nextA, nextB, next);
        else be.rmsNorm(a.h1, sub, o, a.rstd2, eps);
        return o;
    }

    /** In place: g holds d output on entry and d (hidden + injection) on exit. Weight gradients accumulate. */
    public void backward(NetActivations acts, Tensor g) {
        if (!acts.forBackward) throw new IllegalArgumentException("these activations were made for no-grad calls");
        if (dGu2 == null) allocateBackward();
        for (int l = acts.blocks.length - 1; l >= 0; l--) blockBackward(p.layer(l), acts.blocks[l], g);
    }

    private void blockBackward(TrmParameters.Layer w, NetActivations.Block a, Tensor g) {
        be.rmsNormBackward(a.out, a.rstd2, g, g);                                   // g = d(h1 + down)
        // d a2 = g W_down into a2's buffer; then gu2's gradient, recomputing a2 from gu2 over d a2 (element by element,
        // each read before it is overwritten); then W_down's gradient g^T a2
        be.linearBackward(a2, w.down().value(), g, a2, false, null, null);
        be.swigluBackward(a.gu2, a2, dGu2, a2, c.intermediate());
        be.linearBackward(a2, w.down().value(), g, null, false, w.down().grad(), null);
        be.linearBackward(a.h1, w.gateUp().value(), dGu2, g, true, w.gateUp().grad(), null); // g = d h1
        if (c.mlpT()) {
            be.rmsNormSeqBackward(a.h1, a.rstd1, g, g);                              // g = d(in + mix)
            // the same order for the token mixer's SwiGLU: d a1, then gu1's gradient with a1 recomputed, then d W_down
            be.tokenMixBackward(w.mixDown().value(), a1, g, a1, false, null);
            be.swigluBackward(a.gu1, a1, dGu1, a1, c.tokenIntermediate() * c.hiddenSize());
            be.tokenMixBackward(w.mixDown().value(), a1, g, null, false, w.mixDown().grad());
            be.tokenMixBackward(w.mixGateUp().value(), a.in, dGu1, g, true, w.mixGateUp().grad()); // g = d in
        } else {
            be.rmsNormBackward(a.h1, a.rstd1, g, g);                                 // g = d(in + o)
            be.linearBackward(a.att, w.o().value(), g, dAtt, false, w.o().grad(), null);
            be.attentionBackward(a.qkv, a.att, a.lse, dAtt, dQkv, rope);
            be.linearBackward(a.in, w.qkv().value(), dQkv, g, true, w.qkv().grad(), null); // g = d in
        }
    }

    /** Releases the scratch buffers (see {@link Backend#free}); the net must not be used again. */
    public void free() {
        for (Tensor t : new Tensor[] {sub, a1, a2, dAtt, dQkv, dGu1, dGu2}) {
            if (t != null) be.free(t);
        }
    }
}
