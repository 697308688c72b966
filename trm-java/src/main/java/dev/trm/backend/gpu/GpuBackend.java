package dev.trm.backend.gpu;

import static dev.trm.gpu.Backend.CUDA;

import dev.trm.backend.Backend;
import dev.trm.backend.IntTensor;
import dev.trm.backend.MemoryLedger;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.RopeTables;
import dev.trm.backend.Tensor;
import dev.trm.backend.ref.RefOps;
import dev.trm.gpu.Blas;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.PinnedHostMemory;
import dev.trm.gpu.Stream;
import java.util.Arrays;
import java.util.List;

/**
 * The GPU backend: every op of {@link Backend} as kernels (kernels/src/main/cuda, launched through {@link GpuKernels})
 * and cuBLAS GEMMs, enqueued in order on one stream, with no host synchronisation except where a method returns
 * values to the host ({@link #read}, {@link #readInts}) or takes them from it ({@link #write}, slot lists).
 *
 * <p>Precision as in the official TRM: activations, the carry and activation gradients are bf16
 * ({@link #activation}); weights, their gradients and the optimizer state are fp32 ({@link #tensor}), with a bf16
 * copy of each weight kept current for the GEMMs; GEMMs multiply bf16 and accumulate in fp32; norms, softmax and
 * losses compute in fp32 (stablemax in double). The same Java runs on a CUDA device and on the emulated device.
 *
 * <p>It owns its device: close() frees every tensor it made and the device with them. Tensors live until then (the
 * model allocates its buffers once per batch size). Use from one thread at a time.
 */
public final class GpuBackend implements Backend {
    private final GpuDevice dev;
    private final Stream s;
    private dev.trm.gpu.GraphBuilder building;  // the graph captureSkippable is building, else null
    private boolean capturing;  // inside capture or captureSkippable: ops are recorded, not run (nothing may be timed)
    private final Blas blas;
    private final GpuKernels k;
    private final java.util.Set<DeviceBuffer> owned = new java.util.LinkedHashSet<>();
    private final MemoryLedger memory = new MemoryLedger();
    // small scratch, grown on demand (first use happens in a warm-up step, before any graph capture)
    private DeviceBuffer sched, slotList, mixScratch, padScratch;
    private float[] schedValues;

    /** Read once, at open: see {@link #GEMM_ALIGN}. */
    private final boolean alignGemms = gemmAlignSetting();
    /** Padded GEMM operands made so far ({@link #alignedWeight}; tests check which path ran). */
    int paddedGemmOperands;

    private GpuBackend(GpuDevice dev) {
        this.dev = dev;
        this.s = dev.defaultStream();
        this.blas = dev.newBlas(s);
        this.k = new GpuKernels(dev);
    }

