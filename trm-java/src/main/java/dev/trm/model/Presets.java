package dev.trm.model;

import java.util.LinkedHashMap;
import java.util.Map;

/** The published TRM configurations (spec sections 1.1 and 5.1), by the names the CLI takes. */
public final class Presets {
    private Presets() {}

    private static final Map<String, TrmConfig> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("sudoku-extreme-mlp", base(11, 81, 6, true));
        PRESETS.put("sudoku-extreme-att", base(11, 81, 6, false));
        PRESETS.put("maze-hard", base(6, 900, 4, false));
        // ARC puzzle tables: 876,406 rows for ARC-1 + ConceptARC and 1,191,730 for ARC-2 + ConceptARC (spec 5.2);
        // a real run takes the count from its dataset.
        PRESETS.put("arc-1", base(12, 900, 4, false).withPuzzleIds(876_406));
        PRESETS.put("arc-2", base(12, 900, 4, false).withPuzzleIds(1_191_730));
    }

    private static TrmConfig base(int vocab, int seqLen, int lCycles, boolean mlpT) {
        return new TrmConfig(vocab, seqLen, 512, 8, 4, 2, 3, lCycles, mlpT, !mlpT, 10000.0, 1e-5,
                16, 1, 16, 0.1, TrmConfig.LossType.STABLEMAX);
    }

    /** The preset of that name; the error lists the names that exist. */
    public static TrmConfig get(String name) {
        TrmConfig c = PRESETS.get(name);
        if (c == null) {
            throw new IllegalArgumentException("unknown preset '" + name + "'; presets: " + String.join(", ", names()));
        }
        return c;
    }

    public static Iterable<String> names() {
        return PRESETS.keySet();
    }
}
