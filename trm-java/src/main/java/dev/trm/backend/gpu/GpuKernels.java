package dev.trm.backend.gpu;

import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Kernel;
import dev.trm.gpu.KernelArgs;
import dev.trm.gpu.Stream;

/**
 * Typed launches of the standalone kernels in kernels/src/main/cuda: one method per kernel, with its launch
 * configuration, enqueued on the given stream. The argument order and C types match the kernel signatures; the
 * shapes are those in each kernel file's header comment. The GPU backend calls these, on CUDA and on the emulated
 * device alike.
 */
public final class GpuKernels {
    // The block sizes below are also each kernel's __launch_bounds__ (kernels/src/main/cuda: TRM_BLOCK in common.cuh
    // for BLOCK, and the kernels' own constants): a bigger block fails to launch on the GPU and on the emulated device.
    private static final int BLOCK = 256;
    private static final int MAX_GRID_STRIDE_BLOCKS = 1024;  // grid-stride loops: enough blocks to fill any GPU

    private final GpuDevice device;

    public GpuKernels(GpuDevice device) {
        this.device = device;
    }

    private Kernel k(String name) {
        return device.kernel(name);
    }

    private static int strideBlocks(long n) {
        return Math.min(Kernel.blocks(n, BLOCK), MAX_GRID_STRIDE_BLOCKS);
    }

    // embedding.cu

    /** tokens [B, L] i32, puzzleIds [B] i32, embed [V, D] f32, table [ids, D] f32 -> x [B, P+L, D] bf16. */
    public void embeddingForward(Stream s, DeviceBuffer tokens, DeviceBuffer puzzleIds, DeviceBuffer embed,
                                 DeviceBuffer table, DeviceBuffer x, int batch, int len, int dim, int prefix,
                                 float scale) {
        embeddingForward(s, tokens, puzzleIds, embed, table, x, batch, len, dim, prefix, scale, null, null, null);
    }

    /** As above, and with next non-null also next = (a + b) + x, all [B, P+L, D] bf16 (the first injected input). */
    public void embeddingForward(Stream s, DeviceBuffer tokens, DeviceBuffer puzzleIds, DeviceBuffer embed,
                                 DeviceBuffer table, DeviceBuffer x, int batch, int len, int dim, int prefix,
                                 float scale, DeviceBuffer a, DeviceBuffer b, DeviceBuffer next) {
        long total = (long) batch * (prefix + len) * dim;
        if (next != null && (a == null || b == null)) throw new IllegalArgumentException("embedding inject needs a and b");
        KernelArgs args = KernelArgs.of().ptr(tokens).ptr(puzzleIds).ptr(embed).ptr(table).ptr(x).i32(batch).i32(len)
                .i32(dim).i32(prefix).f32(scale);
        if (next == null) args.nullPtr().nullPtr().nullPtr();
        else args.ptr(a).ptr(b).ptr(next);
        k("embedding_forward").launch(s, Kernel.blocks(total, BLOCK), BLOCK, 0, args);
    }

    /** Token rows per chunk of the embedding backward: at most 256 chunks, so the partial sums stay small. */
    public static int embeddingChunkRows(int batch, int len) {
        long rows = (long) batch * len;
        return (int) Math.max(256, (rows + 255) / 256);
    }

    /** The fp32 scratch the embedding backward needs: [chunks, V, D]. */
    public static long embeddingPartialFloats(int batch, int len, int vocab, int dim) {
        long rows = (long) batch * len, chunkRows = embeddingChunkRows(batch, len);
        return (rows + chunkRows - 1) / chunkRows * vocab * dim;
    }

    /**
     * dx [B, P+L, D] f32 -> dEmbed [V, D] f32 (+=), dPuzzle [B, D] f32 (=), deterministically: per-chunk partial
     * sums into partial (see {@link #embeddingPartialFloats}), then summed in chunk order.
     */
    public void embeddingBackward(Stream s, DeviceBuffer tokens, DeviceBuffer dx, DeviceBuffer dEmbed,
                                  DeviceBuffer dPuzzle, DeviceBuffer partial, int batch, int len, int dim, int prefix,
                                  int vocab, float scale) {
        int chunkRows = embeddingChunkRows(batch, len);
        long partials = embeddingPartialFloats(batch, len, vocab, dim), chunks = partials / ((long) vocab * dim);
        if (partial.count() < partials) {
            throw new IllegalArgumentException("embedding backward needs " + partials + " partial sums, the scratch holds "
                    + partial.count());
        }
        k("embedding_backward_tokens").launch(s, Kernel.blocks(partials, BLOCK), BLOCK, 0, KernelArgs.of().ptr(tokens)
                .ptr(dx).ptr(partial).i32(batch).i32(len).i32(dim).i32(prefix).i32(vocab).i32(chunkRows).f32(scale));
        sumBatches(s, partial, dEmbed, (int) chunks, (long) vocab * dim);
        k("embedding_backward_puzzle").launch(s, Kernel.blocks((long) batch * dim, BLOCK), BLOCK, 0,
                KernelArgs.of().ptr(dx).ptr(dPuzzle).i32(batch).i32(prefix + len).i32(dim).f32(scale));
    }

