package dev.trm.cli;

import dev.trm.backend.Backend;
import dev.trm.backend.ProfiledBackend;
import dev.trm.backend.gpu.GpuBackend;
import dev.trm.backend.cpu.CpuParallel;
import dev.trm.checkpoint.Checkpoint;
import dev.trm.gpu.GpuDevice;
import dev.trm.infer.Solution;
import dev.trm.infer.SolveOptions;
import dev.trm.infer.SolveResult;
import dev.trm.infer.TrmSolver;
import dev.trm.model.Flops;
import dev.trm.model.Presets;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.io.PrintWriter;
import java.util.Map;
import java.util.SplittableRandom;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trm bench solve}: inference latency through {@link TrmSolver}, as a library caller sees it (tokens in,
 * answers out), all N_sup supervision steps (no early halt, as the official evaluator, unless --early-halt) for
 * batches of puzzles, with randomly initialised weights of a preset. On a GPU each solve is one CUDA graph launch.
 * One line per batch size, then the last line {@code solve_ms_batch<B>=<median>} for the first size.
 */
@Command(name = "solve", mixinStandardHelpOptions = true,
        description = "Median latency of solving a batch of puzzles (all supervision steps) for several batch sizes.")
public final class BenchSolveCommand implements Runnable {

    @Option(names = "--preset", defaultValue = "sudoku-extreme-mlp", description = "Model preset (default ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--batch", split = ",", defaultValue = "1,8,64", description = "Batch sizes (default ${DEFAULT-VALUE}).")
    int[] batches;

    @Option(names = "--repeats", defaultValue = "3", description = "Timed repeats per size (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--early-halt", description = "Stop each puzzle at its first positive q_halt (random weights: "
            + "the official init's q_halt bias of -5 never halts; this measures the bookkeeping and, on a GPU, the graph).")
    boolean earlyHalt;

    @CommandLine.Mixin
    CyclesOption cycles = new CyclesOption();

