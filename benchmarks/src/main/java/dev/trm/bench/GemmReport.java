package dev.trm.bench;

import dev.trm.backend.cpu.CpuParallel;
import dev.trm.backend.cpu.FmaPeak;
import dev.trm.backend.cpu.Sgemm;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * One quick run (a minute or so) that prints this machine's fp32 FMA peak, then for every TRM GEMM shape the median
 * GFLOP/s of {@link Sgemm} and its percentage of that peak, measured in the same run so the ratio is fair on a noisy
 * shared machine. Ends with a one-line summary.
 *
 * <p>Wall-clock figures include every moment another process holds a core. So each shape also gets a CPU-time
 * figure: FLOP per CPU-second of the threads that ran it, against the one-thread peak measured the same way. It says
 * how efficiently the cores work while they run the GEMM (kernel, packing, cache behaviour), which other processes
 * barely change, but not how well the threads are kept busy (waits cost no CPU time).
 *
 * <p>The peak is measured before and after the GEMMs and the higher figure is used. Usage:
 * {@code java <flags> -cp ... dev.trm.bench.GemmReport [shape-name ...]} (default: all shapes);
 * {@code -Dtrm.cpu.threads=N} sets the thread count; {@code -Dtrm.report.seconds=S} the time per shape (default 1).
 */
public final class GemmReport {

    private static final ThreadMXBean THREAD_MX = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        double secondsPerShape = Double.parseDouble(System.getProperty("trm.report.seconds", "1"));
        CpuParallel pool = CpuParallel.shared();
        var shapes = args.length == 0 ? GemmShape.TRM : Arrays.stream(args).map(GemmShape::named).toList();

        // Warm-up over every shape first, so no shape is timed while the JIT is still compiling the kernels (until
        // then Vector API code runs hundreds of times slower; on a busy machine compiling takes seconds).
        long warmEnd = System.nanoTime() + 4_000_000_000L;
        do {
            for (GemmShape s : shapes) measure(pool, s, 0.05);
        } while (System.nanoTime() < warmEnd);
        FmaPeak.Result before = FmaPeak.measure(pool);
        System.out.println(before);
        double corePeak = cpuTimePeak();
        Figures[] figures = new Figures[shapes.size()];
        for (int i = 0; i < shapes.size(); i++) figures[i] = measure(pool, shapes.get(i), secondsPerShape);
        // The peak again after the GEMMs: other processes can only lower a measurement, so the higher of the two is
        // the better estimate of the machine's peak, and the percentages use it (the conservative choice).
        FmaPeak.Result after = FmaPeak.measure(pool);
        System.out.println(after);
        corePeak = Math.max(corePeak, cpuTimePeak());
        double peak = Math.max(before.allThreadsGflops(), after.allThreadsGflops());
        System.out.printf("fp32 FMA peak per core by CPU time: %.1f GFLOP per CPU-second%n", corePeak);

        System.out.printf("%-16s %-2s %5s %5s %5s | %8s %6s %8s | %8s %6s%n",
                "shape", "op", "m", "n", "k", "median", "%peak", "best", "per-core", "%core");
        System.out.printf("%-16s %-2s %5s %5s %5s | %8s %6s %8s | %8s %6s%n",
                "", "", "", "", "", "GFLOP/s", "", "GFLOP/s", "GF/cpu-s", "");
        double logSum = 0, logCoreSum = 0, mainPct = Double.NaN, mainCorePct = Double.NaN;
        for (int i = 0; i < shapes.size(); i++) {
            GemmShape s = shapes.get(i);
            Figures f = figures[i];
            double pct = 100 * f.median / peak, corePct = 100 * f.perCore / corePeak;
            if (s.name().equals("fwd-qkv")) {
                mainPct = pct;
                mainCorePct = corePct;
            }
            logSum += Math.log(pct);
            logCoreSum += Math.log(corePct);
            System.out.printf("%-16s %-2s %5d %5d %5d | %8.1f %5.1f%% %8.1f | %8.1f %5.1f%%%n", s.name(), s.layout(),
                    s.m(), s.n(), s.k(), f.median, pct, f.best, f.perCore, corePct);
        }
        System.out.printf("summary: %d threads, fp32 FMA peak %.1f GFLOP/s; fwd-qkv 776x1536x512 NT at %.1f%% of peak "
                        + "(median wall time), %.1f%% per core by CPU time; geometric means over %d shapes %.1f%% and %.1f%%%n",
                pool.threads(), peak, mainPct, mainCorePct, shapes.size(), Math.exp(logSum / shapes.size()),
                Math.exp(logCoreSum / shapes.size()));
    }

    /** Median and best wall-clock GFLOP/s, and GFLOP per CPU-second (median) of the threads that did the work. */
    record Figures(double median, double best, double perCore) {}

    /** Repeated calls (C = A op B with beta = 0) for about {@code seconds}, after a short warm-up. */
    static Figures measure(CpuParallel pool, GemmShape s, double seconds) {
        Random rnd = new Random(42);
        float[] a = random(rnd, s.aRows() * s.aCols());
        float[] b = random(rnd, s.bRows() * s.bCols());
        float[] c = new float[s.m() * s.n()];
        Runnable call = () -> Sgemm.sgemm(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1f,
                a, 0, s.aCols(), b, 0, s.bCols(), 0f, c, 0, s.n());
        long warmEnd = System.nanoTime() + (long) (0.3e9 * seconds);
        while (System.nanoTime() < warmEnd) call.run();
        double[] wall = new double[4096], cpu = new double[4096];
        int reps = 0;
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while ((reps < 5 || System.nanoTime() < end) && reps < wall.length) {
            long c0 = pool.poolCpuNanos() + THREAD_MX.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            call.run();
            wall[reps] = (System.nanoTime() - t0) * 1e-9;
            cpu[reps++] = (pool.poolCpuNanos() + THREAD_MX.getCurrentThreadCpuTime() - c0) * 1e-9;
        }
        Arrays.sort(wall, 0, reps);
        Arrays.sort(cpu, 0, reps);
        return new Figures(s.flop() / wall[reps / 2] / 1e9, s.flop() / wall[0] / 1e9, s.flop() / cpu[reps / 2] / 1e9);
    }

    /** The one-thread FMA peak in GFLOP per CPU-second of the measuring thread: best of 20 ms trials for 0.3 s. */
    static double cpuTimePeak() {
        double best = 0;
        long end = System.nanoTime() + 300_000_000L;
        while (System.nanoTime() < end) {
            long c0 = THREAD_MX.getCurrentThreadCpuTime();
            double flop = FmaPeak.run(100_000);
            best = Math.max(best, flop / ((THREAD_MX.getCurrentThreadCpuTime() - c0) * 1e-9) / 1e9);
        }
        return best;
    }

    static float[] random(Random rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = rnd.nextFloat() * 2 - 1;
        return x;
    }
}