    // norm.cu

    /** x, r (nullable), out [rows, dim] bf16; rstd [rows] f32. One warp per row. */
    public void rmsNormForward(Stream s, DeviceBuffer x, DeviceBuffer r, DeviceBuffer out, DeviceBuffer rstd,
                               int rows, int dim, float eps) {
        rmsNormForward(s, x, r, out, rstd, rows, dim, eps, null, null, null);
    }

    /** As above, and next = out + a (+ b) [rows, dim] bf16 when next is non-null (the next injected input). */
    public void rmsNormForward(Stream s, DeviceBuffer x, DeviceBuffer r, DeviceBuffer out, DeviceBuffer rstd,
                               int rows, int dim, float eps, DeviceBuffer a, DeviceBuffer b, DeviceBuffer next) {
        k("rmsnorm_forward").launch(s, Kernel.blocks(rows, BLOCK / 32), BLOCK, 0, KernelArgs.of().ptr(x).ptr(r)
                .ptr(out).ptr(rstd).i32(rows).i32(dim).f32(eps).ptr(a).ptr(b).ptr(next));
    }

    /** out, dout, dh [rows, dim] bf16; rstd [rows] f32. */
    public void rmsNormBackward(Stream s, DeviceBuffer out, DeviceBuffer rstd, DeviceBuffer dout, DeviceBuffer dh,
                                int rows, int dim) {
        k("rmsnorm_backward").launch(s, Kernel.blocks(rows, BLOCK / 32), BLOCK, 0,
                KernelArgs.of().ptr(out).ptr(rstd).ptr(dout).ptr(dh).i32(rows).i32(dim));
    }

    /** Along the sequence axis: x, r (nullable), out [B, S, D] bf16; rstd [B, D] f32. */
    public void rmsNormSeqForward(Stream s, DeviceBuffer x, DeviceBuffer r, DeviceBuffer out, DeviceBuffer rstd,
                                  int batch, int seq, int dim, float eps) {
        k("rmsnorm_seq_forward").launch(s, Kernel.blocks((long) batch * dim, BLOCK), BLOCK, 0,
                KernelArgs.of().ptr(x).ptr(r).ptr(out).ptr(rstd).i32(batch).i32(seq).i32(dim).f32(eps));
    }

    public void rmsNormSeqBackward(Stream s, DeviceBuffer out, DeviceBuffer rstd, DeviceBuffer dout, DeviceBuffer dh,
                                   int batch, int seq, int dim) {
        k("rmsnorm_seq_backward").launch(s, Kernel.blocks((long) batch * dim, BLOCK), BLOCK, 0,
                KernelArgs.of().ptr(out).ptr(rstd).ptr(dout).ptr(dh).i32(batch).i32(seq).i32(dim));
    }

    // swiglu.cu

    /** gu [rows, 2*inter] bf16 -> out [rows, inter] bf16. */
    public void swigluForward(Stream s, DeviceBuffer gu, DeviceBuffer out, int rows, int inter) {
        k("swiglu_forward").launch(s, Kernel.blocks((long) rows * inter, BLOCK), BLOCK, 0,
                KernelArgs.of().ptr(gu).ptr(out).i32(rows).i32(inter));
    }

    /** dgu [rows, 2*inter] from dout [rows, inter]; out [rows, inter] (null: not wanted) = the forward's value again. */
    public void swigluBackward(Stream s, DeviceBuffer gu, DeviceBuffer dout, DeviceBuffer dgu, DeviceBuffer out,
                               int rows, int inter) {
        k("swiglu_backward").launch(s, Kernel.blocks((long) rows * inter, BLOCK), BLOCK, 0,
                KernelArgs.of().ptr(gu).ptr(dout).ptr(dgu).ptr(out).i32(rows).i32(inter));
    }

    // gemm_swiglu.cu

    private static final int GS_TILE = 64, GS_THREADS = 128;

    /**
     * Why gemm_swiglu cannot take this shape, or null when it can: D and I multiples of 8 (16-byte chunks never
     * straddle a row end), rows within the grid's y limit (65535 tiles of 64).
     */
    public static String gemmSwigluUnsupported(long rows, int dim, int inter) {
        if (rows < 1 || dim < 1 || inter < 1) return "empty shape: rows " + rows + ", D " + dim + ", I " + inter;
        if (dim % 8 != 0) return "D = " + dim + " is not a multiple of 8";
        if (inter % 8 != 0) return "I = " + inter + " is not a multiple of 8";
        if ((rows + GS_TILE - 1) / GS_TILE > 65535) return rows + " rows exceed 65535 row tiles of " + GS_TILE;
        return null;
    }

