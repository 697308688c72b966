package dev.trm.cli;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.ProfiledBackend;
import dev.trm.backend.gpu.GpuBackend;
import dev.trm.train.AdamAtan2;
import dev.trm.train.Ema;
import dev.trm.backend.cpu.CpuParallel;
import dev.trm.backend.cpu.FmaPeak;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.Flops;
import dev.trm.model.Presets;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.SplittableRandom;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trm bench train}: times full training supervision steps (forward through T (n+1) net calls, losses,
 * backward through the last n+1) of a preset on random tokens, and reports the median step time and the achieved
 * GFLOP/s (spec 9 counting) against this machine's fp32 FMA peak measured in the same run.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Median time of a training supervision step; the last line is train_step_ms=<value>.")
public final class BenchTrainCommand implements Runnable {

    @Option(names = "--preset", defaultValue = "sudoku-extreme-mlp", description = "Model preset (default ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--batch", defaultValue = "8", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "5", description = "Timed steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed steps first, for the JIT (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--device", defaultValue = "cpu", description = Devices.HELP + " (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--puzzle-ids", description = "Rows of the puzzle table (default: 1, so ARC presets stay small).")
    Integer puzzleIds;

    @CommandLine.Mixin
    CyclesOption cycles = new CyclesOption();

    @Option(names = "--profile", description = "Print the time spent in each op: over the timed steps on the CPU; "
            + "on a GPU over --profile-steps more steps run eagerly after them, from CUDA events around each op.")
    boolean profile;

    @Option(names = "--plan", description = "Print the memory plan of one training step (model, AdamATan2, EMA) at "
            + "this preset and batch, by use, with --device's sizes (cpu: fp32; cuda or emulated: bf16 activations "
            + "and weight copies), without allocating or running anything: no device needed.")
    boolean plan;

