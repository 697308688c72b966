package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;

/** One kernel's result in the selftest: its worst relative error against the double reference, and who ran it. */
public record KernelCheck(String kernel, Backend backend, double maxRelErr, double tolerance) {
    public boolean passed() {
        return Double.isFinite(maxRelErr) && maxRelErr <= tolerance;
    }

    public String line() {
        return String.format("%-22s max rel err %9.2e  (tol %7.1e)  backend %-8s  %s", kernel, maxRelErr, tolerance,
                backend.label(), passed() ? "ok" : "FAIL");
    }
}
