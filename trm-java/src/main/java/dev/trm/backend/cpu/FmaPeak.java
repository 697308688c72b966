package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures this machine's fp32 FMA peak in GFLOP/s, the yardstick for "percent of peak" of the GEMM and of a training
 * step. An FMA lane counts 2 FLOP. The loop runs 16 independent accumulator chains of {@code SPECIES_PREFERRED}
 * vectors: an FMA has about 4 cycles of latency and a core issues up to 2 per cycle, so at least 8 independent chains
 * are needed to keep both FMA ports busy; 16 leave margin and still fit in registers.
 *
 * <p>Takes about a second: a short JIT warm-up, then the best of many 20 ms trials on one thread and on all the
 * threads of {@link CpuParallel} at once (best, because other processes on the machine can only slow a trial down).
 */
public final class FmaPeak {

    /** Peak fp32 FMA throughput, single thread and all threads together. */
    public record Result(double singleThreadGflops, double allThreadsGflops, int threads, int lanes) {
        @Override
        public String toString() {
            return String.format("fp32 FMA peak: %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %d threads (%d-lane vectors)",
                    singleThreadGflops, allThreadsGflops, threads, lanes);
        }
    }

    private static final VectorSpecies<Float> V = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 16;
    /** Written so the JIT cannot drop the loop as dead code. */
    private static volatile float sink;

    private FmaPeak() {}

    /** Measures on the shared pool. */
    public static Result measure() {
        return measure(CpuParallel.shared());
    }

    /** Measures on the given pool (its thread count is the "all threads" figure). */
    public static Result measure(CpuParallel pool) {
        int threads = pool.threads();
        // Warm-up: until the loop is compiled by C2 (Vector API code runs orders of magnitude slower before), i.e.
        // until the rate has stopped improving for 0.2 s; at most 5 s when the JIT is busy elsewhere.
        long begin = System.nanoTime(), lastGain = begin;
        double bestRate = 0;
        while (System.nanoTime() - lastGain < 200_000_000L && System.nanoTime() - begin < 5_000_000_000L) {
            long start = System.nanoTime();
            double rate = run(10_000) / (System.nanoTime() - start);
            if (rate > bestRate * 1.05) {
                bestRate = rate;
                lastGain = System.nanoTime();
            }
        }
        // Calibrate so one trial takes about 20 ms on one thread: many short trials, of which the best counts, see
        // through a machine shared with other processes better than a few long ones.
        long t0 = System.nanoTime();
        run(1_000_000);
        double secondsPerIter = (System.nanoTime() - t0) * 1e-9 / 1_000_000;
        final long perTrial = Math.max(20_000, (long) (0.02 / secondsPerIter));

        double single = 0;
        long end = System.nanoTime() + 350_000_000L;
        for (int trial = 0; trial < 3 || System.nanoTime() < end; trial++) {
            long start = System.nanoTime();
            double flop = run(perTrial);
            single = Math.max(single, flop / ((System.nanoTime() - start) * 1e-9) / 1e9);
        }
        double all = 0;
        end = System.nanoTime() + 350_000_000L;
        for (int trial = 0; trial < 3 || System.nanoTime() < end; trial++) {
            long start = System.nanoTime();
            pool.parallelFor(threads, t -> run(perTrial));
            double flop = 2.0 * CHAINS * V.length() * perTrial * threads;
            all = Math.max(all, flop / ((System.nanoTime() - start) * 1e-9) / 1e9);
        }
        return new Result(single, all, threads, V.length());
    }

    /**
     * {@code iters} rounds of 16 independent vector FMAs (acc = acc * x + y, which converges: no overflow, no
     * denormals); returns the FLOP done. Public so a benchmark harness can drive the same loop.
     */
    public static double run(long iters) {
        FloatVector x = FloatVector.broadcast(V, 0.999999f), y = FloatVector.broadcast(V, 1e-6f);
        FloatVector a0 = FloatVector.broadcast(V, 1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (long i = 0; i < iters; i++) {
            a0 = a0.fma(x, y); a1 = a1.fma(x, y); a2 = a2.fma(x, y); a3 = a3.fma(x, y);
            a4 = a4.fma(x, y); a5 = a5.fma(x, y); a6 = a6.fma(x, y); a7 = a7.fma(x, y);
            a8 = a8.fma(x, y); a9 = a9.fma(x, y); a10 = a10.fma(x, y); a11 = a11.fma(x, y);
            a12 = a12.fma(x, y); a13 = a13.fma(x, y); a14 = a14.fma(x, y); a15 = a15.fma(x, y);
        }
        FloatVector s = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7)
                .add(a8).add(a9).add(a10).add(a11).add(a12).add(a13).add(a14).add(a15);
        sink = s.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        return 2.0 * CHAINS * V.length() * iters;
    }
}
