package dev.trm.backend;

/**
 * The op interface of TRM: the model (recursion, heads, losses, backward) is written once over it, and each backend
 * (the double-precision reference, the fp32 CPU backend, the CUDA backend) implements the same ops forward and
 * backward. Ops are already the units a GPU fuses: residual + norm, attention with RoPE, the SwiGLU activation, the
 * token loss with its gradient.
 *
 * <p>Shapes come from the tensors. B = batch, S = sequence with prefix, D = hidden, L = task length, V = vocab.
 * Convention (llm.c): activation gradients are written with {@code =} unless an {@code accumulate} flag says
 * {@code +=}; parameter gradients always accumulate with {@code +=}. In-place use (an output that is also an input)
 * is allowed where a method says so.
 */
public interface Backend extends AutoCloseable {

    /** "reference", "cpu", "cuda" or "emulated": what actually runs. */
    String name();

    // ---- memory ----------------------------------------------------------------------------------------------------

    /**
     * What this backend holds, by use: every tensor it makes is booked under the use current in the ledger
     * ({@link MemoryLedger#use}, set by the tensor's owner) and unbooked by {@link #free}. The memory table.
     */
    MemoryLedger memory();

    /** A zero-filled float tensor. */
    Tensor tensor(int... shape);

    /**
     * A zero-filled tensor of activations or activation gradients (the carry, block inputs and outputs, GEMM
     * results, logits): the backend may store it at reduced precision (bf16 on a GPU, as the official TRM computes).
     * Weights, their gradients, optimizer state, norm and softmax statistics and losses use {@link #tensor}.
     */
    default Tensor activation(int... shape) {
        return tensor(shape);
    }

    /** A zero-filled int tensor. */
    IntTensor intTensor(int... shape);

    /**
     * Releases a tensor's memory now (device memory on a GPU; the CPU backends leave it to the garbage collector).
     * The tensor must not be used again. For buffers of a bounded lifetime (an evaluation's batch and carry).
     */
    default void free(Tensor t) {}

    default void free(IntTensor t) {}

    void write(Tensor dst, float[] src);

    float[] read(Tensor src);

    /** The values at the backend's own precision, widened to double (the reference backend loses nothing). */
    default double[] readDouble(Tensor src) {
        float[] f = read(src);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    void writeInts(IntTensor dst, int[] src);

    int[] readInts(IntTensor src);

    void zero(Tensor t);

    /** dst = src (same size). */
    void copy(Tensor src, Tensor dst);

    /** dst[..., :] = row for every row of dst [..., D]: the carry reset to H_init / L_init. */
    void broadcastRow(Tensor row, Tensor dst);

    /** dst[rows[i], :] = row for each listed slot of dst [B, S, D] (a per-slot carry reset). */
    void broadcastRowToSlots(Tensor row, Tensor dst, int[] slots);

    RopeTables rope(int seq, int headDim, double theta);

    // ---- input embedding (spec 1.2) ------------------------------------------------------------------------------

    /**
     * x [B, S, D] = scale * (puzzle prefix: table[pid] in slot 0, zeros in slots 1..P-1; then embed[tokens]).
     * tokens [B, L]; puzzleIds [B]; embed [V, D]; table [ids, D]; P = S - L.
     */
    void embed(IntTensor tokens, IntTensor puzzleIds, Tensor embed, Tensor table, Tensor x, float scale);

    /**
     * {@link #embed}, then next = a + b + x (all [B, S, D]): the step's first injected input z + y + x, which a GPU
     * writes in the same pass as x (never a separate pass over memory). Here: the two ops.
     */
    default void embedInject(IntTensor tokens, IntTensor puzzleIds, Tensor embed, Tensor table, Tensor x, float scale,
                             Tensor a, Tensor b, Tensor next) {
        embed(tokens, puzzleIds, embed, table, x, scale);
        add(a, b, x, next);
    }

    /** dEmbed [V, D] +=; dPuzzleSlots [B, D] = the gradient of each slot's puzzle row. */
    void embedBackward(IntTensor tokens, Tensor dx, Tensor dEmbed, Tensor dPuzzleSlots, float scale);

    // ---- elementwise ---------------------------------------------------------------------------------------------

    /** out = a + b (+ c when c != null): the input injection. out may alias a. */
    void add(Tensor a, Tensor b, Tensor c, Tensor out);

    /** acc += x. */
    void accumulate(Tensor acc, Tensor x);

    // ---- linear layers ---------------------------------------------------------------------------------------------

    /** y [M, N] = x [M, K] w[N, K]^T (+ bias [N] when non-null); M is every leading axis of x. */
    void linear(Tensor x, Tensor w, Tensor bias, Tensor y);

    /**
     * dx (=, or += when accumulateDx; skipped when null) = dy w; dw (skipped when null) += dy^T x; dbias += column
     * sums of dy. With dw null, x is only read for its shape.
     */
    void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw, Tensor dbias);

