package dev.trm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class CpuParallelTest {

    @Test
    void parallelForRunsEveryIndexExactlyOnce() {
        for (int threads : new int[] {1, 2, 4}) {
            CpuParallel pool = CpuParallel.withThreads(threads);
            for (int n : new int[] {0, 1, 2, 7, 1000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(n, 1));
                pool.parallelFor(n, i -> hits.incrementAndGet(i));
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "index " + i + " of " + n + " on " + threads + " threads");
            }
        }
    }

    @Test
    void parallelForRangeCoversTheRangeWithDisjointChunksOfAtLeastMinChunk() {
        CpuParallel pool = CpuParallel.withThreads(3);
        for (int n : new int[] {1, 5, 99, 10_000}) {
            for (int minChunk : new int[] {1, 8, 1000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                int[] smallest = {Integer.MAX_VALUE};
                int[] chunks = {0};
                pool.parallelForRange(n, minChunk, (start, end) -> {
                    assertTrue(start < end && start >= 0 && end <= n);
                    synchronized (smallest) {
                        smallest[0] = Math.min(smallest[0], end - start);
                        chunks[0]++;
                    }
                    for (int i = start; i < end; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i));
                // Equal chunks: each at least minChunk long unless the whole range is shorter.
                if (chunks[0] > 1) assertTrue(smallest[0] >= minChunk, "chunk shorter than minChunk " + minChunk);
            }
        }
    }

    @Test
    void nestedLoopsDoNotDeadlock() {
        CpuParallel pool = CpuParallel.withThreads(2);
        AtomicIntegerArray hits = new AtomicIntegerArray(64);
        pool.parallelFor(8, i -> pool.parallelFor(8, j -> hits.incrementAndGet(i * 8 + j)));
        for (int i = 0; i < 64; i++) assertEquals(1, hits.get(i));
    }

    @Test
    void exceptionsReachTheCaller() {
        CpuParallel pool = CpuParallel.withThreads(2);
        IllegalStateException boom = new IllegalStateException("boom");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> pool.parallelFor(100, i -> {
            if (i == 37) throw boom;
        }));
        assertSame(boom, thrown);
        // The pool still works afterwards.
        AtomicIntegerArray hits = new AtomicIntegerArray(10);
        pool.parallelFor(10, hits::incrementAndGet);
        for (int i = 0; i < 10; i++) assertEquals(1, hits.get(i));
    }

    @Test
    void sharedPoolHasAtLeastOneThreadAndRejectsZero() {
        assertTrue(CpuParallel.shared().threads() >= 1);
        assertThrows(IllegalArgumentException.class, () -> CpuParallel.withThreads(0));
    }
}
