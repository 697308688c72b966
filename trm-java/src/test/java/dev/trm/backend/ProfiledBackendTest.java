package dev.trm.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.cpu.CpuBackend;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The profiler's bookkeeping with both clocks, on the CPU backend: the wall clock as it is, and a device clock from a
 * scripted fake (each mark one millisecond after the one before), so that the device mode's pairing of marks, its
 * read-back in bulk and its eager view are checked exactly, without a GPU. The emulated device's real events are
 * checked in dev.trm.backend.gpu.ProfiledGpuCheck.
 */
class ProfiledBackendTest {

    /** Marks are consecutive integers; the device time between marks a and b is (b - a) ms. */
    static final class FakeClock implements DeviceClock {
        int used, resets, reads;
        int failAtRead = -1;  // the read (counted from 0) that throws, as a failed cuEventElapsedTime would
        boolean closed;

        @Override
        public int mark() {
            return used++;
        }

        @Override
        public double millisBetween(int a, int b) {
            assertTrue(a < used && b < used, "only marks made since the last reset are read");
            if (reads++ == failAtRead) throw new IllegalStateException("read " + failAtRead + " fails");
            return b - a;
        }

        @Override
        public void reset() {
            used = 0;
            resets++;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    /** A CPU backend that reports the fake clock as its device clock, and can capture (as a GPU would). */
    private static Backend withClock(Backend inner, FakeClock clock) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (p, m, args) -> switch (m.getName()) {
                    case "openDeviceClock" -> clock;
                    case "canCapture" -> true;
                    default -> {
                        try {
                            yield m.invoke(inner, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    }
                });
    }

    @Test
    void wallClockCountsEveryOpOnceAndNotTheBodiesThatRunOps() {
        try (CpuBackend cpu = new CpuBackend(); ProfiledBackend.Profile prof = new ProfiledBackend.Profile()) {
            Backend be = ProfiledBackend.wrap(cpu, prof);
            assertFalse(prof.onDevice());
            Tensor a = be.tensor(4), out = be.tensor(4);
            be.write(a, new float[] {1, 2, 3, 4});
            IntTensor flags = be.intTensor(2);
            be.add(a, a, null, out);
            be.runUnlessAllSet(flags, () -> be.add(a, out, null, out));  // the body's add is timed, the call is not
            assertArrayEquals(new float[] {3, 6, 9, 12}, be.read(out));
            Map<String, double[]> t = prof.totals();
            assertEquals(2, t.get("add")[1]);
            assertEquals(2, t.get("tensor")[1]);
            assertFalse(t.containsKey("runUnlessAllSet"), t.keySet().toString());
            assertTrue(prof.table().contains("total"), prof.table());
            prof.clear();
            assertTrue(prof.totals().isEmpty());
        }
    }

    @Test
    void deviceClockTimesEachOpBetweenItsOwnMarksAndRunsEagerly() {
        FakeClock clock = new FakeClock();
        try (CpuBackend cpu = new CpuBackend()) {
            ProfiledBackend.Profile prof = new ProfiledBackend.Profile();
            Backend be = ProfiledBackend.wrap(withClock(cpu, clock), prof);
            assertTrue(prof.onDevice());
            // marks inside a recorded graph would not be one run's timestamps: the profiled view never captures
            assertFalse(be.canCapture());
            assertNull(be.capture(() -> {}));
            assertNull(be.openDeviceClock(), "the profile owns the one clock");
            Tensor a = be.tensor(3);
            int ops = 2 * ProfiledBackend.MAX_PENDING + 5;  // two bulk read-backs on the way, the rest at totals()
            for (int i = 0; i < ops; i++) be.zero(a);
            assertEquals(2, clock.resets, "pending marks are read back and recycled every MAX_PENDING ops");
            Map<String, double[]> t = prof.totals();
            assertEquals(ops, t.get("zero")[1]);
            assertEquals(ops, t.get("zero")[0], 1e-9, "each op is the 1 ms between its own two marks");
            assertEquals(1, t.get("tensor")[1]);
            assertEquals(ops + 1, clock.reads);
            prof.close();
            assertTrue(clock.closed, "the profile frees the clock it took");
        }
    }

    /** A read-back that fails midway adds nothing and drops the marks: no op is counted twice afterwards. */
    @Test
    void aFailedReadBackCountsNothingTwice() {
        FakeClock clock = new FakeClock();
        try (CpuBackend cpu = new CpuBackend(); ProfiledBackend.Profile prof = new ProfiledBackend.Profile()) {
            Backend be = ProfiledBackend.wrap(withClock(cpu, clock), prof);
            Tensor a = be.tensor(3);
            for (int i = 0; i < 4; i++) be.zero(a);
            clock.failAtRead = 2;  // the third of the five pending reads
            assertThrows(IllegalStateException.class, prof::totals);
            assertEquals(1, clock.resets, "the unreadable marks are dropped");
            for (int i = 0; i < 3; i++) be.zero(a);
            Map<String, double[]> t = prof.totals();
            assertEquals(3, t.get("zero")[1], "only the ops after the failure: " + t.keySet());
            assertEquals(3, t.get("zero")[0], 1e-9);
            assertFalse(t.containsKey("tensor"), "the tensor op's time was lost with the failed read-back");
        }
    }

    /** One profile times one device backend: a second wrap is refused, and the clock it opened is freed, not leaked. */
    @Test
    void aSecondDeviceBackendOnOneProfileIsRefusedAndItsClockFreed() {
        FakeClock first = new FakeClock(), second = new FakeClock();
        try (CpuBackend cpu = new CpuBackend(); ProfiledBackend.Profile prof = new ProfiledBackend.Profile()) {
            ProfiledBackend.wrap(withClock(cpu, first), prof);
            assertThrows(IllegalStateException.class, () -> ProfiledBackend.wrap(withClock(cpu, second), prof));
            assertTrue(second.closed, "the refused wrap closes the clock it opened");
            assertFalse(first.closed, "the profile's own clock stays open until the profile closes");
        }
        assertTrue(first.closed);
    }
}
