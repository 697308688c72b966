package dev.trm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's --help renders cleanly: exit 0, usage on stdout, and no picocli warning (a stray '%' in a
 * description makes picocli print one on stderr and show its text unformatted).
 */
class HelpTextTest {
    @Test
    void everyCommandsHelpRendersWithoutWarnings() {
        List<List<String>> paths = new ArrayList<>();
        collect(new CommandLine(new Main()), new ArrayList<>(), paths);
        assertTrue(paths.size() > 10, "found only " + paths.size() + " commands");
        PrintStream oldErr = System.err;
        for (List<String> path : paths) {
            ByteArrayOutputStream picocliErr = new ByteArrayOutputStream();
            System.setErr(new PrintStream(picocliErr, true));
            StringWriter out = new StringWriter(), err = new StringWriter();
            int rc;
            try {
                List<String> args = new ArrayList<>(path);
                args.add("--help");
                rc = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
            } finally {
                System.setErr(oldErr);
            }
            String what = "trm " + String.join(" ", path) + " --help";
            assertEquals(0, rc, what + ": " + err);
            assertTrue(out.toString().contains("Usage: trm"), what + " printed no usage: " + out);
            assertFalse(picocliErr.toString().contains("WARN"), what + ": " + picocliErr);
            assertFalse(err.toString().contains("WARN"), what + ": " + err);
        }
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> into) {
        into.add(List.copyOf(path));
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().aliases().length > 0 && !e.getKey().equals(e.getValue().getCommandName())) {
                continue;  // an alias: the same command
            }
            path.add(e.getKey());
            collect(e.getValue(), path, into);
            path.removeLast();
        }
    }
}