    /**
     * x [rows, D] bf16, w [2I, D] bf16 (gate rows, then up rows) -> h [rows, I] bf16 = silu(x w_gate^T) * x w_up^T,
     * and gu [rows, 2I] bf16 = x w^T when gu is non-null. Grid (ceil(I / 64), ceil(rows / 64)), 128 threads.
     */
    public void gemmSwiglu(Stream s, DeviceBuffer x, DeviceBuffer w, DeviceBuffer gu, DeviceBuffer h, int rows,
                           int dim, int inter) {
        String why = gemmSwigluUnsupported(rows, dim, inter);
        if (why != null) throw new IllegalArgumentException("gemm_swiglu: " + why);
        k("gemm_swiglu").launch(s, Kernel.blocks(inter, GS_TILE), Kernel.blocks(rows, GS_TILE), 1, GS_THREADS, 1, 1,
                0, KernelArgs.of().ptr(x).ptr(w).ptr(gu).ptr(h).i32(rows).i32(dim).i32(inter));
    }

    // gemm_mix_swiglu.cu

    /**
     * Why gemm_mix_swiglu cannot take this shape, or null when it can: D a multiple of 8 (x rows load and h rows store
     * as 16-byte chunks that never straddle a row end), the I tiles and the batch within the grid's y and z limits.
     * S and I are free (w loads as scalars).
     */
    public static String gemmMixSwigluUnsupported(long batch, int seq, int dim, int inter) {
        if (batch < 1 || seq < 1 || dim < 1 || inter < 1) {
            return "empty shape: B " + batch + ", S " + seq + ", D " + dim + ", I " + inter;
        }
        if (dim % 8 != 0) return "D = " + dim + " is not a multiple of 8";
        if ((inter + GS_TILE - 1) / GS_TILE > 65535) return "I = " + inter + " exceeds 65535 row tiles of " + GS_TILE;
        if (batch > 65535) return "B = " + batch + " exceeds the grid's 65535 z blocks";
        return null;
    }

    /**
     * w [2I, S] bf16 (gate rows, then up rows), x [B, S, D] bf16 -> h [B, I, D] bf16, h[b] = silu(w_gate x[b]) *
     * (w_up x[b]), and gu [B, 2I, D] bf16 = w x[b] per batch row (gate block, then up block) when gu is non-null.
     * Grid (ceil(D / 64), ceil(I / 64), B), 128 threads.
     */
    public void gemmMixSwiglu(Stream s, DeviceBuffer w, DeviceBuffer x, DeviceBuffer gu, DeviceBuffer h, int batch,
                              int seq, int dim, int inter) {
        String why = gemmMixSwigluUnsupported(batch, seq, dim, inter);
        if (why != null) throw new IllegalArgumentException("gemm_mix_swiglu: " + why);
        k("gemm_mix_swiglu").launch(s, Kernel.blocks(dim, GS_TILE), Kernel.blocks(inter, GS_TILE), batch, GS_THREADS,
                1, 1, 0, KernelArgs.of().ptr(w).ptr(x).ptr(gu).ptr(h).i32(seq).i32(dim).i32(inter));
    }

    // gemm_mix_norm.cu

    /**
     * The most sequence rows gemm_mix_norm takes: 11 row tiles of 16, whose fp32 epilogue tile (176 x 68 floats) and
     * column sums fit the 48 KiB of shared memory a block has without an opt-in (gemm_mix_norm.cu, MN_MAX_ROW_TILES).
     */
    public static final int MIX_NORM_MAX_SEQ = 176;

    /**
     * Why gemm_mix_norm cannot take this shape, or null when it can: S at most {@link #MIX_NORM_MAX_SEQ} (one block
     * holds every row of its columns), D and I multiples of 8 (x and w rows load as 16-byte chunks that never straddle
     * a row end), the batch within the grid's y limit.
     */
    public static String gemmMixNormUnsupported(long batch, int seq, int dim, int inter) {
        if (batch < 1 || seq < 1 || dim < 1 || inter < 1) {
            return "empty shape: B " + batch + ", S " + seq + ", D " + dim + ", I " + inter;
        }
        if (seq > MIX_NORM_MAX_SEQ) {
            return "S = " + seq + " exceeds " + MIX_NORM_MAX_SEQ + " (a block's fp32 tile of all S rows must fit 48 KiB"
                    + " of shared memory)";
        }
        if (dim % 8 != 0) return "D = " + dim + " is not a multiple of 8";
        if (inter % 8 != 0) return "I = " + inter + " is not a multiple of 8";
        if (batch > 65535) return "B = " + batch + " exceeds the grid's 65535 y blocks";
        return null;
    }