    /** The token mixer's left multiply, per batch: y[b] [N, D] = w [N, Sin] x[b] [Sin, D]. */
    void tokenMix(Tensor w, Tensor x, Tensor y);

    /**
     * dx[b] (= or +=; skipped when null) = w^T dy[b]; dw (skipped when null) += sum_b dy[b] x[b]^T. With dw null, x is
     * only read for its shape (the network's backward then passes dx = x).
     */
    void tokenMixBackward(Tensor w, Tensor x, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw);

    // ---- attention ---------------------------------------------------------------------------------------------

    /**
     * Non-causal MHA: qkv [B, S, 3D] (Q | K | V), RoPE on Q and K when rope != null, scale 1/sqrt(hd).
     * out [B, S, D]; lse [B, H, S] saved for backward.
     */
    void attention(Tensor qkv, Tensor out, Tensor lse, RopeTables rope);

    /** dqkv [B, S, 3D] = gradient w.r.t. the un-rotated q, k, v. */
    void attentionBackward(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, RopeTables rope);

    // ---- SwiGLU activation -----------------------------------------------------------------------------------------

    /**
     * out = silu(gate) * up where each row of gu holds (gate | up), each {@code inter} long: the channel MLP has
     * gu [B, S, 2I] and inter = I; the token mixer has gu [B, 2I_S, D] and inter = I_S * D.
     */
    void swiglu(Tensor gu, Tensor out, int inter);

    /**
     * dgu = d(silu(gate) * up) from dout (written with =, same layout as gu). When out is non-null it also receives
     * silu(gate) * up again, exactly what {@link #swiglu} writes from this gu: the backward of the following GEMM
     * needs that activation for its weight gradient, and recomputing it here, in the same pass over gu, means a
     * training step need not keep it from the forward (the network's backward uses it so: {@code TrmNet}). out may be
     * dout itself: each element of dout is read before the same element of out is written.
     */
    void swigluBackward(Tensor gu, Tensor dout, Tensor dgu, Tensor out, int inter);

    /**
     * The channel MLP's first GEMM and its activation: gu [M, 2I] = x [M, D] w [2I, D]^T, h [M, I] = silu(gate) * up
     * ({@link #linear} then {@link #swiglu}, inter = I). gu is always given (the backend's workspace for it); keepGu
     * says whether its values are needed afterwards (training keeps them for {@link #swigluBackward}): when false a
     * backend may leave gu unwritten, as a GPU's fused GEMM + SwiGLU kernel does, never storing it. This default is
     * exactly linear + swiglu, so the CPU backends compute what they always did.
     */
    default void linearSwiglu(Tensor x, Tensor w, Tensor gu, boolean keepGu, Tensor h, int inter) {
        linear(x, w, null, gu);
        swiglu(gu, h, inter);
    }