    @Option(names = "--profile", description = "After each size's timed solves, one more solved step by step through "
            + "a profiler: the time of each op (on a GPU device time from CUDA events, no graph), per solve.")
    boolean profile;

    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP + " (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--plan", description = "Print the memory plan of a solver after solving each --batch size, by "
            + "use, with --device's sizes (cpu: fp32; cuda or emulated: bf16 activations and weight copies), without "
            + "allocating or running anything: no device needed.")
    boolean plan;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (repeats < 1) throw new CliException("--repeats must be >= 1");
        if (plan) {
            printPlan(spec.commandLine().getOut());
            return;
        }
        try (Backend be = Devices.open(device)) {
            run(spec.commandLine().getOut(), be);
        }
    }

    /** --plan: the solver and a solve of each size on a {@link dev.trm.backend.MemoryPlanner} backend. */
    private void printPlan(PrintWriter out) {
        TrmConfig c = cycles.apply(Presets.get(preset).withPuzzleIds(1));
        Backend be = Devices.planner(device);
        TrmParameters p = TrmParameters.forInference(c, be);
        Map<String, float[]> weights = Checkpoint.weightsOf(p, be);
        p.free(be);
        try (TrmSolver solver = TrmSolver.of(c, null, weights, be)) {
            for (int batch : batches) {
                if (batch < 1) throw new CliException("--batch sizes must be >= 1");
                int[][] inputs = new int[batch][c.seqLen()];
                for (int[] row : inputs) java.util.Arrays.fill(row, 1);
                solver.solve(inputs, new int[batch], SolveOptions.defaults().withBatchSize(batch).withEarlyHalt(earlyHalt));
            }
            // what the solver holds after the last solve: on a GPU the captured solves it keeps (one per batch size,
            // within TrmSolver's limit), on the CPU its one model with the last size's buffers
            out.printf("memory plan: preset %s, a solver after solving batch sizes %s in turn; nothing allocated or "
                    + "run%n", preset, java.util.Arrays.toString(batches));
            out.print(be.memory().table("memory by use (" + be.name() + "):"));
        }
        out.flush();
    }

    private void run(PrintWriter out, Backend be) {
        TrmConfig c = cycles.apply(Presets.get(preset).withPuzzleIds(1));
        GpuBackend gpu = be instanceof GpuBackend g ? g : null;
        TrmParameters p = TrmParameters.forInference(c, be);
        p.initialize(be, 0);
        Map<String, float[]> weights = Checkpoint.weightsOf(p, be);
        p.free(be);
        double flopsPerPuzzle = c.haltMaxSteps() * Flops.forwardStep(c);
        out.printf("bench solve: preset %s, %d supervision steps x %d net calls per puzzle (%.0f GFLOP), backend %s, %s%n",
                preset, c.haltMaxSteps(), c.netCallsPerStep(), flopsPerPuzzle / 1e9, be.name(),
                gpu == null ? CpuParallel.shared().threads() + " threads" : gpu.device().info().name()
                        + ", one CUDA graph launch per solve" + (earlyHalt ? conditionalNote(gpu) : "") + ", "
                        + Devices.launchNote(gpu.device()));
        out.flush();
        double first = Double.NaN;
        try (TrmSolver solver = TrmSolver.of(c, null, weights, be)) {
            for (int batch : batches) {
                if (batch < 1) throw new CliException("--batch sizes must be >= 1");
                SplittableRandom rnd = new SplittableRandom(batch);
                int[][] inputs = new int[batch][c.seqLen()];
                for (int[] row : inputs) for (int i = 0; i < row.length; i++) row[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
                int[] ids = new int[batch];
                SolveOptions o = SolveOptions.defaults().withBatchSize(batch).withEarlyHalt(earlyHalt);
                // What a caller of TrmSolver waits for: the upload, every supervision step (on a GPU one graph launch,
                // captured by the warm-up call) and the answers read back.
                solver.solve(inputs, ids, o);
                double[] ms = new double[repeats];
                double steps = 0;
                for (int r = 0; r < repeats; r++) {
                    long t0 = System.nanoTime();
                    SolveResult result = solver.solve(inputs, ids, o);
                    ms[r] = (System.nanoTime() - t0) / 1e6;
                    steps = result.solutions().stream().mapToInt(Solution::stepsUsed).average().orElse(0);
                }
                double median = BenchTrainCommand.median(ms);
                if (Double.isNaN(first)) first = median;
                // FLOPs of the steps actually run: with early halting, fewer than K per puzzle
                double flops = flopsPerPuzzle * (earlyHalt ? steps / c.haltMaxSteps() : 1.0) * batch;
                out.printf("batch %4d: median %9.2f ms per batch, %8.3f ms per puzzle, %6.1f GFLOP/s%s%n", batch, median,
                        median / batch, flops / (median / 1e3) / 1e9,
                        earlyHalt ? String.format(", %.1f steps per puzzle", steps) : "");
                out.flush();
                if (profile) profile(out, be, c, weights, inputs, ids, o);
            }
            // the solver's weights (no gradients) and one model per batch size, with its captured solve on a GPU
            out.print(be.memory().table("memory by use (" + be.name() + "; the solver with its models for these batch "
                    + "sizes):"));
        }
        if (gpu != null) BenchTrainCommand.printSwigluChoices(out, gpu);
        out.printf("solve_ms_batch%d=%.2f%n", batches[0], first);
    }

    /**
     * One solve of these puzzles through a second solver on the profiled view of be, after an untimed one: each op's
     * time (device time on a GPU, where the view runs the steps one by one instead of as a graph), per solve. Its sum
     * against the graph's latency above is roughly what launching costs, less the ops the eager path alone has: the
     * batch's allocations and frees, and the read-back of the logits and q after every step (docs/gpu.md).
     */
    private static void profile(PrintWriter out, Backend be, TrmConfig c, Map<String, float[]> weights, int[][] inputs,
                                int[] ids, SolveOptions o) {
        try (ProfiledBackend.Profile prof = new ProfiledBackend.Profile()) {
            Backend pbe = ProfiledBackend.wrap(be, prof);
            try (TrmSolver solver = TrmSolver.of(c, null, weights, pbe)) {
                solver.solve(inputs, ids, o);
                prof.clear();
                GpuDevice dev = be instanceof GpuBackend g ? g.device() : null;
                long kernels = dev == null ? 0 : dev.kernelsEnqueued(), gemms = dev == null ? 0 : dev.gemmsEnqueued();
                solver.solve(inputs, ids, o);
                // read before the solver's close, whose frees are no part of a solve
                out.printf("profile of one solve of %d puzzles, step by step (%s):%n", inputs.length,
                        prof.onDevice() ? "device time per op from CUDA events" : "wall time per op");
                out.print(prof.table());
                if (dev != null) {
                    // the launches behind those ops (the profiler's own event records not counted): a solve's graph
                    // holds as many, less the eager path's read-backs
                    out.printf("launches per solve: %d kernels of ours + %d cuBLAS GEMMs%n",
                            dev.kernelsEnqueued() - kernels, dev.gemmsEnqueued() - gemms);
                }
                out.flush();
            }
        }
    }

    /** Whether early halting can skip steps inside the graph on this device. */
    private static String conditionalNote(GpuBackend gpu) {
        String why = gpu.device().conditionalGraphsUnsupportedReason();
        return why == null ? " (steps after all halted skipped in the graph)" : " (no conditional graph nodes: " + why
                + "; all steps run)";
    }
}
