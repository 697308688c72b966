package dev.trm.bench;

import dev.trm.backend.cpu.CpuParallel;
import dev.trm.backend.cpu.FmaPeak;
import dev.trm.backend.cpu.Sgemm;
import java.util.Arrays;
import java.util.Random;

/**
 * One quick run (a minute or so) that prints this machine's fp32 FMA peak, then for every TRM GEMM shape the median
 * GFLOP/s of {@link Sgemm} and its percentage of that peak, measured in the same run so the ratio is fair on a noisy
 * shared machine. Ends with a one-line summary.
 *
 * <p>The peak is measured before and after the GEMMs and the higher figure is used. Usage: {@code java <flags> -cp ... dev.trm.bench.GemmReport [shape-name ...]} (default: all shapes);
 * {@code -Dtrm.cpu.threads=N} sets the thread count; {@code -Dtrm.report.seconds=S} the time per shape (default 1).
 */
public final class GemmReport {

    public static void main(String[] args) {
        double secondsPerShape = Double.parseDouble(System.getProperty("trm.report.seconds", "1"));
        CpuParallel pool = CpuParallel.shared();
        var shapes = args.length == 0 ? GemmShape.TRM : Arrays.stream(args).map(GemmShape::named).toList();

        // Warm-up over every shape first, so no shape is timed while the JIT is still compiling the kernels.
        for (GemmShape s : shapes) gflops(s, 0.2);
        FmaPeak.Result before = FmaPeak.measure(pool);
        System.out.println(before);
        double[][] figures = new double[shapes.size()][];
        for (int i = 0; i < shapes.size(); i++) figures[i] = gflops(shapes.get(i), secondsPerShape);
        // The peak again after the GEMMs: other processes can only lower a measurement, so the higher of the two is
        // the better estimate of the machine's peak, and the percentages use it (the conservative choice).
        FmaPeak.Result after = FmaPeak.measure(pool);
        System.out.println(after);
        double peak = Math.max(before.allThreadsGflops(), after.allThreadsGflops());

        System.out.printf("%-18s %-3s %6s %6s %6s %12s %8s %10s%n", "shape", "op", "m", "n", "k", "median GF/s", "%peak", "best GF/s");
        double logSum = 0, mainPct = Double.NaN;
        for (int i = 0; i < shapes.size(); i++) {
            GemmShape s = shapes.get(i);
            double median = figures[i][0], best = figures[i][1], pct = 100 * median / peak;
            if (s.name().equals("fwd-qkv")) mainPct = pct;
            logSum += Math.log(pct);
            System.out.printf("%-18s %-3s %6d %6d %6d %12.1f %7.1f%% %10.1f%n", s.name(), s.layout(), s.m(), s.n(), s.k(), median, pct, best);
        }
        System.out.printf("summary: %d threads, fp32 FMA peak %.1f GFLOP/s; fwd-qkv 776x1536x512 NT at %.1f%% of peak "
                        + "(median); geometric mean over %d shapes %.1f%%%n",
                pool.threads(), peak, mainPct, shapes.size(), Math.exp(logSum / shapes.size()));
    }

    /** {median, best} GFLOP/s over repeated calls (C = A op B with beta = 0), after a warm-up. */
    static double[] gflops(GemmShape s, double seconds) {
        Random rnd = new Random(42);
        float[] a = random(rnd, s.aRows() * s.aCols());
        float[] b = random(rnd, s.bRows() * s.bCols());
        float[] c = new float[s.m() * s.n()];
        Runnable call = () -> Sgemm.sgemm(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1f,
                a, 0, s.aCols(), b, 0, s.bCols(), 0f, c, 0, s.n());
        long warmEnd = System.nanoTime() + (long) (0.3e9 * seconds);
        while (System.nanoTime() < warmEnd) call.run();
        double[] times = new double[4096];
        int reps = 0;
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while ((reps < 5 || System.nanoTime() < end) && reps < times.length) {
            long t0 = System.nanoTime();
            call.run();
            times[reps++] = (System.nanoTime() - t0) * 1e-9;
        }
        Arrays.sort(times, 0, reps);
        return new double[] {s.flop() / times[reps / 2] / 1e9, s.flop() / times[0] / 1e9};
    }

    static float[] random(Random rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = rnd.nextFloat() * 2 - 1;
        return x;
    }
}
