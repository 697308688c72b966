package dev.trm.cli;

import picocli.CommandLine.Command;

/** {@code trm bench}: end-to-end benchmarks that print figures (micro-benchmarks live in the JMH module). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: median step times, throughput and achieved FLOP/s against the machine's peak.",
        subcommands = {BenchTrainCommand.class, BenchSolveCommand.class})
public final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