    /**
     * The token mixer's first GEMM and its activation: gu[b] [2I, D] = w [2I, S] x[b] [S, D] per batch row (gate rows
     * 0..I-1, up rows I..2I-1), out[b] [I, D] = silu(gate) * up ({@link #tokenMix} then {@link #swiglu} with
     * swiglu's inter = I D: per batch row the gate block, then the up block). inter = I = w rows / 2. keepGu as in
     * {@link #linearSwiglu}: when false a backend may leave gu unwritten. This default is exactly tokenMix + swiglu,
     * so the CPU backends compute what they always did.
     */
    default void tokenMixSwiglu(Tensor w, Tensor x, Tensor gu, boolean keepGu, Tensor out, int inter) {
        tokenMix(w, x, gu);
        swiglu(gu, out, inter * x.dim(2));
    }

    /**
     * The token mixer's second GEMM, its residual add and its norm over the sequence: mix[b] [S, D] = w [S, I] x[b]
     * [I, D] per batch row, then out = (residual + mix) * rstd with rstd [B, D] = 1 / sqrt(mean over S of (residual +
     * mix)^2 + eps) ({@link #tokenMix} into scratch, then {@link #rmsNormSeq}(residual, scratch, out, rstd, eps)).
     * scratch [B, S, D] is the backend's workspace for mix: a backend that fuses the three, as a GPU's fused kernel
     * does, may leave it unwritten. out must not alias residual. This default is exactly tokenMix + rmsNormSeq, so the
     * CPU backends compute what they always did.
     */
    default void tokenMixNorm(Tensor w, Tensor x, Tensor residual, Tensor scratch, Tensor out, Tensor rstd, float eps) {
        tokenMix(w, x, scratch);
        rmsNormSeq(residual, scratch, out, rstd, eps);
    }

    // ---- residual + RMSNorm (no weight) --------------------------------------------------------------------------

    /** out = (x + r) * rstd along the last axis; r may be null; rstd [rows]. out may alias x. */
    void rmsNorm(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps);

    /**
     * {@link #rmsNorm} that also writes next = out + a (+ b when non-null): the following recursion call's injected
     * input (z + y + x, or y + z), in the same pass over memory instead of a separate add. The sums run in the
     * order of {@link #add}(out, a, b, next), on out as stored.
     */
    default void rmsNormInject(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps, Tensor a, Tensor b,
                               Tensor next) {
        rmsNorm(x, r, out, rstd, eps);
        add(out, a, b, next);
    }

