package dev.trm.cli;

import dev.trm.backend.gpu.KernelCheck;
import dev.trm.backend.gpu.KernelSelftest;
import dev.trm.gpu.Backend;
import dev.trm.gpu.EmulatedSchedule;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.GpuUnavailableException;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trm selftest --device emulated|cuda}: runs every GPU kernel (forward and backward) and the GEMM on random
 * inputs against the double-precision CPU reference; one line per kernel with its max relative error and the
 * backend that ran it. Exit code non-zero on any failure, or when the asked-for device is not there (it never falls
 * back to another backend).
 */
@Command(name = "selftest", mixinStandardHelpOptions = true,
        description = "Check every GPU kernel against the double-precision CPU reference on random inputs.")
public final class SelftestCommand implements Runnable {

    @Option(names = "--device", required = true, paramLabel = "DEVICE",
            description = "cuda (a real GPU) or emulated (the kernels compiled for the host; what CI runs)")
    String device;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed of the inputs (default: ${DEFAULT-VALUE})")
    long seed;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        Backend backend;
        try {
            backend = Backend.parse(device);
        } catch (IllegalArgumentException e) {
            throw new CliException("--device: " + e.getMessage(), 2);
        }
        PrintWriter out = spec.commandLine().getOut();
        long t0 = System.nanoTime();
        List<KernelCheck> checks;
        List<String> errors;
        String deviceName;
        try (GpuDevice dev = GpuDevice.open(backend)) {
            deviceName = dev.info().name();
            // the emulated device's thread order (TRM_EMU_SCHEDULE), which a race shows under: say which one ran
            String schedule = backend == Backend.EMULATED ? ", schedule " + EmulatedSchedule.current() : "";
            out.println("selftest: backend " + backend.label() + " (" + deviceName + "), seed " + seed + schedule);
            out.flush();
            KernelSelftest st = new KernelSelftest(dev, seed);
            checks = st.runAll();
            errors = st.errors();
            for (KernelCheck c : checks) out.println(c.line());
        } catch (GpuUnavailableException e) {
            throw new CliException(e.getMessage());
        }
        for (String e : errors) out.println("error in " + e);
        long failed = checks.stream().filter(c -> !c.passed()).count();
        out.printf("selftest: %d checks, %d failed, backend %s, %.1f s%n", checks.size(), failed, backend.label(),
                (System.nanoTime() - t0) / 1e9);
        out.flush();
        if (failed > 0) throw new CliException("selftest failed on " + backend.label() + ": " + failed + " of "
                + checks.size() + " kernel checks");
    }
}
