package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.KernelArgs;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@link EmulatedAsanTest} runs in a child JVM on the emulation library built with AddressSanitizer (every load
 * and store of a kernel checked, device buffers' red zones poisoned). Modes:
 * <ul>
 *   <li>{@code kernels}: every selftest check, every kernel at the awkward shapes of {@link KernelEdgeShapesCheck}
 *       and the multi-tensor optimizers; prints "asan child: ok" and exits 0 when all pass (an out-of-bounds access
 *       stops the process in ASan's report). GpuBackend's own ops ({@link GpuOpsParity#edgeShapes}) stay out: they
 *       would double the run (about 30 s more) for loads already covered, the kernels' here and the GEMM operands'
 *       by the emulated device's extent check;</li>
 *   <li>{@code load-past-the-end}: emu_check_store reading its src one element past a 4-int buffer, a load out of
 *       bounds that the plain emulated device cannot see (no store lands outside a buffer, and the value read is
 *       only added to a store's); ASan must stop the process. It prints "not caught" and exits 0 if it does not.</li>
 * </ul>
 */
public final class EmulatedAsanChild {
    private EmulatedAsanChild() {}

    public static void main(String[] args) {
        String mode = args.length > 0 ? args[0] : "";
        switch (mode) {
            case "kernels" -> kernels();
            case "load-past-the-end" -> loadPastTheEnd();
            default -> {
                System.err.println("usage: EmulatedAsanChild kernels|load-past-the-end");
                System.exit(2);
            }
        }
    }

    private static void kernels() {
        List<String> failures = new ArrayList<>();
        long t0 = System.nanoTime();
        try (GpuDevice dev = GpuDevice.open(Backend.EMULATED)) {
            KernelSelftest st = new KernelSelftest(dev, 1);
            List<KernelCheck> checks = st.runAll();
            failures.addAll(st.errors());
            for (KernelCheck c : checks) if (!c.passed()) failures.add(c.line());
            t0 = done("selftest, " + checks.size() + " checks", t0);
        }
        KernelEdgeShapesCheck.check(Backend.EMULATED);
        t0 = done("every kernel at edge shapes", t0);
        try (GpuBackend gpu = GpuBackend.open(Backend.EMULATED)) {
            MultiTensorOptimizer.check(gpu);
            done("multi-tensor optimizers", t0);
        }
        if (!failures.isEmpty()) {
            System.out.println("asan child: failed\n" + String.join("\n", failures));
            System.exit(1);
        }
        System.out.println("asan child: ok");
    }

    private static long done(String what, long since) {
        long now = System.nanoTime();
        System.out.printf("asan child: %s: done in %.1f s%n", what, (now - since) / 1e9);
        return now;
    }

    private static void loadPastTheEnd() {
        try (GpuDevice dev = GpuDevice.open(Backend.EMULATED);
             DeviceBuffer out = dev.alloc(DType.I32, 4); DeviceBuffer src = dev.alloc(DType.I32, 4)) {
            // src + 16 bytes: one past the end (a valid pointer argument), read as src[0] by every thread
            dev.kernel("emu_check_store").launch(dev.defaultStream(), 1, 32, 0,
                    KernelArgs.of().ptr(out).i32(0).i32(4).ptr(src, src.bytes()));
            dev.synchronize();
        }
        System.out.println("not caught");
    }
}
