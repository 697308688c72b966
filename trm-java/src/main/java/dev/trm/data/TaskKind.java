package dev.trm.data;

import java.util.Locale;

/** The three puzzle families TRM is trained on; names are the CLI's {@code --task} values. */
public enum TaskKind {
    SUDOKU,
    MAZE,
    ARC;

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static TaskKind parse(String s) {
        for (TaskKind k : values()) if (k.cliName().equals(s.toLowerCase(Locale.ROOT))) return k;
        throw new DataException("unknown task '" + s + "' (expected sudoku, maze or arc)");
    }
}
