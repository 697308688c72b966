package dev.trm.cli;

import dev.trm.backend.Backend;
import dev.trm.backend.gpu.GpuBackend;
import dev.trm.backend.cpu.CpuParallel;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.Flops;
import dev.trm.model.Presets;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import java.io.PrintWriter;
import java.util.SplittableRandom;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trm bench solve}: inference latency, all N_sup supervision steps (no early halt, as the official evaluator)
 * for batches of puzzles, with randomly initialised weights of a preset. One line per batch size, then the last
 * line {@code solve_ms_batch<B>=<median>} for the first size.
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

    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP + " (default ${DEFAULT-VALUE}).")
    String device;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (repeats < 1) throw new CliException("--repeats must be >= 1");
        try (Backend be = Devices.open(device)) {
            run(spec.commandLine().getOut(), be);
        }
    }

    private void run(PrintWriter out, Backend be) {
        TrmConfig c = Presets.get(preset).withPuzzleIds(1);
        GpuBackend gpu = be instanceof GpuBackend g ? g : null;
        TrmParameters p = new TrmParameters(c, be);
        p.initialize(be, 0);
        TrmModel model = new TrmModel(c, be, p);
        double flopsPerPuzzle = c.haltMaxSteps() * Flops.forwardStep(c);
        out.printf("bench solve: preset %s, %d supervision steps x %d net calls per puzzle (%.0f GFLOP), backend %s, %s%n",
                preset, c.haltMaxSteps(), c.netCallsPerStep(), flopsPerPuzzle / 1e9, be.name(),
                gpu == null ? CpuParallel.shared().threads() + " threads" : gpu.device().info().name()
                        + ", one CUDA graph launch per solve");
        out.flush();
        double first = Double.NaN;
        for (int batch : batches) {
            if (batch < 1) throw new CliException("--batch sizes must be >= 1");
            SplittableRandom rnd = new SplittableRandom(batch);
            int[] inputs = new int[batch * c.seqLen()];
            for (int i = 0; i < inputs.length; i++) inputs[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
            Batch b = model.batch(inputs, null, new int[batch]);
            double[] ms = new double[repeats];
            Carry carry = model.initialCarry(batch);
            // The whole solve: the carry reset and every supervision step. On a GPU it is enqueued without a host
            // synchronisation, so after one warm-up run (which allocates the buffers) it is captured once as a CUDA
            // graph and each repeat is one graph launch.
            Runnable solve = () -> {
                model.resetCarry(carry);
                for (int s = 0; s < c.haltMaxSteps(); s++) model.forward(b, carry);
            };
            solve.run();
            be.read(model.q());
            Backend.Replay graph = be.capture(solve);
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                if (graph != null) graph.replay();
                else solve.run();
                be.read(model.q());
                ms[r] = (System.nanoTime() - t0) / 1e6;
            }
            if (graph != null) graph.close();
            double median = BenchTrainCommand.median(ms);
            if (Double.isNaN(first)) first = median;
            out.printf("batch %4d: median %9.1f ms per batch, %8.1f ms per puzzle, %6.1f GFLOP/s%n", batch, median,
                    median / batch, flopsPerPuzzle * batch / (median / 1e3) / 1e9);
            out.flush();
        }
        out.printf("solve_ms_batch%d=%.2f%n", batches[0], first);
    }
}
