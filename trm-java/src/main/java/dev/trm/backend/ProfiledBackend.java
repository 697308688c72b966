package dev.trm.backend;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Wraps a backend so that the time of every op is summed by op name: {@code trm bench train --profile} and
 * {@code trm bench solve --profile}.
 *
 * <p>Two clocks. A backend that runs each op to completion on the host (the CPU) is timed by the wall clock around
 * the call. A backend whose ops only enqueue work (a GPU) hands out a {@link DeviceClock}: a mark before and after
 * each op, read back in bulk later, gives the op's device time. Such a backend is profiled eagerly: the wrapper says
 * it cannot capture ({@link Backend#canCapture} false, {@link Backend#capture} null), since marks inside a recorded
 * graph would not be timestamps of one run. So the profile shows where device time goes op by op; the graph-launched
 * step is timed separately, without the wrapper.
 *
 * <p>Methods taking a {@link Runnable} (capture, runUnlessAllSet) pass through untimed: the ops of their body are timed
 * one by one, and timing the call too would count them twice.
 */
public final class ProfiledBackend {
    private ProfiledBackend() {}

    /** Ops whose two marks await their read-back, at most: the clock's event pool stays within twice this. */
    static final int MAX_PENDING = 2048;

    /** Accumulated nanoseconds and calls per op; owns the device clock, if any (close frees it). */
    public static final class Profile implements AutoCloseable {
        private final Map<String, long[]> byOp = new TreeMap<>();
        private DeviceClock clock;  // null: the wall clock
        private final List<Object[]> pending = new ArrayList<>();  // {op, start mark, end mark}

        /** Forgets what was measured so far (e.g. the warm-up steps). */
        public synchronized void clear() {
            pending.clear();
            if (clock != null) clock.reset();
            byOp.clear();
        }

        /** Whether the times are device times (a {@link DeviceClock}) rather than host wall times. */
        public synchronized boolean onDevice() {
            return clock != null;
        }

        /** Total milliseconds and calls per op, in op-name order. */
        public synchronized Map<String, double[]> totals() {
            resolve();
            Map<String, double[]> out = new TreeMap<>();
            byOp.forEach((op, v) -> out.put(op, new double[] {v[0] / 1e6, v[1]}));
            return out;
        }

        /** One line per op, the most expensive first: milliseconds, calls and share of the total; then the total. */
        public String table() {
            return table(1);
        }

        /** {@link #table()} with every time and call count divided by {@code runs} (steps, solves): per run. */
        public synchronized String table(int runs) {
            resolve();
            long total = byOp.values().stream().mapToLong(v -> v[0]).sum();
            StringBuilder sb = new StringBuilder(String.format("%-22s %10s %8s %6s%n", "op",
                    clock != null ? "device ms" : "ms", "calls", "%"));
            byOp.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).forEach(e ->
                    sb.append(String.format("%-22s %10.3f %8.0f %5.1f%%%n", e.getKey(), e.getValue()[0] / 1e6 / runs,
                            (double) e.getValue()[1] / runs, 100.0 * e.getValue()[0] / Math.max(1, total))));
            sb.append(String.format("%-22s %10.3f %8.0f%n", "total", total / 1e6 / runs,
                    (double) byOp.values().stream().mapToLong(v -> v[1]).sum() / runs));
            return sb.toString();
        }

        @Override
        public synchronized void close() {
            pending.clear();
            if (clock != null) clock.close();
            clock = null;
        }

        synchronized void add(String op, long nanos) {
            long[] v = byOp.computeIfAbsent(op, k -> new long[2]);
            v[0] += nanos;
            v[1]++;
        }

        private synchronized void attach(DeviceClock c) {
            if (clock != null) throw new IllegalStateException("this profile already times a device backend");
            clock = c;
        }

        private synchronized void addPending(String op, int start, int end) {
            pending.add(new Object[] {op, start, end});
            if (pending.size() >= MAX_PENDING) resolve();
        }

        /**
         * Reads every pending pair of marks (waits for the last), then recycles the marks. All or nothing: a read that
         * fails adds none of the pending times (adding those read before it would count them twice at the next
         * call), and the marks are dropped either way (they could not be read again).
         */
        private void resolve() {
            if (pending.isEmpty()) return;
            try {
                long[] nanos = new long[pending.size()];
                for (int i = 0; i < nanos.length; i++) {
                    Object[] p = pending.get(i);
                    nanos[i] = Math.round(clock.millisBetween((Integer) p[1], (Integer) p[2]) * 1e6);
                }
                for (int i = 0; i < nanos.length; i++) add((String) pending.get(i)[0], nanos[i]);
            } finally {
                pending.clear();
                clock.reset();
            }
        }
    }

    /**
     * The profiled view of inner: every op's time goes into profile. If inner has a device clock the profile takes it
     * (and frees it on close), and the view runs eagerly (see the class comment).
     */
    public static Backend wrap(Backend inner, Profile profile) {
        DeviceClock clock = inner.openDeviceClock();
        if (clock != null) {
            try {
                profile.attach(clock);
            } catch (RuntimeException e) {
                clock.close();  // not the profile's: nobody else would free it
                throw e;
            }
        }
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    if (clock != null) {
                        switch (method.getName()) {
                            case "canCapture" -> { return false; }
                            case "capture", "captureSkippable" -> { return null; }
                            case "openDeviceClock" -> { return null; }  // the profile owns the one clock
                            default -> { }
                        }
                    }
                    if (untimed(method)) return invoke(inner, method, args);
                    if (clock == null) {
                        long t0 = System.nanoTime();
                        try {
                            return invoke(inner, method, args);
                        } finally {
                            profile.add(method.getName(), System.nanoTime() - t0);
                        }
                    }
                    int start = clock.mark();
                    Object result = invoke(inner, method, args);
                    profile.addPending(method.getName(), start, clock.mark());
                    return result;
                });
    }

    /** Not ops: the backend's identity, its life cycle, and methods that run a body of ops (timed one by one). */
    private static boolean untimed(Method m) {
        return m.getDeclaringClass() == Object.class
                || switch (m.getName()) {
                    case "name", "close", "canCapture", "openDeviceClock", "memory" -> true;
                    default -> false;
                }
                || Arrays.asList(m.getParameterTypes()).contains(Runnable.class);
    }

    private static Object invoke(Backend inner, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(inner, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
