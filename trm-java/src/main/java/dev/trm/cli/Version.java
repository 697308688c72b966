package dev.trm.cli;

import picocli.CommandLine;

/** Version line for {@code trm --version}. */
public final class Version implements CommandLine.IVersionProvider {
    public static final String VERSION = "0.1.0-SNAPSHOT";

    @Override
    public String[] getVersion() {
        return new String[] {"trm " + VERSION + " (Java " + Runtime.version() + ")"};
    }
}
