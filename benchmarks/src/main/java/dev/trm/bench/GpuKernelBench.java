package dev.trm.bench;

import dev.trm.backend.gpu.GpuBackend;
import dev.trm.backend.gpu.GpuKernels;
import dev.trm.gpu.Backend;
import dev.trm.gpu.Blas;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.Event;
import dev.trm.gpu.GemmEngine;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Graph;
import dev.trm.gpu.KernelArgs;
import dev.trm.gpu.Stream;
import java.util.ArrayList;
import java.util.List;

/**
 * The GPU benchmarks: launch overhead through FFM (direct launches vs one CUDA graph replay), each standalone kernel
 * at TRM sizes (Sudoku-Extreme-Att: batch 256, S = 97, D = 512, SwiGLU 1536, vocab 11, 7M parameters; attention also
 * at S = 916), and the cuBLAS GEMM shapes (the token mixer's at Sudoku-MLP's S = 97 on the plain and the 16-byte-aligned
 * pitch), timed with CUDA events. Prints one table whose every row names the backend
 * that ran.
 *
 * <p>Usage: {@code GpuKernelBench --device cuda|emulated [--quick]}; --quick shrinks every size 32-fold. On the
 * emulated device sizes shrink 256-fold: its figures only show the harness works, they say nothing about a GPU.
 */
public final class GpuKernelBench {
    private record Row(String what, String shape, double microsPerCall, String rate) {}

    private final GpuDevice dev;
    private final Stream s;
    private final GpuKernels k;
    private final int scale;
    private final List<Row> rows = new ArrayList<>();

    private GpuKernelBench(GpuDevice dev, int scale) {
        this.dev = dev;
        this.s = dev.defaultStream();
        this.k = new GpuKernels(dev);
        this.scale = scale;
    }

    public static void main(String[] args) {
        Backend backend = null;
        boolean quick = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> backend = Backend.parse(args[++i]);
                case "--quick" -> quick = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (backend == null) throw new IllegalArgumentException("usage: GpuKernelBench --device cuda|emulated [--quick]");
        try (GpuDevice dev = GpuDevice.open(backend)) {
            // The emulated device runs every GPU thread as a fiber: only tiny sizes finish in seconds there.
            int scale = backend == Backend.EMULATED ? 256 : quick ? 32 : 1;
            GpuKernelBench b = new GpuKernelBench(dev, scale);
            System.out.println("gpu bench: backend " + backend.label() + " (" + dev.info().name() + ")"
                    + (scale > 1 ? ", sizes / " + scale + " (figures only show the harness runs)" : ""));
            b.launchOverhead();
            b.kernels();
            b.attention();
            b.gemms();
            b.tokenMixGemms();
            b.print(backend);
        }
    }

    /** Times `calls` repetitions of work on the stream with events; returns microseconds per call. */
    private double time(int calls, Runnable work) {
        for (int i = 0; i < 2; i++) work.run();  // warm-up (module load, cuBLAS heuristics)
        try (Event a = dev.newEvent(); Event b = dev.newEvent()) {
            a.record(s);
            for (int i = 0; i < calls; i++) work.run();
            b.record(s);
            b.synchronize();
            return 1000.0 * b.millisSince(a) / calls;
        }
    }