    /** dh = rstd (dout - out mean(dout out)); dh may alias dout. */
    void rmsNormBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh);

    /** The token mixer's norm over the sequence axis of [B, S, D]; rstd [B, D]. */
    void rmsNormSeq(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps);

    void rmsNormSeqBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh);

    // ---- heads and losses --------------------------------------------------------------------------------------

    /** dst [B, n, D] = src[:, from : from + n, :] of src [B, S, D]. */
    void sliceSeq(Tensor src, int from, Tensor dst);

    /** dst[:, from : from + n, :] += dsrc [B, n, D]. */
    void sliceSeqBackward(Tensor dsrc, int from, Tensor dst);

    /**
     * Token loss (spec 3), computed in double: logits [B, L, V]; labels [B, L] (-100 ignored). perSeqLoss [B] = mean
     * token CE over valid tokens; seqCorrect [B] = all valid tokens right; tokensCorrect [B] (null: not wanted) = how
     * many valid tokens are right (argmax, the first maximum); dlogits [B, L, V] = gradScale * d perSeqLoss[b] / d
     * logits. dlogits may be logits itself: the training step writes the gradient over the logits, which is why the
     * step's accuracies come from here and not from the logits afterwards.
     */
    void crossEntropy(Tensor logits, IntTensor labels, boolean stablemax, double gradScale,
                      Tensor perSeqLoss, IntTensor seqCorrect, IntTensor tokensCorrect, Tensor dlogits);

    /** tokensCorrect[b] = valid tokens of row b whose first-maximum logit is the label (host logits [B, L, V]). */
    static void countCorrectTokens(float[] logits, int[] labels, int[] tokensCorrect, int batch, int len, int vocab) {
        for (int b = 0; b < batch; b++) {
            int right = 0;
            for (int t = 0; t < len; t++) {
                int y = labels[b * len + t];
                if (y >= 0 && Argmax.firstMax(logits, (b * len + t) * vocab, vocab) == y) right++;
            }
            tokensCorrect[b] = right;
        }
    }

    /**
     * Halting loss on q [B, 2] (column 0 = q_halt): loss[b] = BCEWithLogits(q[b, 0], target[b]);
     * dq[b, 0] = gradScale (sigmoid(q) - target), dq[b, 1] = 0 (q_continue carries no loss in TRM).
     */
    void haltingBce(Tensor q, IntTensor target, double gradScale, Tensor loss, Tensor dq);

    /**
     * The q head (spec 1.7) on slot 0 of y [B, S, D]: q [B, 1, 2] = y[:, 0] w [2, D]^T + bias [2]. y0 [B, 1, D] is
     * the backend's workspace for the slice: a backend that reads y in place, as the GPU's q_head_forward does, may
     * leave it unwritten. This default is exactly sliceSeq + linear, so the CPU backends compute what they always did.
     */
    default void qHead(Tensor y, Tensor w, Tensor bias, Tensor y0, Tensor q) {
        sliceSeq(y, 0, y0);
        linear(y0, w, bias, q);
    }

    /**
     * The halting loss and its gradient back through the q head: {@link #haltingBce}(q, target, gradScale, loss, dq),
     * then with that dq [B, 1, 2]: dw [2, D] += dq^T y[:, 0]; dbias [2] += column sums of dq; g[:, 0, :] += dq w
     * (g [B, S, D], its other slots untouched). y, w, y0 and q are what the step's {@link #qHead} read and wrote; y0
     * holds what that qHead left in it (nothing, where it read y in place), dy0 [B, 1, D] is scratch: a backend that
     * reads y in place may leave both alone. This default is exactly haltingBce + linearBackward + sliceSeqBackward.
     */
    default void haltingBceBackward(Tensor q, IntTensor target, double gradScale, Tensor loss, Tensor dq, Tensor y,
                                    Tensor w, Tensor dw, Tensor dbias, Tensor g, Tensor y0, Tensor dy0) {
        haltingBce(q, target, gradScale, loss, dq);
        linearBackward(y0, w, dq, dy0, false, dw, dbias);
        sliceSeqBackward(dy0, 0, g);
    }

    // ---- optimizers (spec 4) ----------------------------------------------------------------------------------------
    // The by-value forms take this step's scalars from the host: on a GPU they upload them, so they cannot be part of
    // a captured graph; a captured step uses the forms that read a schedule row in backend memory.

    /**
     * AdamATan2 in place (spec 4.2), step t >= 1: p *= 1 - lr wd; m, v lerp towards g, g^2;
     * p -= lr atan2(m / (1 - beta1^t), sqrt(v) / sqrt(1 - beta2^t)).
     */
    void adamAtan2(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double wd, double beta1, double beta2, long t);

    /** shadow = rate shadow + (1 - rate) p. */
    void ema(Tensor shadow, Tensor p, double rate);

    /**
     * Sign-SGD on the puzzle-table rows the batch used (spec 4.3): the slots' gradients [B, D] are summed per distinct
     * id, then row = row (1 - lr wd) - lr sign(sum). Rows not in the batch are neither updated nor decayed.
     */
    void puzzleSignSgd(Tensor table, IntTensor slotIds, Tensor slotGrads, double lr, double wd);

    // ---- deep supervision state on the device (spec 2.2) ------------------------------------------------------------
    // The slots' examples, step counts and halted flags live in backend tensors, so that a training step needs no
    // value from the host but the next fresh batch (uploaded ahead) and returns none (metrics go to a ring the host
    // reads every K steps). The defaults work on host copies (read, compute, write): right for the CPU backends.

    /**
     * Slot refill: for every slot with halted[b] != 0, its row of inputs/labels [B, L] and ids [B] becomes the fresh
     * batch's row, steps[b] = 0, and its carry y, z [B, S, D] goes back to hInit, lInit [D].
     */
    default void actRefill(IntTensor halted, IntTensor freshInputs, IntTensor freshLabels, IntTensor freshIds,
                           IntTensor inputs, IntTensor labels, IntTensor ids, IntTensor steps, Tensor hInit,
                           Tensor lInit, Tensor y, Tensor z) {
        int[] h = readInts(halted), in = readInts(inputs), lab = readInts(labels), id = readInts(ids),
                st = readInts(steps), fIn = readInts(freshInputs), fLab = readInts(freshLabels),
                fId = readInts(freshIds);
        int batch = h.length, len = in.length / batch, resets = 0;
        int[] slots = new int[batch];
        for (int b = 0; b < batch; b++) {
            if (h[b] == 0) continue;
            System.arraycopy(fIn, b * len, in, b * len, len);
            System.arraycopy(fLab, b * len, lab, b * len, len);
            id[b] = fId[b];
            st[b] = 0;
            slots[resets++] = b;
        }
        writeInts(inputs, in);
        writeInts(labels, lab);
        writeInts(ids, id);
        writeInts(steps, st);
        if (resets > 0) {
            int[] r = java.util.Arrays.copyOf(slots, resets);
            broadcastRowToSlots(hInit, y, r);
            broadcastRowToSlots(lInit, z, r);
        }
    }

    /**
     * Halting after a step (spec 2.2): steps[b] += 1; halted[b] = steps >= maxSteps, or (when maxSteps > 1)
     * q_halt = q[b, 0] > 0 with steps >= minSteps[b] (the exploration draw, 0 when not exploring).
     */
    default void actHalt(Tensor q, IntTensor minSteps, IntTensor steps, IntTensor halted, int maxSteps) {
        float[] qv = read(q);
        int[] st = readInts(steps), min = readInts(minSteps), h = new int[st.length];
        int stride = qv.length / st.length;
        for (int b = 0; b < st.length; b++) {
            st[b]++;
            boolean stop = st[b] >= maxSteps;
            if (maxSteps > 1) {
                stop |= qv[b * stride] > 0;
                stop &= st[b] >= min[b];
            }
            h[b] = stop ? 1 : 0;
        }
        writeInts(steps, st);
        writeInts(halted, h);
    }

    /** Fields of a {@link #trainMetrics} row. */
    int METRIC_LM_LOSS = 0, METRIC_Q_LOSS = 1, METRIC_COUNT = 2, METRIC_ACCURACY = 3, METRIC_EXACT = 4,
            METRIC_Q_ACCURACY = 5, METRIC_STEPS = 6, METRIC_FIELDS = 8;

    /**
     * One step's training metrics into row cursor[0] % K of ring [K, METRIC_FIELDS], then cursor[0] += 1: the sums
     * over the batch of perSeqLoss and qLoss [B], and over the slots that halted at this step with at least one
     * valid label: their count, token accuracy (tokensCorrect [B] from {@link #crossEntropy} over the valid labels),
     * seqCorrect, whether (q_halt >= 0) == seqCorrect, and steps.
     */
    default void trainMetrics(IntTensor tokensCorrect, IntTensor labels, IntTensor halted, IntTensor steps,
                              IntTensor seqCorrect, Tensor q, Tensor perSeqLoss, Tensor qLoss, Tensor ring,
                              IntTensor cursor) {
        float[] qv = read(q), per = read(perSeqLoss), ql = read(qLoss), r = read(ring);
        int[] lab = readInts(labels), h = readInts(halted), st = readInts(steps), ok = readInts(seqCorrect),
                cur = readInts(cursor), right = readInts(tokensCorrect);
        int batch = h.length, len = lab.length / batch, stride = qv.length / batch;
        double lm = 0, qh = 0, count = 0, acc = 0, exact = 0, qAcc = 0, stepSum = 0;
        for (int b = 0; b < batch; b++) {
            lm += per[b];
            qh += ql[b];
            if (h[b] == 0) continue;
            int valid = 0;
            for (int t = 0; t < len; t++) if (lab[b * len + t] >= 0) valid++;
            if (valid == 0) continue;
            count++;
            acc += (double) right[b] / valid;
            exact += ok[b];
            qAcc += ((qv[b * stride] >= 0) == (ok[b] == 1)) ? 1 : 0;
            stepSum += st[b];
        }
        int rows = r.length / METRIC_FIELDS, at = (cur[0] % rows) * METRIC_FIELDS;
        double[] v = {lm, qh, count, acc, exact, qAcc, stepSum, 0};
        for (int i = 0; i < METRIC_FIELDS; i++) r[at + i] = (float) v[i];
        write(ring, r);
        cur[0]++;
        writeInts(cursor, cur);
    }

    /**
     * Schedule row of a training step, read by the optimizer ops from device memory (so one captured step replays
     * with each step's values): [lr, 1 - beta1^t, 1 - beta2^t, puzzle lr, t].
     */
    int SCHEDULE_FIELDS = 5;

    /** {@link #adamAtan2(Tensor, Tensor, Tensor, Tensor, double, double, double, double, long)} with lr and t from schedule. */
    default void adamAtan2(Tensor p, Tensor g, Tensor m, Tensor v, Tensor schedule, double wd, double beta1,
                           double beta2) {
        float[] s = read(schedule);
        adamAtan2(p, g, m, v, s[0], wd, beta1, beta2, (long) s[4]);
    }

    /**
     * {@link #adamAtan2(Tensor, Tensor, Tensor, Tensor, Tensor, double, double, double)} on every tensor i of the
     * group: p[i], g[i], m[i], v[i] (same shape per i; the arrays of equal length). On a GPU one kernel launch for the
     * whole group, with results bit-identical to the per-tensor calls; callers pass the same arrays every step (a GPU
     * backend keeps a device-side table per distinct group, made at the first call: make that call before any
     * capture). Here: the per-tensor op for each i.
     */
    default void adamAtan2All(Tensor[] p, Tensor[] g, Tensor[] m, Tensor[] v, Tensor schedule, double wd,
                              double beta1, double beta2) {
        for (int i = 0; i < p.length; i++) adamAtan2(p[i], g[i], m[i], v[i], schedule, wd, beta1, beta2);
    }

    /**
     * {@link #ema} on every pair shadow[i], p[i]. On a GPU one kernel launch for the whole group (same table rule as
     * {@link #adamAtan2All}). Here: the per-tensor op for each i.
     */
    default void emaAll(Tensor[] shadow, Tensor[] p, double rate) {
        for (int i = 0; i < shadow.length; i++) ema(shadow[i], p[i], rate);
    }

    /** {@link #puzzleSignSgd(Tensor, IntTensor, Tensor, double, double)} with lr = schedule[3]. */
    default void puzzleSignSgd(Tensor table, IntTensor slotIds, Tensor slotGrads, Tensor schedule, double wd) {
        puzzleSignSgd(table, slotIds, slotGrads, read(schedule)[3], wd);
    }

    // ---- a solve's state on the device (TrmSolver) ----------------------------------------------------------------
    // So that all supervision steps of a batch can be one captured graph, each step records its puzzles' answers and
    // halting in backend tensors, read once at the end. The default works on host copies: right for the CPU backends.

    /** Sets every element of an int tensor to 0. */
    default void zero(IntTensor t) {
        writeInts(t, new int[Math.toIntExact(t.size())]);
    }

    /**
     * After supervision step {@code step} (0-based) of {@code steps}, for each slot b of logits [B, L, V] and q [B, 2]
     * still running (stepsUsed[b] == 0): qHalts[b, step] = q[b, 0]; and when step is the last one, or earlyHalt and
     * q[b, 0] > 0, the slot ends: answers[b, :] [B, L] = the argmax over V of its logits (the first maximum),
     * stepsUsed[b] = step + 1, halted[b] = q[b, 0] > 0. An ended slot is never written again.
     */
    default void solveRecord(Tensor logits, Tensor q, int step, int steps, boolean earlyHalt, IntTensor answers,
                             Tensor qHalts, IntTensor stepsUsed, IntTensor halted) {
        float[] lg = read(logits), qv = read(q), qh = read(qHalts);
        int[] ans = readInts(answers), used = readInts(stepsUsed), h = readInts(halted);
        int rows = used.length, len = ans.length / rows, vocab = lg.length / ans.length, stride = qv.length / rows;
        for (int b = 0; b < rows; b++) {
            if (used[b] != 0) continue;
            float qHalt = qv[b * stride];
            qh[b * steps + step] = qHalt;
            if (step != steps - 1 && !(earlyHalt && qHalt > 0)) continue;
            for (int t = 0; t < len; t++) ans[b * len + t] = Argmax.firstMax(lg, (b * len + t) * vocab, vocab);
            used[b] = step + 1;
            h[b] = qHalt > 0 ? 1 : 0;
        }
        write(qHalts, qh);
        writeInts(answers, ans);
        writeInts(stepsUsed, used);
        writeInts(halted, h);
    }

    /**
     * Runs body, which may be skipped once every flag is nonzero: while {@link #captureSkippable} records on a GPU
     * whose graphs have conditional nodes, body becomes one, run at each replay only if some flag is 0 at that point. Used
     * for a solve's early halt: once every puzzle has ended, the remaining steps cost nothing. Elsewhere body simply
     * runs, so it must leave nothing wrong when it runs with every flag set (an ended slot is never written again).
     */
    default void runUnlessAllSet(IntTensor flags, Runnable body) {
        body.run();
    }

    /** write(), but it may return before the copy has reached the tensor (src may be reused at once). */
    default void writeAsync(Tensor dst, float[] src) {
        write(dst, src);
    }

    /** writeInts(), but it may return before the copy has reached the tensor (src may be reused at once). */
    default void writeIntsAsync(IntTensor dst, int[] src) {
        writeInts(dst, src);
    }

    /**
     * Records the ops that work enqueues so that they can be replayed as one unit (a CUDA graph on a GPU), or null
     * where ops run eagerly (the CPU backends): then the caller runs work itself each time. Work must not read
     * values back to the host nor allocate.
     */
    default Replay capture(Runnable work) {
        return null;
    }

    /**
     * {@link #capture}, where {@link #runUnlessAllSet} inside work may become a conditional node that a replay skips.
     * Only a GPU whose graphs have conditional nodes does so; everywhere else this is {@link #capture}.
     */
    default Replay captureSkippable(Runnable work) {
        return capture(work);
    }

    /** Whether {@link #capture} records (a GPU) rather than returning null. */
    default boolean canCapture() {
        return false;
    }

    /**
     * A clock on the device's timeline for profiling ops that return before their work has run (a GPU: CUDA events
     * on the backend's stream), owned and closed by the caller; null where every op runs to completion on the host
     * (the CPU backends), whose wall time is then the op's time. See {@link ProfiledBackend}.
     */
    default DeviceClock openDeviceClock() {
        return null;
    }

    /** A recorded sequence of ops; replay() enqueues it again; close() frees it. */
    interface Replay extends AutoCloseable {
        void replay();

        @Override
        void close();
    }

    @Override
    default void close() {}
}