    /**
     * w [S, I] bf16, x [B, I, D] bf16, residual [B, S, D] bf16 -> out [B, S, D] bf16 = h * rstd and rstd [B, D] fp32 =
     * 1 / sqrt(mean over S of h^2 + eps), where h[b] = residual[b] + w x[b] in fp32 (never rounded to bf16): the token
     * mixer's down GEMM, residual add and sequence-axis RMSNorm. out must not alias residual. Grid (ceil(D / 64), B),
     * 128 threads.
     */
    public void gemmMixNorm(Stream s, DeviceBuffer w, DeviceBuffer x, DeviceBuffer residual, DeviceBuffer out,
                            DeviceBuffer rstd, int batch, int seq, int dim, int inter, float eps) {
        String why = gemmMixNormUnsupported(batch, seq, dim, inter);
        if (why != null) throw new IllegalArgumentException("gemm_mix_norm: " + why);
        k("gemm_mix_norm").launch(s, Kernel.blocks(dim, GS_TILE), batch, 1, GS_THREADS, 1, 1, 0,
                KernelArgs.of().ptr(w).ptr(x).ptr(residual).ptr(out).ptr(rstd).i32(seq).i32(dim).i32(inter).f32(eps));
    }

    // attention.cu

    private static final int ATT_THREADS = 128, ATT_TILE = 32, ATT_MAX_HEAD_DIM = 64;

    private static void checkAttention(DeviceBuffer cos, DeviceBuffer sin, int batch, int seq, int heads,
                                       int headDim) {
        if (headDim < 2 || headDim > ATT_MAX_HEAD_DIM || headDim % 2 != 0) {
            throw new IllegalArgumentException("the attention kernels take an even head size from 2 to "
                    + ATT_MAX_HEAD_DIM + " (two dimensions per lane), not " + headDim);
        }
        if (batch < 1 || seq < 1 || heads < 1 || batch > 65535 || heads > 65535) {
            throw new IllegalArgumentException("bad attention shape: batch " + batch + ", seq " + seq + ", heads "
                    + heads);
        }
        if ((cos == null) != (sin == null)) {
            throw new IllegalArgumentException("RoPE needs both cos and sin, or neither");
        }
    }

    /**
     * Whether forward and backward take the tensor-core kernels (attention_tc.cu) at head size 64; {@code
     * -Dtrm.attention.tc=false} forces the CUDA-core kernels everywhere (to compare, or to rule the WMMA path out).
     */
    static final boolean ATT_TENSOR_CORES = Boolean.parseBoolean(System.getProperty("trm.attention.tc", "true"));
    private static final int ATT_TC_HEAD_DIM = 64, ATT_TC_TILE = 64;

    /**
     * qkv [B, S, 3D] bf16 -> out [B, S, D] bf16, lse [B, H, S] f32 (natural log). cos, sin [S, hd] f32, both null for
     * no RoPE. At hd = 64 the tensor-core kernel (grid (ceil(S/64), H, B) of 128 threads, 40 KiB static shared
     * memory), otherwise the CUDA-core one (grid (ceil(S/32), H, B) of 128 threads; 48 KiB static shared memory).
     */
    public void attentionForward(Stream s, DeviceBuffer qkv, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer cos,
                                 DeviceBuffer sin, int batch, int seq, int heads, int headDim) {
        attentionForward(s, qkv, out, lse, cos, sin, batch, seq, heads, headDim, ATT_TENSOR_CORES);
    }

    /** {@link #attentionForward} with the kernel chosen by the caller: tensorCores takes effect at hd = 64 only. */
    void attentionForward(Stream s, DeviceBuffer qkv, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer cos,
                          DeviceBuffer sin, int batch, int seq, int heads, int headDim, boolean tensorCores) {
        checkAttention(cos, sin, batch, seq, heads, headDim);
        boolean tc = tensorCores && headDim == ATT_TC_HEAD_DIM;
        k(tc ? "attention_forward_tc" : "attention_forward").launch(s,
                Kernel.blocks(seq, tc ? ATT_TC_TILE : ATT_TILE), heads, batch, ATT_THREADS, 1, 1, 0,
                KernelArgs.of().ptr(qkv).ptr(out).ptr(lse).ptr(cos).ptr(sin).i32(seq).i32(heads).i32(headDim));
    }

