package dev.trm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code trm} command line. Each subcommand is one class in this package; exit code 0 on success, non-zero with
 * one clear line on stderr on failure.
 */
@Command(
        name = "trm",
        mixinStandardHelpOptions = true,
        versionProvider = Version.class,
        description = "Tiny Recursive Models on the JVM: train, evaluate and run TRMs on CPU or NVIDIA GPUs.",
        subcommands = {
            InfoCommand.class,
            BenchCommand.class,
            DataCommand.class,
            DemoCommand.class,
            SelftestCommand.class,
            TrainCommand.class,
            EvalCommand.class,
            SolveCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns its exit code; errors become one line on stderr, with the stack trace on --debug. */
    public static int execute(String... args) {
        return execute(null, null, args);
    }

    /** As {@link #execute(String...)} with the command's output and errors going to the given writers (null: stdout, stderr). */
    public static int execute(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        if (out != null) cl.setOut(out);
        if (err != null) cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            String msg = ex.getMessage() != null ? ex.getMessage() : ex.toString();
            cmd.getErr().println("error: " + msg);
            if (System.getenv("TRM_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            return ex instanceof CliException ce ? ce.exitCode() : 1;
        });
        return cl.execute(args);
    }
}