    /**
     * The cost of one small kernel in a chain of dependent ones (each ema reads the y the one before wrote), launched
     * one by one from Java and as one graph, with plain launches and, where the device has it, as programmatic
     * dependents (PDL: the next kernel launches while the one before runs). The graph rows against the batch-1 GEMM
     * rows say how much of a batch-1 solve's ~4,800 ops is launch latency.
     */
    private void launchOverhead() {
        int launches = Math.max(8, 4000 / scale);
        boolean initial = dev.programmaticLaunch();
        try (DeviceBuffer x = dev.alloc(DType.F32, 32); DeviceBuffer y = dev.alloc(DType.F32, 32)) {
            Runnable one = () -> dev.kernel("ema").launch(s, 1, 32, 0, KernelArgs.of().ptr(x).nullPtr().ptr(y).i64(32).f32(0.5f));
            for (boolean pdl : dev.programmaticLaunchUnsupportedReason() == null ? new boolean[] {false, true}
                    : new boolean[] {false}) {
                dev.programmaticLaunch(pdl);
                String how = pdl ? ", PDL" : "";
                double direct = time(launches, one);
                rows.add(new Row("launch (direct, FFM" + how + ")", "ema n=32", direct, ""));
                s.beginCapture();
                for (int i = 0; i < launches; i++) one.run();
                try (Graph g = s.endCapture()) {
                    double perGraph = time(3, () -> g.launch(s));
                    rows.add(new Row("launch (in a graph" + how + ")", "ema n=32 x" + launches, perGraph / launches, ""));
                }
            }
        } finally {
            dev.programmaticLaunch(initial);
        }
    }

    private static String gbps(double bytes, double micros) {
        return String.format("%.0f GB/s", bytes / micros / 1e3);
    }

    private void kernels() {
        int batch = Math.max(1, 256 / scale), seq = 97, dim = 512, inter = 1536, vocab = 11;
        long rowsN = (long) batch * seq;
        long params = 7_000_000L / scale;
        try (DeviceBuffer x = dev.alloc(DType.BF16, rowsN * dim); DeviceBuffer r = dev.alloc(DType.BF16, rowsN * dim);
             DeviceBuffer out = dev.alloc(DType.BF16, rowsN * dim); DeviceBuffer rstd = dev.alloc(DType.F32, rowsN);
             DeviceBuffer rstdSeq = dev.alloc(DType.F32, (long) batch * dim);
             DeviceBuffer gu = dev.alloc(DType.BF16, rowsN * 2 * inter); DeviceBuffer act = dev.alloc(DType.BF16, rowsN * inter);
             DeviceBuffer act2 = dev.alloc(DType.BF16, rowsN * inter);
             DeviceBuffer logits = dev.alloc(DType.BF16, rowsN * vocab); DeviceBuffer labels = dev.alloc(DType.I32, rowsN);
             DeviceBuffer loss = dev.alloc(DType.F32, batch); DeviceBuffer correct = dev.alloc(DType.I32, batch);
             DeviceBuffer tokens = dev.alloc(DType.I32, batch);
             DeviceBuffer p = dev.alloc(DType.F32, params); DeviceBuffer g = dev.alloc(DType.F32, params);
             DeviceBuffer m = dev.alloc(DType.F32, params); DeviceBuffer v = dev.alloc(DType.F32, params);
             DeviceBuffer sched = dev.alloc(DType.F32, 3).upload(GpuKernels.adamSchedule(1e-4, 0.9, 0.95, 10));
             DeviceBuffer pb = dev.alloc(DType.BF16, params)) {
            for (DeviceBuffer b : List.of(x, r, gu, logits, labels, p, g, m, v)) b.zero(s);
            int rows = (int) rowsN, calls = Math.max(3, 50 / scale);
            double t;
            t = time(calls, () -> k.rmsNormForward(s, x, r, out, rstd, rows, dim, 1e-5f));
            rows(t, "rmsnorm_forward", rows + "x" + dim, 3.0 * rowsN * dim * 2);
            t = time(calls, () -> k.rmsNormBackward(s, out, rstd, x, r, rows, dim));
            rows(t, "rmsnorm_backward", rows + "x" + dim, 3.0 * rowsN * dim * 2);
            t = time(calls, () -> k.rmsNormSeqForward(s, x, r, out, rstdSeq, batch, seq, dim, 1e-5f));
            rows(t, "rmsnorm_seq_forward", batch + "x" + seq + "x" + dim, 3.0 * rowsN * dim * 2);
            t = time(calls, () -> k.swigluForward(s, gu, act, rows, inter));
            rows(t, "swiglu_forward", rows + "x" + inter, 3.0 * rowsN * inter * 2);
            t = time(calls, () -> k.swigluBackward(s, gu, act, gu, null, rows, inter));
            rows(t, "swiglu_backward", rows + "x" + inter, 5.0 * rowsN * inter * 2);
            // as training runs it: the activation recomputed for the down GEMM's weight gradient (one more write)
            t = time(calls, () -> k.swigluBackward(s, gu, act, gu, act2, rows, inter));
            rows(t, "swiglu_backward + recompute", rows + "x" + inter, 6.0 * rowsN * inter * 2);
            t = time(calls, () -> k.tokenLoss(s, true, logits, labels, loss, correct, tokens, logits, batch, seq, vocab, 1f / batch));
            rows(t, "token_loss stablemax", batch + "x" + seq + "x" + vocab, 2.0 * rowsN * vocab * 2);
            t = time(calls, () -> k.adamAtan2(s, p, g, m, v, params, sched, 0.1f, 0.9f, 0.95f));
            rows(t, "adam_atan2", params + " params", 7.0 * params * 4);
            t = time(calls, () -> k.convert(s, p, pb, params));
            rows(t, "convert f32 -> bf16", params + " params", 6.0 * params);
        }
    }

