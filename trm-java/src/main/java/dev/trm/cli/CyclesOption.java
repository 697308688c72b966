package dev.trm.cli;

import dev.trm.model.TrmConfig;
import picocli.CommandLine.Option;

/** The benches' {@code --cycles T,n}: a preset's recursion shortened, for runs on the emulated device or in tests. */
public final class CyclesOption {
    @Option(names = "--cycles", split = ",", paramLabel = "T,n",
            description = "Override the preset's recursion (T,n): short runs on the emulated device or in tests.")
    int[] cycles;

    /** c with T and n replaced when --cycles was given; one clear error when they are not two numbers >= 1. */
    TrmConfig apply(TrmConfig c) {
        if (cycles == null) return c;
        if (cycles.length != 2 || cycles[0] < 1 || cycles[1] < 1) throw new CliException("--cycles takes T,n >= 1");
        return c.withCycles(cycles[0], cycles[1]);
    }
}
