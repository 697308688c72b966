package dev.trm.backend.gpu;

import dev.trm.gpu.Backend;
import dev.trm.gpu.GpuDevice;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@link FakeCudaTest} runs in a child JVM on the fake CUDA driver (kernels/target/fake-cuda/), beyond the CLI
 * selftest: the CUDA variants of the device checks that capture and replay graphs or time with events, through
 * CudaDriver and the typed launch wrappers. Prints "fake cuda child: ok" and exits 0 when all pass.
 */
public final class FakeCudaChild {
    private FakeCudaChild() {}

    private interface Check {
        void run() throws Exception;
    }

    /** Kernels the fake driver has run (its test-only export fake_cuda_kernels_run; libcuda is loaded by now). */
    static long fakeKernelsRun() {
        java.lang.foreign.MemorySegment f = java.lang.foreign.SymbolLookup.loaderLookup().find("fake_cuda_kernels_run")
                .orElseThrow(() -> new AssertionError("the fake libcuda has no fake_cuda_kernels_run"));
        try {
            return (long) java.lang.foreign.Linker.nativeLinker().downcallHandle(f,
                    java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_LONG)).invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void main(String[] args) {
        List<String> failures = new ArrayList<>();
        List<Object[]> checks = List.of(
                new Object[] {"optimizer step captured once, replayed", (Check) () -> {
                    try (GpuDevice dev = GpuDevice.open(Backend.CUDA)) {
                        OptimizerGraphReplay.check(dev);
                    }
                }},
                new Object[] {"multi-tensor optimizers", (Check) () -> {
                    try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
                        MultiTensorOptimizer.check(gpu);
                    }
                }},
                new Object[] {"profiled ops (events)", (Check) () -> {
                    try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
                        ProfiledGpuCheck.check(gpu);
                    }
                }},
                new Object[] {"graph solves match step-by-step solves, early halting through conditional nodes",
                        (Check) () -> {
                    try (GpuBackend gpu = GpuBackend.open(Backend.CUDA)) {
                        // The fake models conditional IF nodes: early-halting solves must take that path (and, by
                        // the fake's kernel count, skip the steps after every puzzle halted).
                        if (!gpu.device().supportsConditionalGraphs()) {
                            throw new AssertionError("conditional graphs unsupported on the fake: "
                                    + gpu.device().conditionalGraphsUnsupportedReason());
                        }
                        GpuSolveGraph.check(gpu, false, FakeCudaChild::fakeKernelsRun);
                    }
                }});
        for (Object[] c : checks) {
            long t = System.nanoTime();
            try {
                ((Check) c[1]).run();
                System.out.printf("fake cuda child: %s: ok (%.1f s)%n", c[0], (System.nanoTime() - t) / 1e9);
            } catch (Throwable e) {
                java.io.StringWriter w = new java.io.StringWriter();
                e.printStackTrace(new java.io.PrintWriter(w));
                failures.add(c[0] + ": " + w);
                System.out.println("fake cuda child: " + c[0] + ": FAILED: " + e);
            }
        }
        if (!failures.isEmpty()) {
            System.out.println("fake cuda child: failed\n" + String.join("\n", failures));
            System.exit(1);
        }
        System.out.println("fake cuda child: ok");
    }
}
