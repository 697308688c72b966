package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The EMULATED device's schedules ({@link EmulatedSchedule}): the order threads and blocks actually run in under
 * forward, reverse and shuffle (emu_check_order takes a ticket per thread before and after a barrier), that a race a
 * forward schedule hides shows under the others (emu_check_race), that a missing __syncwarp() after a WMMA store
 * shows (emu_check_wmma_store), and that the scheduler's stress kernel gives the same bits under every schedule.
 */
@Tag("emulated")
class EmulatorScheduleTest {
    static GpuDevice dev;
    static EmulatedSchedule before;

    @BeforeAll
    static void open() {
        dev = EmulatedTestDevice.openOrSkip();
        before = EmulatedSchedule.current();
    }

    @AfterEach
    void restore() {
        if (before != null) EmulatedSchedule.set(before);
    }

    @AfterAll
    static void close() {
        if (dev != null) dev.close();
    }

    /** emu_check_order's barrier modes: every thread returns at once, every one waits, odd ones return. */
    private static final int RETURN = 0, WAIT = 1, ODD_RETURN = 2;

    /** Tickets of emu_check_order on a (gx, gy, 1) grid of n-thread blocks: [block][thread][before, after]. */
    private static int[][][] order(EmulatedSchedule schedule, int gx, int gy, int n, int barrier) {
        EmulatedSchedule.set(schedule);
        int blocks = gx * gy;
        try (DeviceBuffer counter = dev.alloc(DType.I32, 1).upload(new int[] {0});
             DeviceBuffer out = dev.alloc(DType.I32, 2L * blocks * n)) {
            dev.kernel("emu_check_order").launch(dev.defaultStream(), gx, gy, 1, n, 1, 1, 0,
                    KernelArgs.of().ptr(counter).ptr(out).i32(barrier));
            int[] o = out.downloadInts();
            int[][][] t = new int[blocks][n][2];
            for (int b = 0; b < blocks; b++) {
                for (int i = 0; i < n; i++) t[b][i] = new int[] {o[2 * (b * n + i)], o[2 * (b * n + i) + 1]};
            }
            return t;
        }
    }

    @Test
    void forwardRunsThreadsAndBlocksInAscendingOrder() {
        int n = 96, gx = 3, gy = 2;
        int[][][] t = order(EmulatedSchedule.FORWARD, gx, gy, n, WAIT);
        for (int b = 0; b < gx * gy; b++) {
            for (int i = 0; i < n; i++) {
                assertEquals(b * 2 * n + i, t[b][i][0], "block " + b + " thread " + i + " start");
                // the thread that completes the barrier (the last, n - 1) goes on at once, the others follow in order
                int after = i == n - 1 ? 0 : i + 1;
                assertEquals(b * 2 * n + n + after, t[b][i][1], "block " + b + " thread " + i + " after the barrier");
            }
        }
    }

    @Test
    void reverseRunsThreadsDescendingInEveryPassAndBlocksDescending() {
        int n = 96, gx = 3, gy = 2, blocks = gx * gy;
        int[][][] t = order(EmulatedSchedule.REVERSE, gx, gy, n, WAIT);
        for (int b = 0; b < blocks; b++) {
            int p = blocks - 1 - b;  // the block's position in the run
            for (int i = 0; i < n; i++) {
                assertEquals(p * 2 * n + (n - 1 - i), t[b][i][0], "block " + b + " thread " + i + " start");
                assertEquals(p * 2 * n + n + (n - 1 - i), t[b][i][1], "block " + b + " thread " + i + " after");
            }
        }
    }

    @Test
    void shuffleIsAPermutationPerBlockAndPassReproducibleFromItsSeed() {
        int n = 128, gx = 4, gy = 3, blocks = gx * gy;
        int[][][] a = order(EmulatedSchedule.shuffle(7), gx, gy, n, WAIT);
        int[] blockPosition = new int[blocks];
        boolean passesDiffer = false, blocksShuffled = false;
        for (int b = 0; b < blocks; b++) {
            // every block still runs whole, before the next: its tickets are one window of 2n
            int p = Arrays.stream(a[b]).mapToInt(x -> x[0]).min().orElseThrow() / (2 * n);
            blockPosition[b] = p;
            blocksShuffled |= p != b;
            int[] first = new int[n], second = new int[n];
            for (int i = 0; i < n; i++) {
                first[i] = a[b][i][0] - p * 2 * n;
                second[i] = a[b][i][1] - p * 2 * n - n;
            }
            assertIsPermutation(first, "block " + b + " first pass");
            assertIsPermutation(second, "block " + b + " second pass");
            passesDiffer |= !Arrays.equals(first, second);
        }
        assertIsPermutation(blockPosition, "block order");
        assertTrue(blocksShuffled, "the blocks ran in their forward order");
        assertTrue(passesDiffer, "every block ran its two passes in the same order");
        for (int b = 0; b < blocks; b++) {
            int[] first = Arrays.stream(a[b]).mapToInt(x -> x[0]).toArray();
            int[] sorted = first.clone();
            Arrays.sort(sorted);
            assertFalse(Arrays.equals(first, sorted), "block " + b + " started its threads in ascending order");
        }
        assertTrue(Arrays.deepEquals(a, order(EmulatedSchedule.shuffle(7), gx, gy, n, WAIT)), "same seed, same order");
        assertFalse(Arrays.deepEquals(a, order(EmulatedSchedule.shuffle(8), gx, gy, n, WAIT)), "another seed");
    }

