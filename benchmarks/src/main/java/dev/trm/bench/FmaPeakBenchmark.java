package dev.trm.bench;

import dev.trm.backend.cpu.FmaPeak;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * This machine's fp32 FMA peak through JMH, driving {@link FmaPeak#run(long)} (16 independent vector FMA chains). The
 * secondary score {@code :gflop} is in "ops/s" = GFLOP/s: on one thread, and on {@code Threads.MAX} threads (JMH sums
 * the threads). {@code scripts/jmh FmaPeakBenchmark}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FmaPeakBenchmark {

    /** One call: 100k rounds, about 1 ms, long enough that timing overhead does not count. */
    private static final long ROUNDS = 100_000;

    /** Counts GFLOP done; JMH reports it per second (and sums it over threads). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        public double gflop;
    }

    @Benchmark
    @Threads(1)
    public void oneThread(Flops flops) {
        flops.gflop += FmaPeak.run(ROUNDS) * 1e-9;
    }

    @Benchmark
    @Threads(Threads.MAX)
    public void allThreads(Flops flops) {
        flops.gflop += FmaPeak.run(ROUNDS) * 1e-9;
    }
}