    /**
     * dqkv [B, S, 3D] bf16 (=) from qkv, out, dout and lse of the forward, in one launch: grid (2 ceil(S/T), H, B) of
     * 128 threads, whose first ceil(S/T) blocks along x each compute dQ of one tile of T queries and the others dK
     * and dV of one tile of T keys; each computes delta = dO . O of the query rows it needs itself. At hd = 64 the
     * tensor-core kernel (attention_backward_tc: T = 64, 32 KiB static shared memory), otherwise the CUDA-core one
     * (attention_backward: T = 32, 37 KiB); {@code -Dtrm.attention.tc=false} takes the CUDA-core one everywhere, as
     * for the forward.
     */
    public void attentionBackward(Stream s, DeviceBuffer qkv, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer dout,
                                  DeviceBuffer dqkv, DeviceBuffer cos, DeviceBuffer sin, int batch, int seq,
                                  int heads, int headDim) {
        attentionBackward(s, qkv, out, lse, dout, dqkv, cos, sin, batch, seq, heads, headDim, ATT_TENSOR_CORES);
    }

    /** {@link #attentionBackward} with the kernel chosen by the caller: tensorCores takes effect at hd = 64 only. */
    void attentionBackward(Stream s, DeviceBuffer qkv, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer dout,
                           DeviceBuffer dqkv, DeviceBuffer cos, DeviceBuffer sin, int batch, int seq, int heads,
                           int headDim, boolean tensorCores) {
        checkAttention(cos, sin, batch, seq, heads, headDim);
        boolean tc = tensorCores && headDim == ATT_TC_HEAD_DIM;
        int tiles = Kernel.blocks(seq, tc ? ATT_TC_TILE : ATT_TILE);
        k(tc ? "attention_backward_tc" : "attention_backward").launch(s, 2 * tiles, heads, batch, ATT_THREADS, 1, 1,
                0, KernelArgs.of().ptr(qkv).ptr(out).ptr(lse).ptr(dout).ptr(dqkv).ptr(cos).ptr(sin).i32(seq)
                        .i32(heads).i32(headDim));
    }

    // loss.cu

    /**
     * logits [B, L, V] bf16, labels [B, L] i32 -> perSeqLoss [B] f32, seqCorrect [B] i32, tokensCorrect [B] i32 (null:
     * skipped), dlogits bf16 (may be logits).
     */
    public void tokenLoss(Stream s, boolean stablemax, DeviceBuffer logits, DeviceBuffer labels, DeviceBuffer perSeqLoss,
                          DeviceBuffer seqCorrect, DeviceBuffer tokensCorrect, DeviceBuffer dlogits, int batch, int len,
                          int vocab, float gradScale) {
        k("token_loss").launch(s, batch, BLOCK, 0, KernelArgs.of().i32(stablemax ? 1 : 0).ptr(logits).ptr(labels)
                .ptr(perSeqLoss).ptr(seqCorrect).ptr(tokensCorrect).ptr(dlogits).i32(batch).i32(len).i32(vocab)
                .f32(gradScale));
    }

    /** q [B, qStride] f32 (q_halt in column 0), target [B] i32 -> loss [B] f32, dq [B, qStride] f32. */
    public void haltingBce(Stream s, DeviceBuffer q, int qStride, DeviceBuffer target, DeviceBuffer loss,
                           DeviceBuffer dq, int batch, float gradScale) {
        k("halting_bce").launch(s, Kernel.blocks(batch, BLOCK), BLOCK, 0, KernelArgs.of().ptr(q).i32(qStride)
                .ptr(target).ptr(loss).ptr(dq).i32(batch).f32(gradScale));
    }

    // q_head.cu

    /**
     * y [B, S, D] bf16 (slot 0 of each batch row, read in place), w [2, D] f32 (rounded to bf16 as read), bias [2] f32
     * -> q [B, 2] f32. One warp per slot.
     */
    public void qHeadForward(Stream s, DeviceBuffer y, DeviceBuffer w, DeviceBuffer bias, DeviceBuffer q, int batch,
                             int seq, int dim) {
        k("q_head_forward").launch(s, Kernel.blocks(batch, BLOCK / 32), BLOCK, 0, KernelArgs.of().ptr(y).ptr(w)
                .ptr(bias).ptr(q).i32(batch).i32(seq).i32(dim));
    }

    /**
     * The halting BCE on q [B, 2] f32 (column 0) with target [B] i32 -> loss [B] f32, dq [B, 2] f32 (=), and the q
     * head's backward: dw [2, D] f32 +=, dbias [2] f32 +=, slot 0 of g [B, S, D] bf16 += (y [B, S, D] bf16 and w
     * [2, D] f32 as {@link #qHeadForward} read them). One block per 32 columns of D; deterministic.
     */
    public void qHeadBackward(Stream s, DeviceBuffer q, DeviceBuffer target, DeviceBuffer y, DeviceBuffer w,
                              DeviceBuffer loss, DeviceBuffer dq, DeviceBuffer dw, DeviceBuffer dbias, DeviceBuffer g,
                              int batch, int seq, int dim, float gradScale) {
        k("q_head_backward").launch(s, Kernel.blocks(dim, 32), BLOCK, 0, KernelArgs.of().ptr(q).ptr(target).ptr(y)
                .ptr(w).ptr(loss).ptr(dq).ptr(dw).ptr(dbias).ptr(g).i32(batch).i32(seq).i32(dim).f32(gradScale));
    }

