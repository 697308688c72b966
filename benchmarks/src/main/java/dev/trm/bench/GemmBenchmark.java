package dev.trm.bench;

import dev.trm.backend.cpu.Sgemm;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH over the TRM GEMM shapes ({@link GemmShape#TRM}) on the shared CPU pool. Besides JMH's calls per second, each
 * result has a secondary score {@code sgemm:gflop} in "ops/s", which is GFLOP/s: an {@link AuxCounters} counter that
 * adds each call's 2*m*n*k / 1e9 (the {@code @OperationsPerInvocation} trick, but per shape).
 *
 * <p>Run: {@code scripts/jmh GemmBenchmark} (all shapes) or {@code scripts/jmh GemmBenchmark -p shape=fwd-qkv}.
 * Quicker on a small shared machine, and with %-of-peak: {@code dev.trm.bench.GemmReport}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// Long warm-up: until C2 has compiled the kernel, Vector API code runs hundreds of times slower (seconds here).
@Warmup(iterations = 8, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class GemmBenchmark {

    @Param({"fwd-qkv", "fwd-out", "fwd-mlp-up", "fwd-mlp-down", "fwd-head", "fwd-qkv-916",
            "bwd-dx-qkv", "bwd-dx-mlp-up", "bwd-dx-mlp-down",
            "bwd-dw-qkv", "bwd-dw-mlp-up", "bwd-dw-mlp-down", "bwd-dw-qkv-7328",
            "mix-fwd-1", "mix-fwd-2", "mix-bwd-dw-1", "mix-bwd-dx-1", "mix-bwd-dw-2", "mix-bwd-dx-2",
            "mixb-fwd-1", "mixb-fwd-2", "mixb-bwd-dx-1", "mixb-bwd-dw-1", "mixb-bwd-dx-2", "mixb-bwd-dw-2"})
    public String shape;

    private GemmShape s;
    private float[] a, b, c;

    /** Counts GFLOP done; JMH reports it per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        public double gflop;
    }

    @Setup(Level.Trial)
    public void setUp() {
        s = GemmShape.named(shape);
        Random rnd = new Random(42);
        a = GemmReport.random(rnd, s.aRows() * s.aCols());
        b = GemmReport.random(rnd, s.bRows() * s.bCols());
        c = new float[s.m() * s.n()];
    }

    @Benchmark
    public float[] sgemm(Flops flops) {
        Sgemm.sgemm(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1f, a, 0, s.aCols(), b, 0, s.bCols(), 0f, c, 0, s.n());
        flops.gflop += s.flop() * 1e-9;
        return c;
    }
}