    /** Without a barrier every thread runs to its return at once, handing its stack to the next one to start. */
    @Test
    void returningThreadsEachRunOnceUnderEverySchedule() {
        int n = 1024, gx = 3;
        for (EmulatedSchedule s : new EmulatedSchedule[] {EmulatedSchedule.FORWARD, EmulatedSchedule.REVERSE,
                EmulatedSchedule.shuffle(1)}) {
            int[][][] t = order(s, gx, 1, n, RETURN);
            int[] all = new int[gx * n];
            for (int b = 0; b < gx; b++) {
                for (int i = 0; i < n; i++) {
                    all[b * n + i] = t[b][i][0];
                    assertEquals(-1, t[b][i][1], s + " block " + b + " thread " + i);
                }
            }
            assertIsPermutation(all, s.toString());
        }
    }

    /**
     * Odd threads return before the barrier, even ones wait at it: returning threads hand their stacks to threads
     * that then wait, and the barrier counts only the threads still running (forward: the last thread's return
     * releases it). Under every schedule each block starts all its threads before any passes the barrier, the odd
     * ones take no second ticket, and reverse resumes the even ones in descending order, thread 0 last.
     */
    @Test
    void threadsReturningBeforeABarrierReleaseItUnderEverySchedule() {
        int n = 96, gx = 2, perBlock = n + n / 2;
        for (EmulatedSchedule s : new EmulatedSchedule[] {EmulatedSchedule.FORWARD, EmulatedSchedule.REVERSE,
                EmulatedSchedule.shuffle(4)}) {
            int[][][] t = order(s, gx, 1, n, ODD_RETURN);
            int[] all = new int[gx * perBlock];
            int k = 0;
            for (int b = 0; b < gx; b++) {
                int lastStart = Integer.MIN_VALUE, firstAfter = Integer.MAX_VALUE;
                for (int i = 0; i < n; i++) {
                    all[k++] = t[b][i][0];
                    lastStart = Math.max(lastStart, t[b][i][0]);
                    if (i % 2 == 1) {
                        assertEquals(-1, t[b][i][1], s + " block " + b + " odd thread " + i + " passed the barrier");
                    } else {
                        all[k++] = t[b][i][1];
                        firstAfter = Math.min(firstAfter, t[b][i][1]);
                    }
                }
                assertTrue(lastStart < firstAfter, s + " block " + b + ": a thread passed the barrier before every "
                        + "thread had started");
                if (s.equals(EmulatedSchedule.REVERSE)) {
                    int p = gx - 1 - b;
                    for (int i = 0; i < n; i++) {
                        assertEquals(p * perBlock + (n - 1 - i), t[b][i][0], "reverse block " + b + " thread " + i);
                        if (i % 2 == 0) {
                            assertEquals(p * perBlock + n + (n - 2 - i) / 2, t[b][i][1], "reverse block " + b
                                    + " thread " + i + " after the barrier");
                        }
                    }
                }
            }
            assertIsPermutation(all, s.toString());
        }
    }

    @Test
    void aMissingBarrierThatForwardHidesShowsUnderReverseAndShuffle() {
        int n = 64;
        race(EmulatedSchedule.FORWARD, 0);  // every later launch starts from other values than it writes
        int[] forward = race(EmulatedSchedule.FORWARD, 10_000);
        for (int t = 1; t < n; t++) assertEquals(10_000 + t - 1, forward[t], "forward: the writer ran first, thread " + t);
        int[] reverse = race(EmulatedSchedule.REVERSE, 20_000);
        for (int t = 1; t < n; t++) assertEquals(10_000 + t - 1, reverse[t], "reverse: the reader ran first, thread " + t);
        for (long seed : new long[] {1, 2}) {
            int stamp = 30_000 + 10_000 * (int) seed;
            int[] shuffled = race(EmulatedSchedule.shuffle(seed), stamp);
            boolean stale = false;
            for (int t = 1; t < n; t++) stale |= shuffled[t] != stamp + t - 1;
            assertTrue(stale, "shuffle:" + seed + " hid the race");
        }
    }