    // optimizer.cu

    /** The device-side schedule of adam_atan2: (lr, 1 - beta1^t, 1 - beta2^t), computed in double. */
    public static float[] adamSchedule(double lr, double beta1, double beta2, long t) {
        return new float[] {(float) lr, (float) (1 - Math.pow(beta1, t)), (float) (1 - Math.pow(beta2, t))};
    }

    /** p, g, m, v [n] f32 in place; sched [3] f32 on the device (see {@link #adamSchedule}). */
    public void adamAtan2(Stream s, DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, long n,
                          DeviceBuffer sched, float wd, float beta1, float beta2) {
        adamAtan2(s, p, null, g, m, v, n, sched, wd, beta1, beta2);
    }

    /** As above; pHalf [n] bf16 (nullable) also receives the updated weights rounded to bf16 (the GEMMs' copy). */
    public void adamAtan2(Stream s, DeviceBuffer p, DeviceBuffer pHalf, DeviceBuffer g, DeviceBuffer m,
                          DeviceBuffer v, long n, DeviceBuffer sched, float wd, float beta1, float beta2) {
        k("adam_atan2").launch(s, strideBlocks(n), BLOCK, 0, KernelArgs.of().ptr(p).ptr(pHalf).ptr(g).ptr(m).ptr(v)
                .i64(n).ptr(sched).f32(wd).f32(beta1).f32(beta2));
    }

    public void ema(Stream s, DeviceBuffer shadow, DeviceBuffer p, long n, float rate) {
        ema(s, shadow, null, p, n, rate);
    }

    /** shadowHalf [n] bf16 (nullable) also receives the new shadow rounded to bf16. */
    public void ema(Stream s, DeviceBuffer shadow, DeviceBuffer shadowHalf, DeviceBuffer p, long n, float rate) {
        k("ema").launch(s, strideBlocks(n), BLOCK, 0,
                KernelArgs.of().ptr(shadow).ptr(shadowHalf).ptr(p).i64(n).f32(rate));
    }

    /**
     * adam_atan2 over many tensors in one launch. table [tensors * 5 + tensors + 1] of 64-bit values on the device:
     * per tensor the addresses p, pHalf (0: none), g, m, v, then the prefix sums of the element counts (the last is
     * total); sched as in {@link #adamAtan2}.
     */
    public void adamAtan2Multi(Stream s, DeviceBuffer table, int tensors, long total, DeviceBuffer sched, float wd,
                               float beta1, float beta2) {
        k("adam_atan2_multi").launch(s, strideBlocks(total), BLOCK, 0, KernelArgs.of().ptr(table).i32(tensors)
                .i64(total).ptr(sched).f32(wd).f32(beta1).f32(beta2));
    }

    /**
     * The table of the multi-tensor kernels as int32 words to upload: addresses[t] the fields of tensor t (0 for an
     * absent one, e.g. no bf16 copy), all tensors with the same number of fields; counts[t] its elements. Laid out as
     * the kernels read it: every tensor's fields in turn, then the prefix sums of the counts (tensors + 1 values, the
     * last the total), each 64-bit value as a (low, high) pair of words, the device being little-endian.
     */
    public static int[] multiTensorTable(long[][] addresses, long[] counts) {
        int tensors = addresses.length, fields = addresses[0].length;
        long[] entries = new long[tensors * fields + tensors + 1];
        for (int t = 0; t < tensors; t++) {
            if (addresses[t].length != fields) {
                throw new IllegalArgumentException("tensor " + t + " has " + addresses[t].length + " fields, not "
                        + fields);
            }
            System.arraycopy(addresses[t], 0, entries, t * fields, fields);
            entries[tensors * fields + t + 1] = entries[tensors * fields + t] + counts[t];
        }
        int[] words = new int[2 * entries.length];
        for (int i = 0; i < entries.length; i++) {
            words[2 * i] = (int) entries[i];
            words[2 * i + 1] = (int) (entries[i] >>> 32);
        }
        return words;
    }

    /** ema over many tensors in one launch: table as above with the fields shadow, shadowHalf (0: none), p. */
    public void emaMulti(Stream s, DeviceBuffer table, int tensors, long total, float rate) {
        k("ema_multi").launch(s, strideBlocks(total), BLOCK, 0,
                KernelArgs.of().ptr(table).i32(tensors).i64(total).f32(rate));
    }

