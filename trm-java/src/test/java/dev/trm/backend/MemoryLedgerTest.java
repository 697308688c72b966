package dev.trm.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MemoryLedgerTest {

    @Test
    void scopesNestAndBookingsFollowTheirBuffers() {
        MemoryLedger m = new MemoryLedger();
        Object a = new Object(), b = new Object(), c = new Object(), d = new Object();
        m.allocated(a, 10);                                        // outside any scope
        try (var outer = m.use(MemoryUse.CARRY)) {
            m.allocated(b, 100);
            try (var inner = m.use(MemoryUse.GRADIENTS)) {
                m.allocated(c, 1000);
            }
            m.allocated(d, 10000);                                 // back under the outer use
        }
        m.allocated(new Object(), 7, MemoryUse.SCRATCH);           // explicit
        assertEquals(Map.of(MemoryUse.UNLABELLED, 10L, MemoryUse.CARRY, 10100L, MemoryUse.GRADIENTS, 1000L,
                MemoryUse.SCRATCH, 7L), m.bytesByUse());
        assertEquals(2, m.buffers(MemoryUse.CARRY));
        m.released(d);
        m.released(d);                                             // twice: ignored
        m.released(new Object());                                  // never booked: ignored
        assertEquals(100L, m.bytesByUse().get(MemoryUse.CARRY));
        assertEquals(1117L, m.totalBytes());
        m.released(a);
        assertTrue(!m.bytesByUse().containsKey(MemoryUse.UNLABELLED), "a use with no buffer left has no row");
    }

    @Test
    void closingAScopeTwiceRestoresOnlyOnce() {
        MemoryLedger m = new MemoryLedger();
        var outer = m.use(MemoryUse.CARRY);
        var inner = m.use(MemoryUse.HEADS);
        inner.close();
        var other = m.use(MemoryUse.BATCH);
        inner.close();                                             // must not reset BATCH to CARRY
        Object x = new Object();
        m.allocated(x, 1);
        assertEquals(Map.of(MemoryUse.BATCH, 1L), m.bytesByUse());
        other.close();
        outer.close();
    }

    /**
     * TrmSolver lets threads solve at once on the CPU backend, each making its model, batch and carry under its own
     * scopes: a scope is its thread's, so interleaved scopes of two threads neither book each other's buffers nor
     * leave a use current after both closed.
     */
    @Test
    void scopesOfTwoThreadsDoNotMix() throws Exception {
        MemoryLedger m = new MemoryLedger();
        var a = java.util.concurrent.Executors.newSingleThreadExecutor();
        var b = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            MemoryLedger.Scope sa = a.submit(() -> m.use(MemoryUse.BATCH)).get();
            MemoryLedger.Scope sb = b.submit(() -> m.use(MemoryUse.CARRY)).get();
            a.submit(() -> m.allocated(new Object(), 1)).get();      // thread a: under BATCH
            a.submit(sa::close).get();
            b.submit(() -> m.allocated(new Object(), 10)).get();     // thread b: still under CARRY
            b.submit(sb::close).get();
            m.allocated(new Object(), 100);                          // no scope open on this thread
            assertEquals(Map.of(MemoryUse.BATCH, 1L, MemoryUse.CARRY, 10L, MemoryUse.UNLABELLED, 100L),
                    m.bytesByUse());
        } finally {
            a.shutdown();
            b.shutdown();
        }
    }

    @Test
    void tableHasARowPerUseAndTheTotal() {
        MemoryLedger m = new MemoryLedger();
        m.allocated(new Object(), 3L << 20, MemoryUse.PARAMETERS);
        m.allocated(new Object(), 1L << 20, MemoryUse.GRADIENTS);
        String t = m.table("memory:");
        assertTrue(t.startsWith("memory:\n"), t);
        assertTrue(t.contains("parameters (trainable weights)") && t.contains("3.0 MiB  75.0%"), t);
        assertTrue(t.contains("gradients") && t.contains("1.0 MiB  25.0%"), t);
        assertTrue(t.strip().endsWith("4.0 MiB"), t);
    }
}
