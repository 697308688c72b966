package dev.trm.gpu;

/**
 * Which implementation runs behind the GPU runtime. {@code EMULATED} is host memory plus the kernels compiled by g++
 * against our emulation header: it exists so CI (no GPU) executes the GPU backend's Java code; it never stands in
 * for {@code CUDA} silently, and everything that reports a result says which one ran.
 */
public enum Backend {
    CUDA("cuda"),
    EMULATED("emulated");

    private final String label;

    Backend(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    public static Backend parse(String s) {
        for (Backend b : values()) if (b.label.equals(s)) return b;
        throw new IllegalArgumentException("unknown GPU backend '" + s + "' (expected cuda or emulated)");
    }
}
