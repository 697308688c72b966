package dev.trm.backend;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * A backend that stores nothing and runs nothing, and books every tensor the model asks for in its ledger at the
 * element sizes of the backend it stands for: run a training step or a solve on it and its {@link #memory()} table is
 * the memory plan, for any preset and batch, on a machine without the device (and without the memory). {@code trm
 * bench train --plan} and {@code trm bench solve --plan} print it.
 *
 * <p>Standing for the GPU backend it also books the bf16 copy that backend keeps of each fp32 weight a GEMM reads
 * (and of the EMA copy of such a weight), as {@link MemoryUse#WEIGHT_COPIES}. What it leaves out: the GPU backend's
 * own kernel scratch (a few MiB: attention statistics, token-mixer weight-gradient partials, multi-tensor tables),
 * cuBLAS's workspace, the driver's context and the kernels' code. {@code MemoryPlannerTest} holds the plan to the
 * emulated device's ledger, row by row.
 *
 * <p>Reads return zeros and every op does nothing: no value a plan computes means anything. Standing for the GPU
 * backend it also captures as that backend does (the work runs once, as a capture calls every op; a replay does
 * nothing), so that its callers take the GPU's paths and hold what they hold there: a solver keeps one captured solve
 * (a model, its carry and its solve state) per batch size, where an eager solver reuses one model. Standing for the
 * CPU it cannot capture, as the CPU backend.
 */
public final class MemoryPlanner {
    private MemoryPlanner() {}

    /** The sizes of the GPU backend: bf16 activations, fp32 weights and statistics, bf16 copies of GEMM weights. */
    public static Backend asGpu() {
        return planning("plan as on a GPU: bf16 activations; without the backend's kernel scratch, cuBLAS's workspace "
                + "and the driver's context", 2, true);
    }

    /** The sizes of the CPU backend: fp32 throughout. */
    public static Backend asCpu() {
        return planning("plan as on the CPU: fp32", 4, false);
    }

    /** A tensor of the plan: a shape, no storage. */
    private record Planned(int[] shape, boolean isWeightPrecision) implements Tensor {}

    private record PlannedInts(int[] shape) implements IntTensor {}

    /** gpu: book the GPU backend's bf16 weight copies and capture as it does (see the class comment). */
    private static Backend planning(String name, int activationBytes, boolean gpu) {
        MemoryLedger ledger = new MemoryLedger();
        // fp32 tensors that have a bf16 copy booked, with the copy's key in the ledger (a GPU keeps one per GEMM
        // weight, made at its first use, and frees it with the weight)
        Map<Tensor, Object> copies = new IdentityHashMap<>();
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    if (method.getDeclaringClass() == Object.class) return objectMethod(proxy, method, args, name);
                    switch (method.getName()) {
                        case "name": return name;
                        case "memory": return ledger;
                        case "tensor": return book(ledger, new Planned((int[]) args[0], true), 4);
                        case "activation": return book(ledger, new Planned((int[]) args[0], false), activationBytes);
                        case "intTensor": {
                            IntTensor t = new PlannedInts((int[]) args[0]);
                            ledger.allocated(t, 4 * t.size());
                            return t;
                        }
                        case "free": {
                            ledger.released(args[0]);
                            Object copy = copies.remove(args[0]);
                            if (copy != null) ledger.released(copy);
                            return null;
                        }
                        case "read": return new float[Math.toIntExact(((Tensor) args[0]).size())];
                        case "readDouble": return new double[Math.toIntExact(((Tensor) args[0]).size())];
                        case "readInts": return new int[Math.toIntExact(((IntTensor) args[0]).size())];
                        case "rope": {
                            int seq = (Integer) args[0], hd = (Integer) args[1];
                            Tensor c = book(ledger, new Planned(new int[] {seq, hd}, true), 4);
                            Tensor s = book(ledger, new Planned(new int[] {seq, hd}, true), 4);
                            return new RopeTables(c, s, seq, hd);
                        }
                        case "runUnlessAllSet": ((Runnable) args[1]).run(); return null;
                        case "canCapture": return gpu;
                        case "capture", "captureSkippable": {
                            if (!gpu) return null;
                            ((Runnable) args[0]).run();
                            return new Backend.Replay() {
                                @Override
                                public void replay() {}

                                @Override
                                public void close() {}
                            };
                        }
                        default: break;
                    }
                    if (gpu) bookGemmCopies(ledger, copies, method.getName(), args);
                    Class<?> r = method.getReturnType();
                    return r == boolean.class ? Boolean.FALSE : null;  // openDeviceClock: null; ops: nothing
                });
    }

    private static Tensor book(MemoryLedger ledger, Planned t, int bytes) {
        ledger.allocated(t, (long) bytes * t.size());
        return t;
    }

    /**
     * The GPU backend's rule (GpuBackend.gemmOperand, followBf16Copy): the weight operand of every GEMM op, when it is
     * fp32, gets a bf16 copy at its first use; an EMA shadow gets one when its live weight has one.
     */
    private static void bookGemmCopies(MemoryLedger ledger, Map<Tensor, Object> copies, String op, Object[] args) {
        Tensor weight = switch (op) {
            case "linear", "linearSwiglu" -> (Tensor) args[1];
            case "linearBackward" -> args[3] != null ? (Tensor) args[1] : null;  // w is read only for dx
            case "tokenMix", "tokenMixSwiglu", "tokenMixBackward", "tokenMixNorm" -> (Tensor) args[0];
            // qHead and haltingBceBackward (q_head.cu) read the q weight's fp32 master, rounding it as they read: no copy
            default -> null;
        };
        if (weight != null) copy(ledger, copies, weight);
        if (op.equals("ema") && copies.containsKey((Tensor) args[1])) copy(ledger, copies, (Tensor) args[0]);
        if (op.equals("emaAll")) {
            Tensor[] shadow = (Tensor[]) args[0], live = (Tensor[]) args[1];
            for (int i = 0; i < shadow.length; i++) if (copies.containsKey(live[i])) copy(ledger, copies, shadow[i]);
        }
    }

    private static void copy(MemoryLedger ledger, Map<Tensor, Object> copies, Tensor w) {
        if (!(w instanceof Planned p) || !p.isWeightPrecision() || copies.containsKey(w)) return;
        Object copy = new Object();
        copies.put(w, copy);
        ledger.allocated(copy, 2 * w.size(), MemoryUse.WEIGHT_COPIES);
    }

    private static Object objectMethod(Object proxy, Method m, Object[] args, String name) {
        return switch (m.getName()) {
            case "equals" -> proxy == args[0];
            case "hashCode" -> System.identityHashCode(proxy);
            default -> name;
        };
    }
}