    /**
     * table [ids, dim] f32; ids [batch] i32 (may repeat); slotGrads [batch, dim] f32: summed per id, then the step;
     * lr from lrBuffer at byte offset lrOffset when lrBuffer is non-null (a schedule row), else by value.
     */
    public void puzzleSignSgd(Stream s, DeviceBuffer table, int dim, DeviceBuffer ids, DeviceBuffer slotGrads,
                              int batch, float lr, DeviceBuffer lrBuffer, long lrOffset, float wd) {
        KernelArgs a = KernelArgs.of().ptr(table).i32(dim).ptr(ids).ptr(slotGrads).i32(batch).f32(lr);
        if (lrBuffer == null) a.nullPtr();
        else a.ptr(lrBuffer, lrOffset);
        k("puzzle_sign_sgd").launch(s, Kernel.blocks((long) batch * dim, BLOCK), BLOCK, 0, a.f32(wd));
    }

    // elementwise.cu: every tensor comes with its storage type (bf16 or fp32)

    private static int bf(DeviceBuffer b) {
        return b != null && b.type() == DType.BF16 ? 1 : 0;
    }

    /** out [n] = a + b (+ c when non-null); any mix of bf16 and fp32. */
    public void add3(Stream s, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, DeviceBuffer out, long n) {
        k("add3").launch(s, strideBlocks(n), BLOCK, 0, KernelArgs.of().ptr(a).i32(bf(a)).ptr(b).i32(bf(b)).ptr(c)
                .i32(bf(c)).ptr(out).i32(bf(out)).i64(n));
    }

    /** acc [n] += x [n]. */
    public void accumulate(Stream s, DeviceBuffer acc, DeviceBuffer x, long n) {
        k("accumulate").launch(s, strideBlocks(n), BLOCK, 0,
                KernelArgs.of().ptr(acc).i32(bf(acc)).ptr(x).i32(bf(x)).i64(n));
    }

    /** out [n] = in [n], converting the storage type. */
    public void convert(Stream s, DeviceBuffer in, DeviceBuffer out, long n) {
        k("convert").launch(s, strideBlocks(n), BLOCK, 0,
                KernelArgs.of().ptr(in).i32(bf(in)).ptr(out).i32(bf(out)).i64(n));
    }

    /** dst [rows, dim] = row [dim] (f32). */
    public void broadcastRow(Stream s, DeviceBuffer row, DeviceBuffer dst, long rows, int dim) {
        k("broadcast_row").launch(s, strideBlocks(rows * dim), BLOCK, 0,
                KernelArgs.of().ptr(row).ptr(dst).i32(bf(dst)).i64(rows).i32(dim));
    }

    /** dst [B, per] with per = S * dim: dst[slots[i], :] = row repeated, for each of the count slots. */
    public void broadcastRowSlots(Stream s, DeviceBuffer row, DeviceBuffer dst, DeviceBuffer slots, int count,
                                  long per, int dim) {
        k("broadcast_row_slots").launch(s, strideBlocks(count * per), BLOCK, 0, KernelArgs.of().ptr(row).ptr(dst)
                .i32(bf(dst)).ptr(slots).i32(count).i64(per).i32(dim));
    }

    /**
     * accumulate false: dst [B, n, dim] = src [B, seq, dim][:, from : from + n]; accumulate true: the backward,
     * dst [B, seq, dim][:, from : from + n] += src [B, n, dim].
     */
    public void sliceSeq(Stream s, DeviceBuffer src, DeviceBuffer dst, int batch, int seq, int n, int dim, int from,
                         boolean accumulate) {
        k("slice_seq").launch(s, strideBlocks((long) batch * n * dim), BLOCK, 0, KernelArgs.of().ptr(src)
                .i32(bf(src)).ptr(dst).i32(bf(dst)).i32(batch).i32(seq).i32(n).i32(dim).i32(from)
                .i32(accumulate ? 1 : 0));
    }

    // linear.cu

    /** y [rows, n] += bias [n] f32. */
    public void biasAdd(Stream s, DeviceBuffer y, DeviceBuffer bias, long rows, int n) {
        k("bias_add").launch(s, strideBlocks(rows * n), BLOCK, 0,
                KernelArgs.of().ptr(y).i32(bf(y)).ptr(bias).i64(rows).i32(n));
    }

    /** dbias [n] f32 += column sums of dy [rows, n]. */
    public void biasGrad(Stream s, DeviceBuffer dy, DeviceBuffer dbias, long rows, int n) {
        k("bias_grad").launch(s, Kernel.blocks(n, BLOCK), BLOCK, 0,
                KernelArgs.of().ptr(dy).i32(bf(dy)).ptr(dbias).i64(rows).i32(n));
    }

    /** dst [m] += sum over b of src [batch, m] (f32). */
    public void sumBatches(Stream s, DeviceBuffer src, DeviceBuffer dst, int batch, long m) {
        sumBatches(s, src, dst, batch, m, 1, 1);
    }

