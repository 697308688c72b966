package dev.trm.gpu;

/**
 * One device as the probe saw it. {@code unusableReason} is null when our kernels can run on it, otherwise the
 * reason in words (e.g. a compute capability below 8.0).
 */
public record DeviceInfo(Backend backend, int ordinal, String name, int ccMajor, int ccMinor, long totalBytes,
                         int multiprocessors, String driverVersion, String unusableReason) {

    public boolean usable() {
        return unusableReason == null;
    }

    /** One line for {@code trm info}: "cuda:0 NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB, 132 SMs, driver 13.0". */
    public String describe() {
        String s = backend.label() + ":" + ordinal + " " + name + ", sm_" + ccMajor + ccMinor + ", "
                + String.format("%.1f GiB", totalBytes / (double) (1L << 30)) + ", " + multiprocessors + " SMs, driver "
                + driverVersion;
        return usable() ? s : s + " (unusable: " + unusableReason + ")";
    }
}