    /** Opens the first usable device of the kind (CUDA, or the emulated device) and owns it. */
    public static GpuBackend open(dev.trm.gpu.Backend kind) {
        GpuDevice d = GpuDevice.open(kind);
        try {
            return new GpuBackend(d);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return dev.backend().label();
    }

    public GpuDevice device() {
        return dev;
    }

    public Stream stream() {
        return s;
    }

    /** Bytes this backend holds in device memory: {bf16, fp32, int32}. */
    public long[] bytesByType() {
        long bf16 = 0, f32 = 0, i32 = 0;
        for (DeviceBuffer b : owned) {
            switch (b.type()) {
                case BF16 -> bf16 += b.bytes();
                case F32 -> f32 += b.bytes();
                case I32 -> i32 += b.bytes();
            }
        }
        return new long[] {bf16, f32, i32};
    }

    // ---- memory ----------------------------------------------------------------------------------------------------

    /** A zeroed buffer, booked in the ledger under the use its owner has made current. */
    private DeviceBuffer alloc(DType type, long count) {
        return alloc(type, count, null);
    }

    /** A zeroed buffer booked under use (null: the ledger's current use). */
    private DeviceBuffer alloc(DType type, long count, MemoryUse use) {
        DeviceBuffer b = dev.alloc(type, Math.max(1, count));
        b.zero(s);
        owned.add(b);
        if (use == null) memory.allocated(b, b.bytes());
        else memory.allocated(b, b.bytes(), use);
        return b;
    }

    /**
     * One of the backend's own scratch buffers (kernel workspaces, the multi-tensor tables). A grown one replaces the
     * old, which stays allocated until close: a captured graph may still point at it.
     */
    private DeviceBuffer scratch(DType type, long count) {
        return alloc(type, count, MemoryUse.SCRATCH);
    }

    @Override
    public MemoryLedger memory() {
        return memory;
    }

    private static long count(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative extent in shape " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    @Override
    public Tensor tensor(int... shape) {
        return new GpuTensor(shape, alloc(DType.F32, count(shape)));
    }

    @Override
    public Tensor activation(int... shape) {
        return new GpuTensor(shape, alloc(DType.BF16, count(shape)));
    }

    @Override
    public IntTensor intTensor(int... shape) {
        return new GpuIntTensor(shape, alloc(DType.I32, count(shape)));
    }

    @Override
    public void free(Tensor x) {
        GpuTensor g = t(x);
        s.synchronize();  // no enqueued op may still use it
        release(g.buf);
        if (g.half != null) release(g.half);
    }

    @Override
    public void free(IntTensor x) {
        s.synchronize();
        release(b(x));
    }

    private void release(DeviceBuffer buf) {
        if (!owned.remove(buf)) return;
        memory.released(buf);
        Staging st = staging.remove(buf);
        if (st != null) st.close();
        buf.close();
    }

    private static GpuTensor t(Tensor x) {
        if (x instanceof GpuTensor g) return g;
        throw new IllegalArgumentException("not a GPU tensor: " + (x == null ? "null" : x.getClass().getSimpleName()));
    }

    private static DeviceBuffer b(Tensor x) {
        return x == null ? null : t(x).buf;
    }

    private static DeviceBuffer b(IntTensor x) {
        if (x instanceof GpuIntTensor g) return g.buf;
        throw new IllegalArgumentException("not a GPU int tensor: " + (x == null ? "null" : x.getClass().getSimpleName()));
    }

    /** The op reads this tensor as bf16 storage (the kernel's argument type). */
    private static DeviceBuffer bf16(Tensor x, String op, String what) {
        GpuTensor g = t(x);
        if (!g.isBf16()) {
            throw new IllegalArgumentException(op + ": " + what + " must be a bf16 activation (Backend.activation), not "
                    + g);
        }
        return g.buf;
    }

    private static DeviceBuffer f32(Tensor x, String op, String what) {
        GpuTensor g = t(x);
        if (g.isBf16()) throw new IllegalArgumentException(op + ": " + what + " must be an fp32 tensor, not " + g);
        return g.buf;
    }

    private static void sameSize(long a, long b, String op) {
        if (a != b) throw new IllegalArgumentException(op + ": size mismatch, " + a + " vs " + b);
    }

    /** After an op wrote an fp32 weight: refresh its bf16 copy so the next GEMM reads the new values. */
    private void wrote(Tensor x) {
        GpuTensor g = t(x);
        if (g.halfMaintained) k.convert(s, g.buf, g.half, g.buf.count());
    }

    /**
     * The EMA shadow of a weight is a weight too (evaluation multiplies by it): when the live weight has a kept bf16
     * copy, the shadow gets one now, in the eager step before any capture, so that the captured EMA update writes
     * it. Made later (at the first evaluation), a graph recorded without it would leave it stale.
     */
    private void followBf16Copy(Tensor shadow, Tensor live) {
        GpuTensor sh = t(shadow), lv = t(live);
        if (lv.halfMaintained && !sh.halfMaintained && !sh.isBf16()) gemmOperand(shadow, true);
    }

    /** The bf16 copy of a weight as the GEMMs see it, widened (tests: the copy must follow the fp32 weight). */
    float[] readBf16Copy(Tensor x) {
        GpuTensor g = t(x);
        s.synchronize();
        return g.half == null ? null : g.half.downloadBf16();
    }

    /**
     * The bf16 storage a GEMM reads for this operand. A weight's copy is made once and kept current by the writers
     * ({@link #wrote}); any other fp32 operand is cast now.
     */
    private DeviceBuffer gemmOperand(Tensor x, boolean weight) {
        GpuTensor g = t(x);
        if (g.isBf16()) return g.buf;
        if (g.half == null) {
            g.half = alloc(DType.BF16, g.buf.count(), weight ? MemoryUse.WEIGHT_COPIES : MemoryUse.SCRATCH);
            k.convert(s, g.buf, g.half, g.buf.count());
            g.halfMaintained = weight;
        } else if (!g.halfMaintained) {
            k.convert(s, g.buf, g.half, g.buf.count());
        }
        return g.half;
    }

    @Override
    public void write(Tensor dst, float[] src) {
        GpuTensor g = t(dst);
        sameSize(g.buf.count(), src.length, "write");
        if (g.isBf16()) g.buf.uploadBf16(src);
        else g.buf.upload(src);
        wrote(dst);
    }

    @Override
    public float[] read(Tensor src) {
        GpuTensor g = t(src);
        s.synchronize();
        return g.isBf16() ? g.buf.downloadBf16() : g.buf.downloadFloats();
    }

    @Override
    public void writeInts(IntTensor dst, int[] src) {
        sameSize(b(dst).count(), src.length, "writeInts");
        b(dst).upload(src);
    }

    @Override
    public int[] readInts(IntTensor src) {
        s.synchronize();
        return b(src).downloadInts();
    }

    @Override
    public void zero(Tensor x) {
        t(x).buf.zero(s);
        wrote(x);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        GpuTensor a = t(src), d = t(dst);
        sameSize(a.buf.count(), d.buf.count(), "copy");
        if (a.buf.type() == d.buf.type()) d.buf.copyFrom(a.buf, s);
        else k.convert(s, a.buf, d.buf, a.buf.count());
        wrote(dst);
    }

    @Override
    public void broadcastRow(Tensor row, Tensor dst) {
        int d = row.dim(-1);
        k.broadcastRow(s, f32(row, "broadcastRow", "row"), b(dst), t(dst).buf.count() / d, d);
        wrote(dst);
    }

    @Override
    public void broadcastRowToSlots(Tensor row, Tensor dst, int[] slots) {
        if (slots.length == 0) return;
        int d = row.dim(-1);
        long per = t(dst).buf.count() / dst.dim(0);
        for (int slot : slots) {
            if (slot < 0 || slot >= dst.dim(0)) throw new IllegalArgumentException("slot " + slot + " outside the batch");
        }
        if (slotList == null || slotList.count() < slots.length) slotList = scratch(DType.I32, Math.max(slots.length, 64));
        slotList.upload(slots);
        k.broadcastRowSlots(s, f32(row, "broadcastRowToSlots", "row"), b(dst), slotList, slots.length, per, d);
        wrote(dst);
    }

    @Override
    public RopeTables rope(int seq, int headDim, double theta) {
        double[] cos = new double[seq * headDim], sin = new double[seq * headDim];
        RefOps.ropeTables(seq, headDim, theta, cos, sin);   // angles in double, rounded once, as on the CPU
        Tensor c = tensor(seq, headDim), sn = tensor(seq, headDim);
        write(c, toFloats(cos));
        write(sn, toFloats(sin));
        return new RopeTables(c, sn, seq, headDim);
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    // ---- input embedding ---------------------------------------------------------------------------------------------

    @Override
    public void embed(IntTensor tokens, IntTensor puzzleIds, Tensor embed, Tensor table, Tensor x, float scale) {
        int len = tokens.dim(1);
        k.embeddingForward(s, b(tokens), b(puzzleIds), f32(embed, "embed", "embed"), f32(table, "embed", "table"),
                bf16(x, "embed", "x"), x.dim(0), len, x.dim(2), x.dim(1) - len, scale);
    }

    @Override
    public void embedInject(IntTensor tokens, IntTensor puzzleIds, Tensor embed, Tensor table, Tensor x, float scale,
                            Tensor a, Tensor bb, Tensor next) {
        int len = tokens.dim(1);
        long n = t(x).buf.count();
        sameSize(t(a).buf.count(), n, "embedInject");
        sameSize(t(bb).buf.count(), n, "embedInject");
        sameSize(t(next).buf.count(), n, "embedInject");
        k.embeddingForward(s, b(tokens), b(puzzleIds), f32(embed, "embedInject", "embed"),
                f32(table, "embedInject", "table"), bf16(x, "embedInject", "x"), x.dim(0), len, x.dim(2),
                x.dim(1) - len, scale, bf16(a, "embedInject", "a"), bf16(bb, "embedInject", "b"),
                bf16(next, "embedInject", "next"));
    }

    @Override
    public void embedBackward(IntTensor tokens, Tensor dx, Tensor dEmbed, Tensor dPuzzleSlots, float scale) {
        int len = tokens.dim(1), batch = dx.dim(0), dim = dx.dim(2), vocab = dEmbed.dim(0);
        long need = GpuKernels.embeddingPartialFloats(batch, len, vocab, dim);
        if (embedPartial == null || embedPartial.count() < need) embedPartial = scratch(DType.F32, need);
        k.embeddingBackward(s, b(tokens), f32(dx, "embedBackward", "dx"), f32(dEmbed, "embedBackward", "dEmbed"),
                f32(dPuzzleSlots, "embedBackward", "dPuzzleSlots"), embedPartial, batch, len, dim, dx.dim(1) - len,
                vocab, scale);
    }

    private DeviceBuffer embedPartial;  // the embedding backward's per-chunk sums, made on first use

    // ---- elementwise -------------------------------------------------------------------------------------------------

    @Override
    public void add(Tensor a, Tensor bb, Tensor c, Tensor out) {
        long n = t(out).buf.count();
        sameSize(t(a).buf.count(), n, "add");
        sameSize(t(bb).buf.count(), n, "add");
        if (c != null) sameSize(t(c).buf.count(), n, "add");
        k.add3(s, b(a), b(bb), b(c), b(out), n);
        wrote(out);
    }

    @Override
    public void accumulate(Tensor acc, Tensor x) {
        sameSize(t(acc).buf.count(), t(x).buf.count(), "accumulate");
        k.accumulate(s, b(acc), b(x), t(acc).buf.count());
        wrote(acc);
    }

    // ---- linear layers -------------------------------------------------------------------------------------------------

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        int n = w.dim(0), kk = w.dim(1);
        int m = Math.toIntExact(t(x).buf.count() / kk);
        sameSize((long) m * n, t(y).buf.count(), "linear");
        // y [m, n] = x [m, k] w [n, k]^T
        blas.gemm(s, false, true, m, n, kk, 1f, gemmOperand(x, false), kk, gemmOperand(w, true), kk, 0f, b(y), n);
        if (bias != null) k.biasAdd(s, b(y), f32(bias, "linear", "bias"), m, n);
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw,
                               Tensor dbias) {
        int n = w.dim(0), kk = w.dim(1);
        int m = Math.toIntExact(t(x).buf.count() / kk);
        DeviceBuffer dyh = gemmOperand(dy, false);
        if (dx != null) {
            // dx [m, k] = dy [m, n] w [n, k]
            blas.gemm(s, false, false, m, kk, n, 1f, dyh, n, gemmOperand(w, true), kk, accumulateDx ? 1f : 0f, b(dx), kk);
        }
        // dw [n, k] += dy^T [n, m] x [m, k], fp32 accumulation into the fp32 gradient
        if (dw != null) {
            blas.gemm(s, true, false, n, kk, m, 1f, dyh, n, gemmOperand(x, false), kk, 1f,
                    f32(dw, "linearBackward", "dw"), kk);
        }
        if (dbias != null) k.biasGrad(s, b(dy), f32(dbias, "linearBackward", "dbias"), m, n);
    }

    // ---- 16-byte-aligned GEMM operands ---------------------------------------------------------------------------------

    /**
     * -Dtrm.gemm.align=true|false (default true), read when a backend opens: GEMM operands whose leading dimension
     * is not 16-byte aligned are handed to cuBLAS on a padded pitch ({@link #alignedWeight}, and the token mixer's
     * weight-gradient scratch). false restores the unaligned GEMMs, so that a device run can measure the difference.
     */
    static final String GEMM_ALIGN = "trm.gemm.align";

    private static boolean gemmAlignSetting() {
        String v = System.getProperty(GEMM_ALIGN, "true");
        return switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("-D" + GEMM_ALIGN + " must be true or false, not " + v);
        };
    }

    /** cols rounded up to a whole number of 16-byte units of the type (bf16: 8 elements, fp32: 4). */
    public static int alignedLd(int cols, DType type) {
        int per = 16 / type.bytes();
        return (cols + per - 1) / per * per;
    }

    /** A GEMM operand as cuBLAS reads it: storage and leading dimension (elements). */
    private record Operand(DeviceBuffer buf, int ld) {}

    /**
     * The weight w [rows, cols] as a GEMM operand. Its bf16 copy ({@link #gemmOperand}) as it is where cols is a
     * multiple of 8 (16-byte rows) or the switch is off; otherwise that copy re-laid by pad_cols (linear.cu) into
     * padScratch [rows, ld] with ld = cols rounded up to 8: cuBLAS's fast tensor-core kernels want 16-byte-aligned
     * leading dimensions (Hopper's TMA-based ones need them), and the token mixer's gate_up weight [2I_S, S] has rows
     * of S = 97 elements, 194 bytes. Made at every use, in stream order: the weight changes at every optimizer step,
     * inside a captured graph, so no host-side check could tell when a kept copy went stale; the copy is one small
     * launch (200 KiB for [1024, 97]) before a GEMM of ~78 GFLOP at batch 768. One scratch serves every call: a GEMM
     * reads one padded operand at most, and the next pad runs after it on the same stream.
     */
    private Operand alignedWeight(Tensor w) {
        int rows = w.dim(0), cols = w.dim(1);
        DeviceBuffer half = gemmOperand(w, true);
        int ld = alignedLd(cols, DType.BF16);
        if (!alignGemms || ld == cols) return new Operand(half, cols);
        long need = (long) rows * ld;
        if (padScratch == null || padScratch.count() < need) padScratch = scratch(DType.BF16, need);
        k.padCols(s, half, padScratch, rows, cols, ld);
        paddedGemmOperands++;
        return new Operand(padScratch, ld);
    }

    @Override
    public void tokenMix(Tensor w, Tensor x, Tensor y) {
        int n = w.dim(0), sin = w.dim(1), batch = x.dim(0), d = x.dim(2);
        // y[b] [n, d] = w [n, sin] x[b] [sin, d], w shared by every batch row (stride 0)
        Operand wa = alignedWeight(w);
        blas.gemmStridedBatched(s, false, false, n, d, sin, 1f, wa.buf(), wa.ld(), 0, gemmOperand(x, false),
                d, (long) sin * d, 0f, b(y), d, (long) n * d, batch);
    }

    /** fp32 elements the token mixer's per-batch weight gradients may use before they are summed (64 MiB). */
    private static final long MIX_SCRATCH_FLOATS = 16L << 20;

    @Override
    public void tokenMixBackward(Tensor w, Tensor x, Tensor dy, Tensor dx, boolean accumulateDx, Tensor dw) {
        int n = w.dim(0), sin = w.dim(1), batch = x.dim(0), d = x.dim(2);
        DeviceBuffer dyh = gemmOperand(dy, false);
        if (dx != null) {
            // dx[b] [sin, d] = w^T [sin, n] dy[b] [n, d]
            Operand wa = alignedWeight(w);
            blas.gemmStridedBatched(s, true, false, sin, d, n, 1f, wa.buf(), wa.ld(), 0, dyh, d, (long) n * d,
                    accumulateDx ? 1f : 0f, b(dx), d, (long) sin * d, batch);
        }
        if (dw == null) return;
        DeviceBuffer xh = gemmOperand(x, false);
        // dw [n, sin] += sum_b dy[b] [n, d] x[b]^T [d, sin]: b and d do not fold into one GEMM stride, so each batch
        // row's product lands in scratch [c, n, ld] and one pass sums them into dw (in chunks of batch rows bounding
        // the scratch). ld is sin rounded up to 16 bytes (4 floats; sin = 97: 388-byte rows), and sum_batches
        // compacts, unless sin is aligned already or the switch is off.
        int ld = alignGemms ? alignedLd(sin, DType.F32) : sin;
        long per = (long) n * ld;
        int chunk = (int) Math.max(1, Math.min(batch, MIX_SCRATCH_FLOATS / per));
        if (mixScratch == null || mixScratch.count() < chunk * per) mixScratch = scratch(DType.F32, chunk * per);
        DeviceBuffer dwb = f32(dw, "tokenMixBackward", "dw");
        for (int b0 = 0; b0 < batch; b0 += chunk) {
            int c = Math.min(chunk, batch - b0);
            blas.gemmStridedBatchedAt(s, false, true, n, sin, d, 1f, dyh, (long) b0 * n * d, d, (long) n * d, xh,
                    (long) b0 * sin * d, d, (long) sin * d, 0f, mixScratch, 0, ld, per, c);
            k.sumBatches(s, mixScratch, dwb, c, n, sin, ld);
        }
    }

    // ---- attention -----------------------------------------------------------------------------------------------------

    @Override
    public void attention(Tensor qkv, Tensor out, Tensor lse, RopeTables rope) {
        int heads = lse.dim(1);
        k.attentionForward(s, bf16(qkv, "attention", "qkv"), bf16(out, "attention", "out"),
                f32(lse, "attention", "lse"), rope == null ? null : b(rope.cos()), rope == null ? null : b(rope.sin()),
                qkv.dim(0), qkv.dim(1), heads, out.dim(2) / heads);
    }

    @Override
    public void attentionBackward(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, RopeTables rope) {
        int heads = lse.dim(1);
        k.attentionBackward(s, bf16(qkv, "attentionBackward", "qkv"), bf16(out, "attentionBackward", "out"),
                f32(lse, "attentionBackward", "lse"), bf16(dout, "attentionBackward", "dout"),
                bf16(dqkv, "attentionBackward", "dqkv"), rope == null ? null : b(rope.cos()),
                rope == null ? null : b(rope.sin()), qkv.dim(0), qkv.dim(1), heads, out.dim(2) / heads);
    }

    // ---- SwiGLU --------------------------------------------------------------------------------------------------------

    @Override
    public void swiglu(Tensor gu, Tensor out, int inter) {
        int rows = Math.toIntExact(t(gu).buf.count() / (2L * inter));
        k.swigluForward(s, bf16(gu, "swiglu", "gu"), bf16(out, "swiglu", "out"), rows, inter);
    }

    @Override
    public void swigluBackward(Tensor gu, Tensor dout, Tensor dgu, Tensor out, int inter) {
        int rows = Math.toIntExact(t(gu).buf.count() / (2L * inter));
        if (out != null) sameSize((long) rows * inter, t(out).buf.count(), "swigluBackward out");
        k.swigluBackward(s, bf16(gu, "swigluBackward", "gu"), bf16(dout, "swigluBackward", "dout"),
                bf16(dgu, "swigluBackward", "dgu"), out == null ? null : bf16(out, "swigluBackward", "out"), rows, inter);
    }

    /**
     * gu = x w^T, h = silu(gate) * up on one of two paths, chosen per shape (rows M, D, I, keepGu): cuBLAS + swiglu_forward
     * (gu always written), or the fused gemm_swiglu (gemm_swiglu.cu: tensor cores, SwiGLU in the epilogue, gu written
     * only when keepGu). See {@link #swigluPath} for the choice and {@link #swigluChoices} for what was chosen.
     */
    @Override
    public void linearSwiglu(Tensor x, Tensor w, Tensor gu, boolean keepGu, Tensor h, int inter) {
        int d = w.dim(1);
        if (w.dim(0) != 2 * inter) {
            throw new IllegalArgumentException("linearSwiglu: w must be [2I, D] = [" + 2 * inter + ", D], not "
                    + w.dim(0) + " rows");
        }
        int m = Math.toIntExact(t(x).buf.count() / d);
        sameSize((long) m * d, t(x).buf.count(), "linearSwiglu x");
        sameSize(2L * m * inter, t(gu).buf.count(), "linearSwiglu gu");
        sameSize((long) m * inter, t(h).buf.count(), "linearSwiglu h");
        bf16(gu, "linearSwiglu", "gu");
        bf16(h, "linearSwiglu", "h");
        Runnable fused = () -> k.gemmSwiglu(s, gemmOperand(x, false), gemmOperand(w, true), keepGu ? b(gu) : null, b(h),
                m, d, inter);
        Runnable unfused = () -> {
            linear(x, w, null, gu);
            swiglu(gu, h, inter);
        };
        boolean fuse = swigluPath(SwigluOp.MLP, "M " + m + ", D " + d + ", I " + inter, keepGu,
                GpuKernels.gemmSwigluUnsupported(m, d, inter), (long) m * inter * d, fused, unfused);
        (fuse ? fused : unfused).run();
    }

    /**
     * The token mixer's gu[b] = w x[b], out[b] = silu(gate) * up (w [2I, S], x [B, S, D], gu [B, 2I, D], out [B, I, D],
     * inter = I) on one of two paths, chosen per shape (B, S, D, I, keepGu) exactly as {@link #linearSwiglu}: the
     * cuBLAS strided-batched GEMM ({@link #tokenMix}, gu always written) + swiglu_forward, or the fused gemm_mix_swiglu
     * (gemm_mix_swiglu.cu, gu written only when keepGu).
     */
    @Override
    public void tokenMixSwiglu(Tensor w, Tensor x, Tensor gu, boolean keepGu, Tensor out, int inter) {
        int seq = w.dim(1), batch = x.dim(0), d = x.dim(2);
        if (w.dim(0) != 2 * inter || x.dim(1) != seq) {
            throw new IllegalArgumentException("tokenMixSwiglu: w must be [2I, S] = [" + 2 * inter + ", " + x.dim(1)
                    + "], not [" + w.dim(0) + ", " + seq + "]");
        }
        sameSize(2L * batch * inter * d, t(gu).buf.count(), "tokenMixSwiglu gu");
        sameSize((long) batch * inter * d, t(out).buf.count(), "tokenMixSwiglu out");
        bf16(gu, "tokenMixSwiglu", "gu");
        bf16(out, "tokenMixSwiglu", "out");
        Runnable fused = () -> k.gemmMixSwiglu(s, gemmOperand(w, true), gemmOperand(x, false), keepGu ? b(gu) : null,
                b(out), batch, seq, d, inter);
        Runnable unfused = () -> {
            tokenMix(w, x, gu);
            swiglu(gu, out, inter * d);
        };
        boolean fuse = swigluPath(SwigluOp.MIX, "B " + batch + ", S " + seq + ", D " + d + ", I " + inter, keepGu,
                GpuKernels.gemmMixSwigluUnsupported(batch, seq, d, inter), (long) batch * inter * d * seq, fused,
                unfused);
        (fuse ? fused : unfused).run();
    }

    /**
     * The token mixer's mix[b] = w x[b] (w [S, I], x [B, I, D]), then out = (residual + mix) * rstd normed over S
     * (residual, scratch, out [B, S, D], rstd [B, D]) on one of two paths, chosen per shape (B, S, D, I) exactly as
     * {@link #linearSwiglu}: the cuBLAS strided-batched GEMM ({@link #tokenMix} into scratch) + rmsnorm_seq_forward, or
     * the fused gemm_mix_norm (gemm_mix_norm.cu: tensor cores, the sum and the norm in the epilogue on fp32, scratch
     * unwritten). Both paths read w, x and residual and write only scratch, out and rstd, so timing them on the call's
     * own tensors is harmless, as long as out is not residual (refused).
     */
    @Override
    public void tokenMixNorm(Tensor w, Tensor x, Tensor residual, Tensor scratch, Tensor out, Tensor rstd, float eps) {
        int seq = w.dim(0), inter = w.dim(1), batch = x.dim(0), d = x.dim(2);
        if (x.dim(1) != inter) {
            throw new IllegalArgumentException("tokenMixNorm: w [S, I] = [" + seq + ", " + inter
                    + "] does not match x's I = " + x.dim(1));
        }
        long rows = (long) batch * seq * d;
        sameSize(rows, t(residual).buf.count(), "tokenMixNorm residual");
        sameSize(rows, t(scratch).buf.count(), "tokenMixNorm scratch");
        sameSize(rows, t(out).buf.count(), "tokenMixNorm out");
        sameSize((long) batch * d, t(rstd).buf.count(), "tokenMixNorm rstd");
        if (b(out) == b(residual)) throw new IllegalArgumentException("tokenMixNorm: out must not alias residual");
        Runnable fused = () -> k.gemmMixNorm(s, gemmOperand(w, true), gemmOperand(x, false),
                bf16(residual, "tokenMixNorm", "residual"), bf16(out, "tokenMixNorm", "out"),
                f32(rstd, "tokenMixNorm", "rstd"), batch, seq, d, inter, eps);
        Runnable unfused = () -> {
            tokenMix(w, x, scratch);
            rmsNormSeq(residual, scratch, out, rstd, eps);
        };
        boolean fuse = swigluPath(SwigluOp.MIX_NORM, "B " + batch + ", S " + seq + ", D " + d + ", I " + inter, false,
                GpuKernels.gemmMixNormUnsupported(batch, seq, d, inter), (long) batch * seq * inter * d, fused,
                unfused);
        (fuse ? fused : unfused).run();
    }

    /**
     * The ops whose GEMM has a fused kernel, each chosen per shape against its unfused path (the two GEMM + SwiGLU ops
     * and the token mixer's down GEMM + residual + RMSNorm): what they are called, which kernel fuses them, and the
     * system property that forces a path.
     */
    public enum SwigluOp {
        MLP("MLP gate_up + SwiGLU", "gemm_swiglu", "cuBLAS + swiglu_forward", SWIGLU_FUSED),
        MIX("token mixer gate_up + SwiGLU", "gemm_mix_swiglu", "cuBLAS strided batched + swiglu_forward", SWIGLU_FUSED),
        MIX_NORM("token mixer down + residual + RMSNorm", "gemm_mix_norm",
                "cuBLAS strided batched + rmsnorm_seq_forward", MIXNORM_FUSED);

        final String label, kernel, unfused, property;

        SwigluOp(String label, String kernel, String unfused, String property) {
            this.label = label;
            this.kernel = kernel;
            this.unfused = unfused;
            this.property = property;
        }

        /**
         * The property that sets this op's path now: its own when set; trm.mixnorm.fused, when not set, follows
         * trm.swiglu.fused (so -Dtrm.swiglu.fused=false runs every GEMM on cuBLAS).
         */
        String governingProperty() {
            return System.getProperty(property) != null ? property : SWIGLU_FUSED;
        }

        /** auto (the default), true or false: the governing property's value. */
        public String mode() {
            return System.getProperty(governingProperty(), "auto");
        }
    }

    /** -Dtrm.swiglu.fused=auto|true|false: the two GEMM + SwiGLU ops (and the mix norm's default). */
    static final String SWIGLU_FUSED = "trm.swiglu.fused";
    /** -Dtrm.mixnorm.fused=auto|true|false: the token mixer's down GEMM + residual + RMSNorm (unset: SWIGLU_FUSED). */
    static final String MIXNORM_FUSED = "trm.mixnorm.fused";

    /**
     * One shape's decision for one op: fusedMs and unfusedMs are the median device times (ms, CUDA events) when it
     * was timed, NaN when it was not (forced, the emulated device, or a shape the fused kernel cannot take); why says
     * which. shape names the op's dimensions (M, D, I for the MLP; B, S, D, I for the token mixer).
     */
    public record SwigluChoice(SwigluOp op, String shape, boolean keepGu, boolean fused, double fusedMs,
                               double unfusedMs, String why) {
        @Override
        public String toString() {
            String times = Double.isNaN(fusedMs) ? "" : String.format(" (fused %.3f ms, unfused %.3f ms)",
                    fusedMs, unfusedMs);
            return String.format("%s [%s]%s: %s%s, %s", op.label, shape, keepGu ? " keeping gu" : "",
                    fused ? "fused " + op.kernel : op.unfused, times, why);
        }
    }

    private record SwigluShape(SwigluOp op, String shape, boolean keepGu) {}

    private final java.util.Map<SwigluShape, SwigluChoice> swigluChoices = new java.util.LinkedHashMap<>();
    private static final int SWIGLU_TIMING_REPEATS = 5;
    /**
     * The emulated device's auto choice: fused up to this many multiply-adds per half (M I D for the MLP, B I D S for
     * the token mixer's gate_up; B S I D, the whole GEMM, for its down + norm), cuBLAS above. The emulator runs each
     * WMMA product on all 32 lanes of a warp (some 40x the work of its plain GEMM here), so fusing every shape made the
     * emulated model and CLI tests about 40% slower (+140 s). At 2^19 the whole-model parity checks (tiny mlp_t and
     * attention models, M <= 64, training with backward and a captured solve) and GpuOpsParity run fused; the longer
     * loops (the training curve at batch 8, the CLI, the full-size preset) take cuBLAS. -Dtrm.swiglu.fused=true fuses
     * every shape (and -Dtrm.mixnorm.fused=true the mix norm's alone).
     */
    private static final long EMULATED_FUSED_MACS = 1L << 19;

    /**
     * The path each linearSwiglu, tokenMixSwiglu and tokenMixNorm shape took so far, in first-use order (the benchmarks
     * print them).
     */
    public List<SwigluChoice> swigluChoices() {
        return List.copyOf(swigluChoices.values());
    }

    /**
     * Whether this shape of this op takes its fused kernel. -Dtrm.swiglu.fused=true or false forces it for every op,
     * the mix norm's included unless -Dtrm.mixnorm.fused sets that one ({@link SwigluOp#setting}; true fails with the
     * reason on a shape the kernel cannot take); auto (the default) decides at the first call of a shape and remembers:
     * a shape the kernel cannot take (unsupported non-null) goes to cuBLAS; the emulated device takes the fused kernel
     * up to EMULATED_FUSED_MACS (macs), untimed (timing the emulator says nothing about a GPU; this way the tests
     * exercise the new kernels on every small model, deterministically); on CUDA both paths run SWIGLU_TIMING_REPEATS
     * times after a warm-up each, timed with events, and the lower median wins. The timing runs on the call's own
     * tensors (both paths read the inputs and write only the outputs and scratch: gu, h; scratch, out, rstd), so the
     * call's result is simply the chosen path's run after it. It must not happen while a graph is being captured
     * (nothing would run, and the events cannot be waited on): the first training step and the first solve run eagerly
     * before capture, which is where each shape is decided. A shape first seen during capture takes cuBLAS there
     * without being remembered.
     */
    private boolean swigluPath(SwigluOp op, String shape, boolean keepGu, String unsupported, long macs, Runnable fused,
                               Runnable unfused) {
        SwigluShape key = new SwigluShape(op, shape, keepGu);
        SwigluChoice known = swigluChoices.get(key);
        if (known != null) return known.fused();
        String name = op.governingProperty(), mode = op.mode(), setting = name + "=" + mode;
        SwigluChoice c;
        switch (mode) {
            case "true" -> {
                if (unsupported != null) throw new IllegalArgumentException("-D" + setting + ": " + op.kernel
                        + ": " + unsupported);
                c = new SwigluChoice(op, shape, keepGu, true, Double.NaN, Double.NaN, "forced (" + setting + ")");
            }
            case "false" -> c = new SwigluChoice(op, shape, keepGu, false, Double.NaN, Double.NaN,
                    "forced (" + setting + ")");
            case "auto" -> {
                if (unsupported != null) {
                    c = new SwigluChoice(op, shape, keepGu, false, Double.NaN, Double.NaN,
                            op.kernel + " cannot take it: " + unsupported);
                } else if (dev.backend() != CUDA) {
                    boolean small = macs <= EMULATED_FUSED_MACS;
                    c = new SwigluChoice(op, shape, keepGu, small, Double.NaN, Double.NaN, small
                            ? "emulated device: fused, untimed (emulator timings mean nothing)"
                            : "emulated device: above " + EMULATED_FUSED_MACS + " multiply-adds"
                                    + (op == SwigluOp.MIX_NORM ? "" : " per half") + ", cuBLAS (untimed)");
                } else if (capturing) {
                    return false;
                } else {
                    double fusedMs = timeMedian(1, SWIGLU_TIMING_REPEATS, fused);
                    double unfusedMs = timeMedian(1, SWIGLU_TIMING_REPEATS, unfused);
                    c = new SwigluChoice(op, shape, keepGu, fusedMs < unfusedMs, fusedMs, unfusedMs,
                            "timed (median of " + SWIGLU_TIMING_REPEATS + ")");
                }
            }
            default -> throw new IllegalArgumentException("-D" + name + " must be auto, true or false, not " + mode);
        }
        swigluChoices.put(key, c);
        return c.fused();
    }

    /**
     * Median device time in ms (CUDA events, at least 1e-6) of work enqueued on s, over {@code repeats} runs after
     * {@code warmups} untimed ones. Never while capturing: nothing would run.
     */
    private double timeMedian(int warmups, int repeats, Runnable work) {
        try (dev.trm.gpu.Event t0 = dev.newEvent(); dev.trm.gpu.Event t1 = dev.newEvent()) {
            for (int r = 0; r < warmups; r++) work.run();
            double[] ms = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                t0.record(s);
                work.run();
                t1.record(s);
                t1.synchronize();
                ms[r] = Math.max(1e-6, t1.millisSince(t0));
            }
            Arrays.sort(ms);
            return ms[repeats / 2];
        }
    }