    /**
     * The attention kernels at hd = 64 (the tensor-core ones unless -Dtrm.attention.tc=false): the forward and the
     * one-launch backward (dQ blocks and dK/dV blocks in one grid, delta computed inside), at Sudoku's S = 97 (batch
     * 256, 8 heads: D = 512) and ARC's S = 916 (batch 8; not on the emulated device, where it takes minutes). FLOP as
     * FlashAttention-2 counts them: forward 4 B H S^2 hd, backward 10 B H S^2 hd (the backward recomputes P in both
     * roles, 14 in all). With RoPE, as the attention presets run (the tensor-core kernels then split the rotated q, k into
     * bf16 hi + lo: 3 products for S where 1 would do). Inputs and tables are zero: uniform attention, the same work.
     */
    private void attention() {
        int hd = 64, heads = scale > 1 ? 1 : 8, dim = heads * hd;
        List<int[]> shapes = new ArrayList<>(List.of(new int[] {Math.max(1, 256 / scale), 97}));
        if (dev.backend() != Backend.EMULATED) shapes.add(new int[] {Math.max(1, 8 / scale), 916});
        for (int[] bs : shapes) {
            int batch = bs[0], seq = bs[1];
            long n = (long) batch * seq;
            try (DeviceBuffer qkv = dev.alloc(DType.BF16, n * 3 * dim); DeviceBuffer out = dev.alloc(DType.BF16, n * dim);
                 DeviceBuffer lse = dev.alloc(DType.F32, n * heads); DeviceBuffer dout = dev.alloc(DType.BF16, n * dim);
                 DeviceBuffer dqkv = dev.alloc(DType.BF16, n * 3 * dim);
                 DeviceBuffer cos = dev.alloc(DType.F32, (long) seq * hd); DeviceBuffer sin = dev.alloc(DType.F32, (long) seq * hd)) {
                for (DeviceBuffer b : List.of(qkv, dout, cos, sin)) b.zero(s);
                int calls = Math.max(3, 20 / scale);
                double flop = 2.0 * batch * heads * seq * seq * hd;
                String shape = batch + "x" + seq + " H" + heads + " hd" + hd + " RoPE";
                double t = time(calls, () -> k.attentionForward(s, qkv, out, lse, cos, sin, batch, seq, heads, hd));
                rows.add(new Row("attention forward", shape, t, String.format("%.1f TFLOP/s", 2 * flop / t / 1e6)));
                t = time(calls, () -> k.attentionBackward(s, qkv, out, lse, dout, dqkv, cos, sin, batch, seq, heads,
                        hd));
                rows.add(new Row("attention backward", shape, t, String.format("%.1f TFLOP/s", 5 * flop / t / 1e6)));
            }
        }
    }

