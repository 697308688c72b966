package dev.trm.model;

import dev.trm.backend.Backend;
import dev.trm.backend.Tensor;

/**
 * What one call of the network keeps for its backward: the injected input and, per block, the tensors its
 * backward reads. A block's output is the next block's input, so it is stored once. Shapes for batch B:
 * in, h1, out [B, S, D]; attention: qkv [B, S, 3D], att [B, S, D], lse [B, H, S], rstd1 [B*S];
 * token mixer: gu1 [B, 2*I_S, D], rstd1 [B, D]; channel SwiGLU: gu2 [B, S, 2I], rstd2 [B*S].
 *
 * <p>The SwiGLU outputs (a1 = silu(gate) * up of gu1, a2 of gu2) are not kept: the backward recomputes each from its
 * gu in the pass that takes gu's gradient ({@link Backend#swigluBackward}), into the net's one scratch buffer
 * ({@link TrmNet}). Kept, they were 8.2 GiB of a Sudoku-MLP training step at batch 768 (30% of the n+1 calls' 27.2
 * GiB, a quarter of the step's 31.8 GiB).
 */
public final class NetActivations {

    /** One block's saved tensors; {@code in} is the previous block's out (or the call's injected input). */
    public static final class Block {
        public final Tensor in, qkv, att, lse, gu1, rstd1, h1, gu2, rstd2, out;

        /**
         * Its own intermediates, or (shareFrom non-null) those of shareFrom; its own out, or (out non-null) that one.
         */
        Block(Backend be, TrmConfig c, int batch, Tensor in, Block shareFrom, Tensor out) {
            int s = c.seq(), d = c.hiddenSize(), inter = c.intermediate();
            this.in = in;
            if (shareFrom != null) {
                qkv = shareFrom.qkv;
                att = shareFrom.att;
                lse = shareFrom.lse;
                gu1 = shareFrom.gu1;
                rstd1 = shareFrom.rstd1;
                h1 = shareFrom.h1;
                gu2 = shareFrom.gu2;
                rstd2 = shareFrom.rstd2;
                this.out = out != null ? out : be.activation(batch, s, d);
                return;
            }
            if (c.mlpT()) {
                int mi = c.tokenIntermediate();
                qkv = att = lse = null;
                gu1 = be.activation(batch, 2 * mi, d);
                rstd1 = be.tensor(batch, d);
            } else {
                gu1 = null;
                qkv = be.activation(batch, s, 3 * d);
                att = be.activation(batch, s, d);
                lse = be.tensor(batch, c.numHeads(), s);
                rstd1 = be.tensor(batch * s);
            }
            h1 = be.activation(batch, s, d);
            gu2 = be.activation(batch, s, 2 * inter);
            rstd2 = be.tensor(batch * s);
            this.out = out != null ? out : be.activation(batch, s, d);
        }
    }

    public final Tensor input;
    public final Block[] blocks;
    /**
     * Whether a backward will read these activations (the calls with gradient): when false (the no-grad calls'
     * scratch) gu1 and gu2 are workspace only and the backend may leave them unwritten ({@link Backend#tokenMixSwiglu},
     * {@link Backend#linearSwiglu}).
     */
    public final boolean forBackward;
    /** The no-grad set whose buffers this one uses too (see {@link #withBackwardOver}); null when all are its own. */
    private final NetActivations lender;

    /**
     * A call's activations for batch B. Without backward (forBackward false: the one set the no-grad calls reuse)
     * every block shares the first block's intermediates, since nothing reads them once their block has run; each
     * block keeps its own out, the next block's in. That halves the set at two layers (the SwiGLU gate_up outputs gu1
     * and gu2 are most of it: 3.4 GB of the 5.5 GB a batch-1024 Sudoku-MLP solve held before). With backward each
     * block keeps its own, for its backward.
     */
    public NetActivations(Backend be, TrmConfig c, int batch, boolean forBackward) {
        this.forBackward = forBackward;
        this.lender = null;
        input = be.activation(batch, c.seq(), c.hiddenSize());
        blocks = new Block[c.layers()];
        Tensor in = input;
        for (int l = 0; l < blocks.length; l++) {
            blocks[l] = new Block(be, c, batch, in, forBackward || l == 0 ? null : blocks[0], null);
            in = blocks[l].out;
        }
    }

    private NetActivations(Backend be, TrmConfig c, int batch, NetActivations lender) {
        this.forBackward = true;
        this.lender = lender;
        input = lender.input;
        blocks = new Block[c.layers()];
        Tensor in = input;
        for (int l = 0; l < blocks.length; l++) {
            blocks[l] = new Block(be, c, batch, in, l == 0 ? lender.blocks[0] : null, lender.blocks[l].out);
            in = blocks[l].out;
        }
    }

    /**
     * Activations for a call with backward that use the buffers of noGrad, the no-grad calls' set, wherever its
     * layout has one: the input, each block's out, and block 0's intermediates; blocks 1.. get their own
     * intermediates. For the training step's last call with gradient (the answer update): its activations are written
     * after the step's last no-grad call and read by the backward before the next step's first one, so the two never
     * hold live values at once, and the no-grad set costs a training step no memory of its own (1.5 GiB at Sudoku-MLP
     * batch 768). free() leaves the borrowed buffers to noGrad.
     */
    public static NetActivations withBackwardOver(Backend be, TrmConfig c, int batch, NetActivations noGrad) {
        if (noGrad.forBackward || noGrad.lender != null) {
            throw new IllegalArgumentException("can only borrow from the no-grad calls' own set");
        }
        return new NetActivations(be, c, batch, noGrad);
    }

    /** The network's output [B, S, D]. */
    public Tensor output() {
        return blocks[blocks.length - 1].out;
    }

    /** Releases every tensor (see {@link Backend#free}); the activations must not be used again. */
    public void free(Backend be) {
        java.util.Set<Tensor> freed = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        if (lender != null) freed.addAll(lender.tensors());   // the lender's own: it frees them
        for (Tensor t : tensors()) {
            if (freed.add(t)) be.free(t);   // shared intermediates once
        }
    }

    private java.util.List<Tensor> tensors() {
        java.util.List<Tensor> all = new java.util.ArrayList<>();
        all.add(input);
        for (Block b : blocks) {
            for (Tensor t : new Tensor[] {b.qkv, b.att, b.lse, b.gu1, b.rstd1, b.h1, b.gu2, b.rstd2, b.out}) {
                if (t != null) all.add(t);
            }
        }
        return all;
    }
}