    // ---- residual + RMSNorm --------------------------------------------------------------------------------------------

    @Override
    public void rmsNorm(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps) {
        int d = x.dim(-1);
        int rows = Math.toIntExact(t(x).buf.count() / d);
        k.rmsNormForward(s, bf16(x, "rmsNorm", "x"), r == null ? null : bf16(r, "rmsNorm", "r"),
                bf16(out, "rmsNorm", "out"), f32(rstd, "rmsNorm", "rstd"), rows, d, eps);
    }

    @Override
    public void rmsNormInject(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps, Tensor a, Tensor bb,
                              Tensor next) {
        int d = x.dim(-1);
        int rows = Math.toIntExact(t(x).buf.count() / d);
        sameSize(t(a).buf.count(), t(out).buf.count(), "rmsNormInject");
        sameSize(t(next).buf.count(), t(out).buf.count(), "rmsNormInject");
        if (bb != null) sameSize(t(bb).buf.count(), t(out).buf.count(), "rmsNormInject");
        k.rmsNormForward(s, bf16(x, "rmsNormInject", "x"), r == null ? null : bf16(r, "rmsNormInject", "r"),
                bf16(out, "rmsNormInject", "out"), f32(rstd, "rmsNormInject", "rstd"), rows, d, eps,
                bf16(a, "rmsNormInject", "a"), bb == null ? null : bf16(bb, "rmsNormInject", "b"),
                bf16(next, "rmsNormInject", "next"));
    }