    private void rows(double micros, String what, String shape, double bytes) {
        rows.add(new Row(what, shape, micros, gbps(bytes, micros)));
    }

    private void gemms() {
        int tokens = 256 * 97 / scale;
        // A batch-1 solve's GEMMs have one puzzle's 97 rows: latency-bound, against the launch rows above.
        int solveRows = scale > 1 ? 8 : 97;
        record Shape(String name, boolean ta, boolean tb, int m, int n, int k, int batch) {}
        List<Shape> shapes = List.of(
                new Shape("solve b1 mlp-up (NT)", false, true, solveRows, 3072, 512, 1),
                new Shape("solve b1 mlp-down (NT)", false, true, solveRows, 512, 1536, 1),
                new Shape("fwd-qkv (NT)", false, true, tokens, 1536, 512, 1),
                new Shape("fwd-mlp-up (NT)", false, true, tokens, 3072, 512, 1),
                new Shape("bwd-dx-mlp-up (NN)", false, false, tokens, 512, 3072, 1),
                new Shape("bwd-dw-qkv (TN)", true, false, 1536, 512, tokens, 1),
                new Shape("attn scores (batched)", false, true, 97, 97, 64, Math.max(1, 256 * 8 / scale)));
        try (Blas cublas = dev.newBlas(s, GemmEngine.CUBLAS); Blas lt = dev.newBlas(s, GemmEngine.CUBLASLT)) {
            for (Shape sh : shapes) {
                long sa = (long) sh.m * sh.k, sb = (long) sh.k * sh.n, sc = (long) sh.m * sh.n;
                try (DeviceBuffer a = dev.alloc(DType.BF16, sa * sh.batch); DeviceBuffer b = dev.alloc(DType.BF16, sb * sh.batch);
                     DeviceBuffer c = dev.alloc(DType.BF16, sc * sh.batch)) {
                    a.zero(s);
                    b.zero(s);
                    int lda = sh.ta ? sh.m : sh.k, ldb = sh.tb ? sh.k : sh.n;
                    for (Blas blas : List.of(cublas, lt)) {
                        double t = time(Math.max(2, 20 / scale), () -> blas.gemmStridedBatched(s, sh.ta, sh.tb, sh.m,
                                sh.n, sh.k, 1f, a, lda, sa, b, ldb, sb, 0f, c, sh.n, sc, sh.batch));
                        double flop = 2.0 * sh.m * sh.n * sh.k * sh.batch;
                        String engine = blas.engine() == GemmEngine.CUBLAS ? "gemm " : "gemmLt ";
                        rows.add(new Row(engine + sh.name, sh.m + "x" + sh.n + "x" + sh.k
                                + (sh.batch > 1 ? " x" + sh.batch : ""), t, String.format("%.1f TFLOP/s", flop / t / 1e6)));
                    }
                }
            }
        }
    }