    private static int[] race(EmulatedSchedule s, int stamp) {
        EmulatedSchedule.set(s);
        try (DeviceBuffer out = dev.alloc(DType.I32, 64)) {
            dev.kernel("emu_check_race").launch(dev.defaultStream(), 1, 64, 0, KernelArgs.of().ptr(out).i32(stamp));
            return out.downloadInts();
        }
    }

    /** Each lane stores its own share of a WMMA tile: a read of the whole tile needs the __syncwarp() after it. */
    @Test
    void aMissingSyncwarpAfterAWmmaStoreShows() {
        for (EmulatedSchedule s : new EmulatedSchedule[] {EmulatedSchedule.FORWARD, EmulatedSchedule.REVERSE,
                EmulatedSchedule.shuffle(3)}) {
            float[] synced = wmmaStore(s, true);
            for (int lane = 0; lane < 32; lane++) assertEquals(256f, synced[lane], s + " lane " + lane);
            float[] racy = wmmaStore(s, false);
            assertTrue(Arrays.stream(toDoubles(racy)).anyMatch(v -> v < 256), s + ": every lane saw every store");
        }
    }

    private static float[] wmmaStore(EmulatedSchedule s, boolean sync) {
        EmulatedSchedule.set(s);
        try (DeviceBuffer out = dev.alloc(DType.F32, 32)) {
            dev.kernel("emu_check_wmma_store").launch(dev.defaultStream(), 1, 32, 0,
                    KernelArgs.of().i32(sync ? 1 : 0).ptr(out));
            return out.downloadFloats();
        }
    }

    /** The scheduler's stress kernel (barriers, shuffles, early returns) is race-free: the same bits every time. */
    @Test
    void theStressKernelGivesTheSameBitsUnderEverySchedule() {
        int[] forward = stress(EmulatedSchedule.FORWARD);
        assertArrayEquals(forward, stress(EmulatedSchedule.REVERSE), "reverse");
        assertArrayEquals(forward, stress(EmulatedSchedule.shuffle(11)), "shuffle:11");
    }

    private static int[] stress(EmulatedSchedule s) {
        EmulatedSchedule.set(s);
        try (DeviceBuffer out = dev.alloc(DType.I32, 3 * 1024)) {
            dev.kernel("emu_check_stress").launch(dev.defaultStream(), 3, 1024, 0, KernelArgs.of().ptr(out).i32(4));
            return out.downloadInts();
        }
    }

    @Test
    void aFailureNamesTheScheduleItHappenedUnder() {
        EmulatedSchedule.set(EmulatedSchedule.shuffle(5));
        try (DeviceBuffer out = dev.alloc(DType.I32, 32)) {
            CudaException ex = assertThrows(CudaException.class, () -> dev.kernel("emu_check_deadlock")
                    .launch(dev.defaultStream(), 1, 32, 0, KernelArgs.of().ptr(out)));
            assertTrue(ex.getMessage().contains("deadlock in emu_check_deadlock")
                    && ex.getMessage().contains("(schedule shuffle:5)"), ex.getMessage());
        }
    }

    @Test
    void schedulesParseAndPrintAsTheEnvironmentVariableTakesThem() {
        for (String s : new String[] {"forward", "reverse", "shuffle:0", "shuffle:18446744073709551615"}) {
            assertEquals(s, EmulatedSchedule.parse(s).toString());
        }
        assertThrows(IllegalArgumentException.class, () -> EmulatedSchedule.parse("shuffle:x"));
        assertThrows(IllegalArgumentException.class, () -> EmulatedSchedule.parse("backwards"));
        EmulatedSchedule.set(EmulatedSchedule.shuffle(-1));
        assertEquals(EmulatedSchedule.shuffle(-1), EmulatedSchedule.current());
        assertNotEquals(EmulatedSchedule.FORWARD, EmulatedSchedule.current());
    }

    private static void assertIsPermutation(int[] v, String what) {
        int[] s = v.clone();
        Arrays.sort(s);
        for (int i = 0; i < s.length; i++) assertEquals(i, s[i], what + ": not a permutation of 0.." + (s.length - 1));
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