    @Override
    public void rmsNormBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh) {
        int d = out.dim(-1);
        int rows = Math.toIntExact(t(out).buf.count() / d);
        k.rmsNormBackward(s, bf16(out, "rmsNormBackward", "out"), f32(rstd, "rmsNormBackward", "rstd"),
                bf16(dout, "rmsNormBackward", "dout"), bf16(dh, "rmsNormBackward", "dh"), rows, d);
    }

    @Override
    public void rmsNormSeq(Tensor x, Tensor r, Tensor out, Tensor rstd, float eps) {
        k.rmsNormSeqForward(s, bf16(x, "rmsNormSeq", "x"), r == null ? null : bf16(r, "rmsNormSeq", "r"),
                bf16(out, "rmsNormSeq", "out"), f32(rstd, "rmsNormSeq", "rstd"), x.dim(0), x.dim(1), x.dim(2), eps);
    }

    @Override
    public void rmsNormSeqBackward(Tensor out, Tensor rstd, Tensor dout, Tensor dh) {
        k.rmsNormSeqBackward(s, bf16(out, "rmsNormSeqBackward", "out"), f32(rstd, "rmsNormSeqBackward", "rstd"),
                bf16(dout, "rmsNormSeqBackward", "dout"), bf16(dh, "rmsNormSeqBackward", "dh"), out.dim(0),
                out.dim(1), out.dim(2));
    }

    // ---- heads and losses ------------------------------------------------------------------------------------------------

    @Override
    public void sliceSeq(Tensor src, int from, Tensor dst) {
        k.sliceSeq(s, b(src), b(dst), src.dim(0), src.dim(1), dst.dim(1), src.dim(2), from, false);
        wrote(dst);
    }

    @Override
    public void sliceSeqBackward(Tensor dsrc, int from, Tensor dst) {
        k.sliceSeq(s, b(dsrc), b(dst), dst.dim(0), dst.dim(1), dsrc.dim(1), dst.dim(2), from, true);
        wrote(dst);
    }

    @Override
    public void crossEntropy(Tensor logits, IntTensor labels, boolean stablemax, double gradScale, Tensor perSeqLoss,
                             IntTensor seqCorrect, IntTensor tokensCorrect, Tensor dlogits) {
        k.tokenLoss(s, stablemax, bf16(logits, "crossEntropy", "logits"), b(labels),
                f32(perSeqLoss, "crossEntropy", "perSeqLoss"), b(seqCorrect),
                tokensCorrect == null ? null : b(tokensCorrect), bf16(dlogits, "crossEntropy", "dlogits"),
                logits.dim(0), logits.dim(1), logits.dim(2), (float) gradScale);
    }

    @Override
    public void haltingBce(Tensor q, IntTensor target, double gradScale, Tensor loss, Tensor dq) {
        int batch = q.dim(0);
        int stride = Math.toIntExact(t(q).buf.count() / batch);
        k.haltingBce(s, f32(q, "haltingBce", "q"), stride, b(target), f32(loss, "haltingBce", "loss"),
                f32(dq, "haltingBce", "dq"), batch, (float) gradScale);
    }

    /**
     * One launch (q_head.cu q_head_forward): slot 0 of y read in place, w's fp32 master rounded to bf16 as it is read
     * (so the q weight needs no bf16 copy); y0 is left unwritten.
     */
    @Override
    public void qHead(Tensor y, Tensor w, Tensor bias, Tensor y0, Tensor q) {
        int batch = y.dim(0), seq = y.dim(1), d = y.dim(2);
        checkQHead("qHead", y, w, bias, q);
        k.qHeadForward(s, bf16(y, "qHead", "y"), f32(w, "qHead", "w"), f32(bias, "qHead", "bias"),
                f32(q, "qHead", "q"), batch, seq, d);
    }

    /**
     * One launch (q_head.cu q_head_backward): the halting BCE, dw, dbias and g's slot 0 from y read in place, in a
     * fixed order (deterministic); y0 and dy0 are left alone.
     */
    @Override
    public void haltingBceBackward(Tensor q, IntTensor target, double gradScale, Tensor loss, Tensor dq, Tensor y,
                                   Tensor w, Tensor dw, Tensor dbias, Tensor g, Tensor y0, Tensor dy0) {
        int batch = y.dim(0), seq = y.dim(1), d = y.dim(2);
        String op = "haltingBceBackward";
        checkQHead(op, y, w, dbias, q);
        sameSize(2L * batch, t(dq).buf.count(), op + " dq");
        sameSize(batch, t(loss).buf.count(), op + " loss");
        sameSize(batch, b(target).count(), op + " target");
        sameSize(t(w).buf.count(), t(dw).buf.count(), op + " dw");
        sameSize(t(y).buf.count(), t(g).buf.count(), op + " g");
        k.qHeadBackward(s, f32(q, op, "q"), b(target), bf16(y, op, "y"), f32(w, op, "w"), f32(loss, op, "loss"),
                f32(dq, op, "dq"), f32(dw, op, "dw"), f32(dbias, op, "dbias"), bf16(g, op, "g"), batch, seq, d,
                (float) gradScale);
    }

    /** y [B, S, D], w [2, D], bias (or its gradient) [2], q [B, 1, 2]: the q head's shapes. */
    private static void checkQHead(String op, Tensor y, Tensor w, Tensor bias, Tensor q) {
        if (w.dim(0) != 2 || w.dim(-1) != y.dim(2)) {
            throw new IllegalArgumentException(op + ": w must be [2, D] with D = " + y.dim(2) + " (y's), not "
                    + Arrays.toString(w.shape()));
        }
        if (bias == null) throw new IllegalArgumentException(op + ": the q head has a bias");
        sameSize(2, t(bias).buf.count(), op + " bias");
        sameSize(2L * y.dim(0), t(q).buf.count(), op + " q");
    }

    // ---- optimizers -------------------------------------------------------------------------------------------------------

    @Override
    public void adamAtan2(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double wd, double beta1, double beta2,
                          long step) {
        // The schedule (lr, bias corrections) lives in device memory; it is uploaded once per distinct step, not per
        // parameter tensor.
        float[] values = GpuKernels.adamSchedule(lr, beta1, beta2, step);
        if (sched == null) sched = scratch(DType.F32, 3);
        if (!Arrays.equals(values, schedValues)) {
            sched.upload(values);
            schedValues = values;
        }
        GpuTensor pt = t(p);
        k.adamAtan2(s, f32(p, "adamAtan2", "p"), pt.halfMaintained ? pt.half : null, f32(g, "adamAtan2", "g"),
                f32(m, "adamAtan2", "m"), f32(v, "adamAtan2", "v"), pt.buf.count(), sched, (float) wd, (float) beta1,
                (float) beta2);
    }

    @Override
    public void ema(Tensor shadow, Tensor p, double rate) {
        followBf16Copy(shadow, p);
        GpuTensor st = t(shadow);
        k.ema(s, f32(shadow, "ema", "shadow"), st.halfMaintained ? st.half : null, f32(p, "ema", "p"),
                st.buf.count(), (float) rate);
    }

    @Override
    public void puzzleSignSgd(Tensor table, IntTensor slotIds, Tensor slotGrads, double lr, double wd) {
        k.puzzleSignSgd(s, f32(table, "puzzleSignSgd", "table"), table.dim(1), b(slotIds),
                f32(slotGrads, "puzzleSignSgd", "slotGrads"), slotIds.dim(0), (float) lr, null, 0, (float) wd);
        wrote(table);
    }

    @Override
    public void adamAtan2(Tensor p, Tensor g, Tensor m, Tensor v, Tensor schedule, double wd, double beta1,
                          double beta2) {
        // the schedule row [lr, 1 - beta1^t, 1 - beta2^t, ...] is the kernel's own sched layout
        GpuTensor pt = t(p);
        k.adamAtan2(s, f32(p, "adamAtan2", "p"), pt.halfMaintained ? pt.half : null, f32(g, "adamAtan2", "g"),
                f32(m, "adamAtan2", "m"), f32(v, "adamAtan2", "v"), pt.buf.count(),
                f32(schedule, "adamAtan2", "schedule"), (float) wd, (float) beta1, (float) beta2);
    }

    @Override
    public void puzzleSignSgd(Tensor table, IntTensor slotIds, Tensor slotGrads, Tensor schedule, double wd) {
        k.puzzleSignSgd(s, f32(table, "puzzleSignSgd", "table"), table.dim(1), b(slotIds),
                f32(slotGrads, "puzzleSignSgd", "slotGrads"), slotIds.dim(0), 0f,
                f32(schedule, "puzzleSignSgd", "schedule"), 3L * Float.BYTES, (float) wd);
        wrote(table);
    }

    // ---- optimizers over a group of tensors: one launch each ----------------------------------------------------------

    /**
     * The device-side table of a tensor group (see optimizer.cu: F addresses per tensor, then the prefix sums of the
     * counts), uploaded once; halves are the bf16 copies it was built with, so a tensor that became a GEMM weight
     * after the upload gets a fresh table rather than a stale copy.
     */
    private record GroupTable(DeviceBuffer table, int tensors, long total, DeviceBuffer[] halves) {}

    // keyed by the group's tensors in order (GpuTensor equality is identity), one map per op
    private final java.util.Map<List<Tensor>, GroupTable> adamTables = new java.util.HashMap<>(),
            emaTables = new java.util.HashMap<>();
    /** Table uploads so far (tests check that a repeated group call uploads nothing). */
    int groupTableUploads;

    private static DeviceBuffer halfOf(GpuTensor x) {
        return x.halfMaintained ? x.half : null;
    }

    /**
     * The table for columns[0..F) (columns[0] the written tensor, whose bf16 copy goes in field 1; the others in
     * fields 2 and up), made and uploaded synchronously on first use, and again only if a bf16 copy appeared since.
     */
    private GroupTable groupTable(java.util.Map<List<Tensor>, GroupTable> cache, String op, Tensor[]... columns) {
        int n = columns[0].length;
        for (Tensor[] c : columns) sameSize(n, c.length, op + " (tensor count)");
        Tensor[] key = new Tensor[n * columns.length];
        for (int c = 0; c < columns.length; c++) System.arraycopy(columns[c], 0, key, c * n, n);
        List<Tensor> k0 = Arrays.asList(key);
        GroupTable tab = cache.get(k0);
        if (tab != null) {
            boolean current = true;
            for (int i = 0; i < n && current; i++) current = halfOf(t(columns[0][i])) == tab.halves()[i];
            if (current) return tab;
        }
        // per tensor: the written tensor, its bf16 copy (0: none), then the other columns
        long[][] addresses = new long[n][columns.length + 1];
        long[] counts = new long[n];
        DeviceBuffer[] halves = new DeviceBuffer[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
            GpuTensor w = t(columns[0][i]);
            long count = f32(w, op, "tensor " + i).count();
            halves[i] = halfOf(w);
            addresses[i][0] = w.buf.address();
            addresses[i][1] = halves[i] == null ? 0 : halves[i].address();
            for (int c = 1; c < columns.length; c++) {
                DeviceBuffer other = f32(columns[c][i], op, "tensor " + i);
                sameSize(count, other.count(), op);
                addresses[i][1 + c] = other.address();
            }
            counts[i] = count;
            total += count;
        }
        int[] words = GpuKernels.multiTensorTable(addresses, counts);
        DeviceBuffer buf = tab != null ? tab.table() : scratch(DType.I32, words.length);  // same key, same size
        buf.upload(words);  // synchronous, so this must not happen while a graph is captured
        groupTableUploads++;
        tab = new GroupTable(buf, n, total, halves);
        cache.put(List.copyOf(k0), tab);
        return tab;
    }

    @Override
    public void adamAtan2All(Tensor[] p, Tensor[] g, Tensor[] m, Tensor[] v, Tensor schedule, double wd,
                             double beta1, double beta2) {
        GroupTable tab = groupTable(adamTables, "adamAtan2All", p, g, m, v);
        if (tab.total() == 0) return;
        k.adamAtan2Multi(s, tab.table(), tab.tensors(), tab.total(), f32(schedule, "adamAtan2All", "schedule"),
                (float) wd, (float) beta1, (float) beta2);
    }

    @Override
    public void emaAll(Tensor[] shadow, Tensor[] p, double rate) {
        for (int i = 0; i < shadow.length; i++) followBf16Copy(shadow[i], p[i]);
        GroupTable tab = groupTable(emaTables, "emaAll", shadow, p);
        if (tab.total() == 0) return;
        k.emaMulti(s, tab.table(), tab.tensors(), tab.total(), (float) rate);
    }

    // ---- deep supervision state ------------------------------------------------------------------------------------

    @Override
    public void actRefill(IntTensor halted, IntTensor freshInputs, IntTensor freshLabels, IntTensor freshIds,
                          IntTensor inputs, IntTensor labels, IntTensor ids, IntTensor steps, Tensor hInit,
                          Tensor lInit, Tensor y, Tensor z) {
        k.actRefill(s, b(halted), b(freshInputs), b(freshLabels), b(freshIds), b(inputs), b(labels), b(ids), b(steps),
                f32(hInit, "actRefill", "hInit"), f32(lInit, "actRefill", "lInit"), bf16(y, "actRefill", "y"),
                bf16(z, "actRefill", "z"), y.dim(0), inputs.dim(1), y.dim(1), y.dim(2));
    }

    @Override
    public void actHalt(Tensor q, IntTensor minSteps, IntTensor steps, IntTensor halted, int maxSteps) {
        int batch = steps.dim(0);
        k.actHalt(s, f32(q, "actHalt", "q"), Math.toIntExact(t(q).buf.count() / batch), b(minSteps), b(steps),
                b(halted), batch, maxSteps);
    }

    @Override
    public void trainMetrics(IntTensor tokensCorrect, IntTensor labels, IntTensor halted, IntTensor steps,
                             IntTensor seqCorrect, Tensor q, Tensor perSeqLoss, Tensor qLoss, Tensor ring,
                             IntTensor cursor) {
        int batch = halted.dim(0);
        k.trainMetrics(s, b(tokensCorrect), b(labels), b(halted), b(steps), b(seqCorrect),
                f32(q, "trainMetrics", "q"), Math.toIntExact(t(q).buf.count() / batch),
                f32(perSeqLoss, "trainMetrics", "perSeqLoss"), f32(qLoss, "trainMetrics", "qLoss"),
                f32(ring, "trainMetrics", "ring"), ring.dim(0), ring.dim(1), b(cursor), batch, labels.dim(1));
    }

    // ---- a solve's state on the device ------------------------------------------------------------------------------

    @Override
    public void zero(IntTensor x) {
        b(x).zero(s);
    }

    @Override
    public void solveRecord(Tensor logits, Tensor q, int step, int steps, boolean earlyHalt, IntTensor answers,
                            Tensor qHalts, IntTensor stepsUsed, IntTensor halted) {
        int rows = stepsUsed.dim(0);
        sameSize(t(qHalts).buf.count(), (long) rows * steps, "solveRecord qHalts");
        k.solveRecord(s, bf16(logits, "solveRecord", "logits"), f32(q, "solveRecord", "q"),
                Math.toIntExact(t(q).buf.count() / rows), step, steps, earlyHalt, b(answers),
                f32(qHalts, "solveRecord", "qHalts"), b(stepsUsed), b(halted), rows, answers.dim(1), logits.dim(2));
    }

    // ---- asynchronous uploads ----------------------------------------------------------------------------------------

    /**
     * Two pinned (page-locked) host staging slots per destination, used in turn: an upload is enqueued and returns,
     * and a slot is rewritten only after the copy that last read it has run (its event), so the host can prepare
     * step k + 1 while the device still runs step k. Pinned, because CUDA may make a copy from pageable memory wait.
     */
    private final class Staging implements AutoCloseable {
        final PinnedHostMemory[] slot = new PinnedHostMemory[2];
        final dev.trm.gpu.Event[] done = {dev.newEvent(), dev.newEvent()};
        final boolean[] pending = new boolean[2];
        int next;

        Staging(long bytes) {
            for (int i = 0; i < 2; i++) slot[i] = dev.allocPinned(Math.max(8, bytes));
        }

        java.lang.foreign.MemorySegment take() {
            int i = next;
            if (pending[i]) done[i].synchronize();
            return slot[i].segment();
        }

        void sent() {
            done[next].record(s);
            pending[next] = true;
            next ^= 1;
        }

        /** Waits for the copies still reading a slot, then frees the slots and the events. */
        @Override
        public void close() {
            for (int i = 0; i < 2; i++) {
                if (pending[i]) done[i].synchronize();
                slot[i].close();
                done[i].close();
            }
        }
    }

    private final java.util.Map<DeviceBuffer, Staging> staging = new java.util.HashMap<>();

    private Staging staging(DeviceBuffer dst) {
        return staging.computeIfAbsent(dst, d -> new Staging(d.bytes()));
    }

    @Override
    public void writeAsync(Tensor dst, float[] src) {
        GpuTensor g = t(dst);
        if (g.isBf16() || g.halfMaintained) {
            write(dst, src);  // needs a conversion on the device: the synchronous path
            return;
        }
        sameSize(g.buf.count(), src.length, "writeAsync");
        Staging st = staging(g.buf);
        java.lang.foreign.MemorySegment host = st.take().asSlice(0, 4L * src.length);
        java.lang.foreign.MemorySegment.copy(src, 0, host, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, src.length);
        g.buf.uploadAsync(host, s);
        st.sent();
    }

    @Override
    public void writeIntsAsync(IntTensor dst, int[] src) {
        DeviceBuffer d = b(dst);
        sameSize(d.count(), src.length, "writeIntsAsync");
        Staging st = staging(d);
        java.lang.foreign.MemorySegment host = st.take().asSlice(0, 4L * src.length);
        java.lang.foreign.MemorySegment.copy(src, 0, host, java.lang.foreign.ValueLayout.JAVA_INT, 0, src.length);
        d.uploadAsync(host, s);
        st.sent();
    }

    /**
     * The device's dense bf16 GEMM rate in TFLOP/s (fp32 accumulation, bf16 out, as the model's GEMMs), measured
     * now: the median of timed n x n x n GEMMs after two warm-up calls. The denominator of MFU.
     */
    public double measureGemmTflops(int n, int repeats) {
        long count = (long) n * n;
        try (DeviceBuffer a = dev.alloc(DType.BF16, count); DeviceBuffer bb = dev.alloc(DType.BF16, count);
             DeviceBuffer c = dev.alloc(DType.BF16, count)) {
            a.zero(s);
            bb.zero(s);
            double ms = timeMedian(2, repeats, () -> blas.gemm(s, false, true, n, n, n, 1f, a, n, bb, n, 0f, c, n));
            return 2.0 * n * n * (double) n / (ms / 1e3) / 1e12;
        }
    }

    @Override
    public boolean canCapture() {
        return true;
    }

    /** CUDA events on this backend's stream: a profile's device times per op (ops return before their kernels run). */
    @Override
    public dev.trm.backend.DeviceClock openDeviceClock() {
        return new GpuDeviceClock(dev, s);
    }

    /**
     * Records the ops {@code work} enqueues into a CUDA graph instead of running them; the caller owns the returned
     * replay (one graph launch on this backend's stream per call) and closes it. Every buffer the work touches must
     * exist already (run it once first): a graph replays fixed addresses, and nothing may be allocated or read back
     * to the host while capturing.
     */
    @Override
    public Replay capture(Runnable work) {
        s.beginCapture();
        return record(work, s::endCapture, () -> s.endCapture().close());
    }

    /**
     * {@link #capture}, with conditional (IF) nodes for {@link #runUnlessAllSet} where the device's graphs have them
     * ({@link GpuDevice#supportsConditionalGraphs}, which its first call probes with a small graph, outside any
     * capture); elsewhere, or with {@code -Dtrm.graph.conditional=false}, a plain capture whose replays run every body.
     */
    @Override
    public Replay captureSkippable(Runnable work) {
        if (!Boolean.parseBoolean(System.getProperty("trm.graph.conditional", "true")) || !dev.supportsConditionalGraphs()) {
            return capture(work);
        }
        dev.trm.gpu.GraphBuilder builder = s.beginGraph();
        building = builder;
        try {
            return record(work, builder::end, builder::close);  // close() abandons the graph and ends its capture
        } finally {
            building = null;
        }
    }

    /**
     * Runs work while the stream captures (capture has begun), then {@code end} gives the graph as a replay; if work or
     * end throws, {@code abandon} ends the capture and the first cause is rethrown (an invalidated capture fails to end
     * too).
     */
    private Replay record(Runnable work, java.util.function.Supplier<dev.trm.gpu.Graph> end, Runnable abandon) {
        dev.trm.gpu.Graph graph;
        capturing = true;
        try {
            work.run();
            graph = end.get();
        } catch (RuntimeException e) {
            try {
                abandon.run();
            } catch (RuntimeException again) {
                e.addSuppressed(again);
            }
            throw e;
        } finally {
            capturing = false;
        }
        return new Replay() {
            @Override
            public void replay() {
                graph.launch(s);
            }

            @Override
            public void close() {
                graph.close();
            }
        };
    }

    /**
     * Inside {@link #captureSkippable} with conditional nodes: body becomes an IF node, run at a replay only while
     * some flag is 0 (a one-block kernel sets the condition just before it). Otherwise body runs.
     */
    @Override
    public void runUnlessAllSet(IntTensor flags, Runnable body) {
        if (building == null) {
            body.run();
            return;
        }
        dev.trm.gpu.GraphConditional c = building.conditional(1);
        building.setIfAnyZero(c, b(flags).address(), Math.toIntExact(flags.size()));
        building.beginIf(c);
        body.run();
        building.endIf();
    }

    /** Waits until every enqueued op has run. */
    public void synchronize() {
        s.synchronize();
    }

    @Override
    public void close() {
        s.synchronize();  // no copy may still read a staging slot
        for (Staging st : staging.values()) st.close();
        dev.close();  // frees every buffer, the BLAS handle and the stream with it
    }
}
