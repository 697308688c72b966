package dev.trm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class FmaPeakTest {

    @Test
    void measuresPositiveFiniteFiguresForThePool() {
        CpuParallel pool = CpuParallel.withThreads(2);
        FmaPeak.Result r = FmaPeak.measure(pool);
        assertEquals(2, r.threads());
        assertEquals(FloatVector.SPECIES_PREFERRED.length(), r.lanes());
        assertTrue(r.singleThreadGflops() > 0 && Double.isFinite(r.singleThreadGflops()), r.toString());
        assertTrue(r.allThreadsGflops() > 0 && Double.isFinite(r.allThreadsGflops()), r.toString());
    }
}
