package dev.trm.backend;

import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The bytes a backend holds, by what they are for ({@link MemoryUse}). Each backend owns one and books every tensor
 * it makes under the use that is current then (set by the tensor's owner with {@link #use}) and unbooks it when the
 * tensor is freed; the GPU backend also books its own buffers (bf16 weight copies, kernel scratch) under explicit
 * uses. On a GPU the total is the device memory the model holds (the driver's own, cuBLAS's workspace and the
 * kernels' code are not in it); on the CPU it is the Java arrays of live tensors.
 *
 * <p>The current use is the calling thread's: TrmSolver lets threads solve at once on the CPU backend, each making
 * its model, batch and carry under its own scopes, which must neither label the other's buffers nor, closed out of
 * step with it, leave a use current. A scope is closed by the thread that opened it (try-with-resources).
 */
public final class MemoryLedger {

    /** Restores the use that was current before {@link #use}; closing twice is harmless. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    private record Booking(MemoryUse use, long bytes) {}

    private final Map<Object, Booking> live = new IdentityHashMap<>();
    private final long[] bytes = new long[MemoryUse.values().length];
    private final int[] buffers = new int[MemoryUse.values().length];
    private final ThreadLocal<MemoryUse> current = ThreadLocal.withInitial(() -> MemoryUse.UNLABELLED);

    /** Books what is allocated until the scope closes under use (scopes nest: closing one restores the outer use). */
    public Scope use(MemoryUse use) {
        MemoryUse outer = current.get();
        current.set(use);
        boolean[] open = {true};
        return () -> {
            if (open[0]) current.set(outer);
            open[0] = false;
        };
    }

    /** Books buffer (any object identifying it) of the given size under the current use. */
    public synchronized void allocated(Object buffer, long size) {
        allocated(buffer, size, current.get());
    }

    /** Books buffer under an explicit use, whatever is current (a backend's own buffers). */
    public synchronized void allocated(Object buffer, long size, MemoryUse use) {
        Booking old = live.put(buffer, new Booking(use, size));
        if (old != null) unbook(old);
        bytes[use.ordinal()] += size;
        buffers[use.ordinal()]++;
    }

    /** Unbooks buffer; one never booked (or already released) is ignored. */
    public synchronized void released(Object buffer) {
        Booking b = live.remove(buffer);
        if (b != null) unbook(b);
    }

    private void unbook(Booking b) {
        bytes[b.use().ordinal()] -= b.bytes();
        buffers[b.use().ordinal()]--;
    }

    /** Bytes held now, by use, for the uses that hold any, in table order. */
    public synchronized Map<MemoryUse, Long> bytesByUse() {
        Map<MemoryUse, Long> out = new EnumMap<>(MemoryUse.class);
        for (MemoryUse u : MemoryUse.values()) if (buffers[u.ordinal()] > 0) out.put(u, bytes[u.ordinal()]);
        return out;
    }

    /** Buffers held now under use. */
    public synchronized int buffers(MemoryUse use) {
        return buffers[use.ordinal()];
    }

    public synchronized long totalBytes() {
        long sum = 0;
        for (long b : bytes) sum += b;
        return sum;
    }

    /**
     * The table: one row per use that holds memory (MiB, share of the total, buffer count), then the total. Ends
     * with a newline.
     */
    public synchronized String table(String title) {
        StringBuilder sb = new StringBuilder(title).append('\n');
        long total = totalBytes();
        for (MemoryUse u : MemoryUse.values()) {
            int n = buffers[u.ordinal()];
            if (n == 0) continue;
            long b = bytes[u.ordinal()];
            sb.append(String.format(Locale.ROOT, "  %-54s %s %5.1f%% %6d buffers%n", u.label(), size(b),
                    total == 0 ? 0.0 : 100.0 * b / total, n));
        }
        sb.append(String.format(Locale.ROOT, "  %-54s %s%n", "total", size(total)));
        return sb.toString();
    }

    /** Right-aligned, in MiB; below 0.1 MiB in KiB, so that small rows do not read as nothing. */
    private static String size(long bytes) {
        return bytes < 104858 ? String.format(Locale.ROOT, "%10.1f KiB", bytes / 1024.0)
                : String.format(Locale.ROOT, "%10.1f MiB", bytes / 1048576.0);
    }
}