    /**
     * The token mixer's GEMMs at Sudoku-MLP's gate_up weight W [2I_S, S] = [1024, 97] (D 512, batch 256), as
     * GpuBackend runs them on cuBLAS, twice: on the plain pitch, ld 97 (194-byte bf16 rows of W, 388-byte fp32 rows of
     * the dW products), and on the 16-byte-aligned pitch GpuBackend pads to (-Dtrm.gemm.align, the default): bf16 104,
     * fp32 100. Forward gu[b] [1024, D] = W x[b] [97, D] (strided batched, W shared); backward dx[b] [97, D] = W^T dy[b]
     * [1024, D] and the per-batch weight-gradient products dy[b] x[b]^T [1024, 97] into fp32 scratch. The aligned rows
     * leave out what alignment adds: pad_cols (once per GEMM that reads W) and sum_batches on the padded pitch have
     * rows of their own. On the emulated device D is 64.
     */
    private void tokenMixGemms() {
        int n = 1024, sin = 97, d = scale >= 256 ? 64 : 512, batch = Math.max(1, 256 / scale);
        int ldw = GpuBackend.alignedLd(sin, DType.BF16);
        int ldg = GpuBackend.alignedLd(sin, DType.F32);
        long xs = (long) sin * d, ys = (long) n * d;
        String shape = n + "x" + sin + " D" + d + " x" + batch;
        double flop = 2.0 * n * sin * d * batch;
        int calls = Math.max(2, 20 / scale);
        try (DeviceBuffer w = dev.alloc(DType.BF16, (long) n * sin); DeviceBuffer wPad = dev.alloc(DType.BF16, (long) n * ldw);
             DeviceBuffer x = dev.alloc(DType.BF16, batch * xs); DeviceBuffer dy = dev.alloc(DType.BF16, batch * ys);
             DeviceBuffer gu = dev.alloc(DType.BF16, batch * ys); DeviceBuffer dx = dev.alloc(DType.BF16, batch * xs);
             DeviceBuffer dwParts = dev.alloc(DType.F32, (long) batch * n * ldg);
             DeviceBuffer dw = dev.alloc(DType.F32, (long) n * sin);
             Blas cublas = dev.newBlas(s, GemmEngine.CUBLAS); Blas lt = dev.newBlas(s, GemmEngine.CUBLASLT)) {
            for (DeviceBuffer b : List.of(w, wPad, x, dy, dwParts, dw)) b.zero(s);
            for (Blas blas : List.of(cublas, lt)) {
                String engine = blas.engine() == GemmEngine.CUBLAS ? "gemm " : "gemmLt ";
                for (boolean aligned : new boolean[] {false, true}) {
                    DeviceBuffer wa = aligned ? wPad : w;
                    int lda = aligned ? ldw : sin, ldc = aligned ? ldg : sin;
                    double t = time(calls, () -> blas.gemmStridedBatched(s, false, false, n, d, sin, 1f, wa, lda, 0, x,
                            d, xs, 0f, gu, d, ys, batch));
                    rows.add(new Row(engine + "mix fwd (ld " + lda + ")", shape, t,
                            String.format("%.1f TFLOP/s", flop / t / 1e6)));
                    t = time(calls, () -> blas.gemmStridedBatched(s, true, false, sin, d, n, 1f, wa, lda, 0, dy, d, ys,
                            0f, dx, d, xs, batch));
                    rows.add(new Row(engine + "mix bwd dx (ld " + lda + ")", shape, t,
                            String.format("%.1f TFLOP/s", flop / t / 1e6)));
                    t = time(calls, () -> blas.gemmStridedBatched(s, false, true, n, sin, d, 1f, dy, d, ys, x, d, xs, 0f,
                            dwParts, ldc, (long) n * ldc, batch));
                    rows.add(new Row(engine + "mix bwd dW (ld " + ldc + ")", shape, t,
                            String.format("%.1f TFLOP/s", flop / t / 1e6)));
                }
            }
            double t = time(calls, () -> k.padCols(s, w, wPad, n, sin, ldw));
            rows(t, "pad_cols (per use of W)", n + "x" + sin + " -> ld " + ldw, 2.0 * n * (sin + ldw));
            t = time(calls, () -> k.sumBatches(s, dwParts, dw, batch, (long) n * sin));
            rows(t, "sum_batches (ld " + sin + ")", batch + "x" + n + "x" + sin, 4.0 * (batch + 2) * n * sin);
            t = time(calls, () -> k.sumBatches(s, dwParts, dw, batch, n, sin, ldg));
            rows(t, "sum_batches (ld " + ldg + ")", batch + "x" + n + "x" + sin, 4.0 * (batch * ldg + 2 * sin) * n);
        }
    }

    private void print(Backend backend) {
        System.out.printf("%-30s %-22s %12s %14s  %s%n", "what", "shape", "us/call", "rate", "backend");
        for (Row r : rows) {
            System.out.printf("%-30s %-22s %12.2f %14s  %s%n", r.what, r.shape, r.microsPerCall, r.rate, backend.label());
        }
    }
}