    /**
     * dst [rows, cols] += sum over b of src [batch, rows, ld][:, :cols] (f32, ld >= cols): products stored on a padded
     * row pitch, compacted into dst, in the same order of addition as the unpadded sum (the same bits).
     */
    public void sumBatches(Stream s, DeviceBuffer src, DeviceBuffer dst, int batch, long rows, int cols, int ld) {
        if (ld < cols) throw new IllegalArgumentException("sum_batches: ld " + ld + " < " + cols + " columns");
        k("sum_batches").launch(s, strideBlocks(rows * cols), BLOCK, 0,
                KernelArgs.of().ptr(src).ptr(dst).i32(batch).i64(rows).i32(cols).i32(ld));
    }

    /**
     * dst [rows, ld] = src [rows, cols] (bf16, ld >= cols), columns cols..ld-1 zero: a GEMM operand's rows on a wider
     * pitch (a 16-byte-aligned leading dimension for cuBLAS, see linear.cu).
     */
    public void padCols(Stream s, DeviceBuffer src, DeviceBuffer dst, long rows, int cols, int ld) {
        if (ld < cols) throw new IllegalArgumentException("pad_cols: ld " + ld + " < " + cols + " columns");
        k("pad_cols").launch(s, strideBlocks(rows * ld), BLOCK, 0,
                KernelArgs.of().ptr(src).ptr(dst).i64(rows).i32(cols).i32(ld));
    }

    // act.cu

    /** Slot refill for halted slots: rows of inputs/labels [B, L], ids, steps; carry y, z [B, S, D] bf16. */
    public void actRefill(Stream s, DeviceBuffer halted, DeviceBuffer freshInputs, DeviceBuffer freshLabels,
                          DeviceBuffer freshIds, DeviceBuffer inputs, DeviceBuffer labels, DeviceBuffer ids,
                          DeviceBuffer steps, DeviceBuffer hInit, DeviceBuffer lInit, DeviceBuffer y, DeviceBuffer z,
                          int batch, int len, int seq, int dim) {
        k("act_refill").launch(s, strideBlocks((long) batch * seq * dim), BLOCK, 0, KernelArgs.of().ptr(halted)
                .ptr(freshInputs).ptr(freshLabels).ptr(freshIds).ptr(inputs).ptr(labels).ptr(ids).ptr(steps)
                .ptr(hInit).ptr(lInit).ptr(y).ptr(z).i32(batch).i32(len).i32(seq).i32(dim));
    }

    /** Halting after a step: q [B, qStride] f32, minSteps, steps (+= 1), halted [B] i32. */
    public void actHalt(Stream s, DeviceBuffer q, int qStride, DeviceBuffer minSteps, DeviceBuffer steps,
                        DeviceBuffer halted, int batch, int maxSteps) {
        k("act_halt").launch(s, Kernel.blocks(batch, BLOCK), BLOCK, 0, KernelArgs.of().ptr(q).i32(qStride)
                .ptr(minSteps).ptr(steps).ptr(halted).i32(batch).i32(maxSteps));
    }

    /** One step's metrics into ring [rows, fields] f32 at row cursor % rows; cursor [1] i32 += 1. One block. */
    public void trainMetrics(Stream s, DeviceBuffer tokensCorrect, DeviceBuffer labels, DeviceBuffer halted,
                             DeviceBuffer steps, DeviceBuffer seqCorrect, DeviceBuffer q, int qStride,
                             DeviceBuffer perSeqLoss, DeviceBuffer qLoss, DeviceBuffer ring, int rows, int fields,
                             DeviceBuffer cursor, int batch, int len) {
        k("train_metrics").launch(s, 1, BLOCK, 0, KernelArgs.of().ptr(tokensCorrect).ptr(labels).ptr(halted)
                .ptr(steps).ptr(seqCorrect).ptr(q).i32(qStride).ptr(perSeqLoss).ptr(qLoss).ptr(ring).i32(rows)
                .i32(fields).ptr(cursor).i32(batch).i32(len));
    }

    // ---- infer.cu --------------------------------------------------------------------------------------------------

    /**
     * A solve's bookkeeping after step `step` of `steps`: logits bf16 [rows, len, vocab], q f32 (q_halt at b * qStride),
     * answers i32 [rows, len], qHalts f32 [rows, steps], stepsUsed and halted i32 [rows]. One block per slot.
     */
    public void solveRecord(Stream s, DeviceBuffer logits, DeviceBuffer q, int qStride, int step, int steps,
                            boolean earlyHalt, DeviceBuffer answers, DeviceBuffer qHalts, DeviceBuffer stepsUsed,
                            DeviceBuffer halted, int rows, int len, int vocab) {
        k("solve_record").launch(s, rows, 128, 0, KernelArgs.of().ptr(logits).ptr(q).i32(qStride).i32(step).i32(steps)
                .i32(earlyHalt ? 1 : 0).ptr(answers).ptr(qHalts).ptr(stepsUsed).ptr(halted).i32(len).i32(vocab));
    }
}
