package dev.trm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code trm data}: build, import, generate, inspect and score data sets; nothing here needs a model. */
@Command(name = "data", mixinStandardHelpOptions = true,
        description = "Build, import, generate, show and evaluate Sudoku, Maze and ARC data sets.",
        subcommands = {
            DataBuildCommand.class,
            DataGenerateCommand.class,
            DataShowCommand.class,
            DataRenderCommand.class,
            DataEvalCommand.class,
        })
public final class DataCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