    @Option(names = "--profile-steps", defaultValue = "3",
            description = "GPU only: eager steps the profile times, after one untimed (default ${DEFAULT-VALUE}).")
    int profileSteps;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (batch < 1 || steps < 1 || warmup < 0) throw new CliException("--batch and --steps must be >= 1, --warmup >= 0");
        PrintWriter out = spec.commandLine().getOut();
        TrmConfig c = cycles.apply(Presets.get(preset).withPuzzleIds(puzzleIds == null ? 1 : puzzleIds));
        if (profileSteps < 1) throw new CliException("--profile-steps must be >= 1");
        if (plan) {
            printPlan(out, c);
            return;
        }
        try (Backend device = Devices.open(this.device);
             ProfiledBackend.Profile prof = new ProfiledBackend.Profile()) {
            GpuBackend gpu = device instanceof GpuBackend g ? g : null;
            // The CPU runs each op to completion: its timed steps go through the profiler itself. A GPU's timed
            // steps are graph launches, which the profiler cannot see into: it gets eager steps of its own after.
            Backend be = profile && gpu == null ? ProfiledBackend.wrap(device, prof) : device;
            run(out, c, be, gpu, prof);
        }
    }

    private void run(PrintWriter out, TrmConfig c, Backend be, GpuBackend gpu, ProfiledBackend.Profile prof) {
        double peakGflops;
        if (gpu == null) {
            out.printf("bench train: preset %s, batch %d, backend %s, %d threads%n", preset, batch, be.name(),
                    CpuParallel.shared().threads());
            FmaPeak.Result peak = FmaPeak.measure();
            out.printf("fp32 FMA peak (measured now): %.1f GFLOP/s on %d threads (%.1f single-thread)%n",
                    peak.allThreadsGflops(), peak.threads(), peak.singleThreadGflops());
            peakGflops = peak.allThreadsGflops();
        } else {
            out.printf("bench train: preset %s, batch %d, backend %s (%s), %s%n", preset, batch, be.name(),
                    gpu.device().info().name(), Devices.launchNote(gpu.device()));
            // The emulated device is a host loop: a small GEMM keeps the measurement short; it is no GPU figure.
            int n = gpu.device().backend() == dev.trm.gpu.Backend.CUDA ? 8192 : 128;
            peakGflops = gpu.measureGemmTflops(n, 5) * 1e3;
            out.printf("bf16 GEMM rate (measured now, %d^3, fp32 accumulate): %.1f TFLOP/s%n", n, peakGflops / 1e3);
        }
        double flops = Flops.trainStep(c) * batch;
        out.printf("FLOPs per step: %.2f GFLOP (%.2f per sequence, spec 9 counting)%n", flops / 1e9, flops / batch / 1e9);
        out.flush();

        // The CPU times the model's step (forward and backward through the recursion; the optimizer is small next
        // to it there). A GPU times the whole step as trm train runs it: the model's step, AdamATan2, sign-SGD and
        // the EMA, captured once as a CUDA graph and replayed; one host synchronisation per step, for the clock.
        Runnable step;
        if (gpu == null) {
            step = stepOn(c, be, false);
        } else {
            Runnable device = stepOn(c, be, true);
            device.run();  // the first run makes every buffer; then the capture
            Backend.Replay graph = be.capture(device);
            step = () -> {
                graph.replay();
                gpu.synchronize();
            };
            out.println("timing the whole training step (model, AdamATan2, sign-SGD, EMA) as one CUDA graph launch");
        }
        for (int i = 0; i < warmup; i++) step.run();
        prof.clear();
        double[] ms = new double[steps];
        for (int i = 0; i < steps; i++) {
            long t0 = System.nanoTime();
            step.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
            out.printf("step %d: %.1f ms%n", i + 1, ms[i]);
            out.flush();
        }
        printMemory(out, be);  // before the profile's own model adds its buffers
        if (gpu != null) printSwigluChoices(out, gpu);
        if (profile && gpu == null) out.print(prof.table());
        if (profile && gpu != null) profileGpu(out, c, gpu, prof);
        double median = median(ms);
        double gflops = flops / (median / 1e3) / 1e9;
        out.printf("median step %.1f ms, %.2f steps/s, %.1f sequences/s, %.0f tokens/s, %.1f GFLOP/s = %.1f%% of the "
                        + "measured %s (%s)%n", median, 1e3 / median, batch / (median / 1e3),
                (double) batch * c.seqLen() / (median / 1e3), gflops, 100 * gflops / peakGflops,
                gpu == null ? "FMA peak" : "bf16 GEMM rate", gpu == null ? "of peak" : "MFU");
        out.printf("train_step_ms=%.2f%n", median);
    }

    /** --plan: one step on the memory planner of --device's sizes (Devices.planner); its ledger is the plan. */
    private void printPlan(PrintWriter out, TrmConfig c) {
        Backend be = Devices.planner(device);
        stepOn(c, be, true).run();
        out.printf("memory plan: preset %s, batch %d, T %d, n %d, one training step with AdamATan2 and the EMA; "
                + "nothing allocated or run%n", preset, batch, c.hCycles(), c.lCycles());
        out.print(be.memory().table("memory by use (" + be.name() + "):"));
        out.flush();
    }

    /**
     * One training step of a fresh model on be, enqueued (random tokens and labels, seed 1): on the CPU the model's
     * step; with the optimizers (as the GPU times it) AdamATan2, sign-SGD and the EMA after it, their schedule read
     * from a device row as in a captured step.
     */
    private Runnable stepOn(TrmConfig c, Backend be, boolean withOptimizers) {
        TrmParameters p = new TrmParameters(c, be);
        p.initialize(be, 0);
        TrmModel model = new TrmModel(c, be, p);
        SplittableRandom rnd = new SplittableRandom(1);
        int[] inputs = new int[batch * c.seqLen()], labels = new int[batch * c.seqLen()], ids = new int[batch];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
            labels[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
        }
        Batch b = model.batch(inputs, labels, ids);
        Carry carry = model.initialCarry(batch);
        if (!withOptimizers) {
            return () -> {
                p.zeroGrad(be);
                model.trainStep(b, carry);
            };
        }
        AdamAtan2 adam = new AdamAtan2(be, p);
        Ema ema = new Ema(be, p, 0.999);
        dev.trm.backend.Tensor schedule;
        try (var use = be.memory().use(MemoryUse.BATCH)) {
            schedule = be.tensor(Backend.SCHEDULE_FIELDS);
        }
        be.write(schedule, new float[] {1e-4f, 0.1f, 0.05f, 1e-2f, 1});
        return () -> {
            p.zeroGrad(be);
            model.enqueueTrainStep(b, carry);
            adam.step(schedule, 0.1, 0.9, 0.95);
            be.puzzleSignSgd(p.puzzleTable(), b.puzzleIds(), model.puzzleSlotGrad(), schedule, 0.1);
            ema.update();
        };
    }

    /**
     * The GPU's per-op profile: a second model on the profiled view of the backend runs one untimed step, then
     * --profile-steps eager steps with a CUDA event before and after every op; the table gives device milliseconds
     * per step. Eager launches leave gaps that the graph-launched step above does not have: those between one op's
     * second mark and the next op's first are not counted; those inside an op are, including, when the device has
     * caught up with the host, the wait for the launch of its first kernel (see GpuDeviceClock).
     */
    private void profileGpu(PrintWriter out, TrmConfig c, GpuBackend gpu, ProfiledBackend.Profile prof) {
        Backend pbe = ProfiledBackend.wrap(gpu, prof);
        Runnable step = stepOn(c, pbe, true);
        step.run();
        gpu.synchronize();
        prof.clear();
        long kernels = gpu.device().kernelsEnqueued(), gemms = gpu.device().gemmsEnqueued();
        long t0 = System.nanoTime();
        for (int i = 0; i < profileSteps; i++) step.run();
        gpu.synchronize();
        double wallMs = (System.nanoTime() - t0) / 1e6 / profileSteps;
        out.printf("profile: %d eager steps (no graph), device time per op from CUDA events, per step; wall %.1f ms "
                + "per eager step%n", profileSteps, wallMs);
        out.print(prof.table(profileSteps));
        // the launches behind those ops (the profiler's own event records not counted), as bench solve counts them: a
        // step's graph holds as many
        out.printf("launches per step: %d kernels of ours + %d cuBLAS GEMMs%n",
                (gpu.device().kernelsEnqueued() - kernels) / profileSteps,
                (gpu.device().gemmsEnqueued() - gemms) / profileSteps);
    }

    /**
     * Which path each channel-MLP and token-mixer gate_up + SwiGLU shape and each token-mixer down + residual +
     * RMSNorm shape took (fused kernel, or cuBLAS + swiglu_forward / rmsnorm_seq_forward) and, if timed, why.
     */
    static void printSwigluChoices(PrintWriter out, GpuBackend gpu) {
        for (GpuBackend.SwigluChoice c : gpu.swigluChoices()) out.println(c);
    }

    /**
     * What the backend holds once the step's buffers exist (the first step makes them; none is made inside the loop):
     * the memory table by use, and on a GPU the same by precision and the device's own count.
     */
    static void printMemory(PrintWriter out, Backend be) {
        out.print(be.memory().table("memory by use (" + be.name() + "; made by the first step, none inside the loop):"));
        if (!(be instanceof GpuBackend gpu)) return;
        long[] bytes = gpu.bytesByType();
        long[] info = gpu.device().memoryInfo();
        out.printf("device memory: %8.1f MiB bf16 (activations, carry, weight copies)%n", bytes[0] / 1048576.0);
        out.printf("               %8.1f MiB fp32 (weights, gradients, optimizer state, statistics)%n",
                bytes[1] / 1048576.0);
        out.printf("               %8.1f MiB int32 (tokens, labels, ids)%n", bytes[2] / 1048576.0);
        out.printf("               %8.1f MiB in use on the device of %.1f MiB (with the driver's context, cuBLAS's "
                + "workspace and the kernels)%n", (info[1] - info[0]) / 1048576.0, info[1] / 1048576.0);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
