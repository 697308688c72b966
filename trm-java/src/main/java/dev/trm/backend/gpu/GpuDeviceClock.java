package dev.trm.backend.gpu;

import dev.trm.backend.DeviceClock;
import dev.trm.gpu.Event;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.Stream;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link DeviceClock} on one stream: each mark records a CUDA event, taken from a pool that grows to the most marks
 * made between two resets and is freed by close. Elapsed times come from cuEventElapsedTime (about 0.5 us
 * resolution), so an op's time is the device time between the marks around it: its kernels, the gaps between them,
 * and, when the device has caught up with the host, the wait for the host's launch of its first kernel (an event
 * record on an idle stream runs at once, before the kernel after it has been enqueued).
 */
final class GpuDeviceClock implements DeviceClock {
    private final GpuDevice device;
    private final Stream stream;
    private final List<Event> pool = new ArrayList<>();
    private int used;

    GpuDeviceClock(GpuDevice device, Stream stream) {
        this.device = device;
        this.stream = stream;
    }

    private boolean closed;

    @Override
    public int mark() {
        // a profiled view used after its profile closed would otherwise grow a pool that nothing frees
        if (closed) throw new IllegalStateException("this device clock is closed (its profile was closed)");
        if (used == pool.size()) pool.add(device.newEvent());
        pool.get(used).record(stream);
        return used++;
    }

    @Override
    public double millisBetween(int a, int b) {
        if (a < 0 || b < 0 || a >= used || b >= used) {
            throw new IllegalArgumentException("marks " + a + " and " + b + " are not both among the " + used + " made");
        }
        Event end = pool.get(b);
        end.synchronize();
        return end.millisSince(pool.get(a));
    }

    @Override
    public void reset() {
        used = 0;
    }

    @Override
    public void close() {
        closed = true;
        RuntimeException first = null;
        for (Event e : pool) {
            try {
                e.close();
            } catch (RuntimeException ex) {
                if (first == null) first = ex;
            }
        }
        pool.clear();
        used = 0;
        if (first != null) throw first;
    }
}
