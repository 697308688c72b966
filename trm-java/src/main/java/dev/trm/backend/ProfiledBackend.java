package dev.trm.backend;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.TreeMap;

/**
 * Wraps a backend so that every op's wall time is summed by op name: {@code trm bench train --profile}. The backend
 * runs ops synchronously on the CPU, so wall time is the op's time; a GPU backend would need events instead.
 */
public final class ProfiledBackend {
    private ProfiledBackend() {}

    /** Accumulated nanoseconds and calls per op. */
    public static final class Profile {
        final Map<String, long[]> byOp = new TreeMap<>();

        public synchronized void clear() {
            byOp.clear();
        }

        public synchronized String table() {
            long total = byOp.values().stream().mapToLong(v -> v[0]).sum();
            StringBuilder sb = new StringBuilder(String.format("%-22s %10s %8s %6s%n", "op", "ms", "calls", "%"));
            byOp.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).forEach(e ->
                    sb.append(String.format("%-22s %10.1f %8d %5.1f%%%n", e.getKey(), e.getValue()[0] / 1e6,
                            e.getValue()[1], 100.0 * e.getValue()[0] / Math.max(1, total))));
            return sb.toString();
        }

        synchronized void add(String op, long nanos) {
            long[] v = byOp.computeIfAbsent(op, k -> new long[2]);
            v[0] += nanos;
            v[1]++;
        }
    }

    public static Backend wrap(Backend inner, Profile profile) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    long t0 = System.nanoTime();
                    try {
                        return method.invoke(inner, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    } finally {
                        profile.add(method.getName(), System.nanoTime() - t0);
                    }
                });
    }
}
