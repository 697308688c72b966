package dev.trm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceProbe;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/** The selftest and info commands' contract: exit codes, one line per kernel naming the backend, no silent fallback. */
class SelftestCommandTest {

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            int code = Main.execute(args);
            return new Run(code, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void emulatedSelftestPrintsOneLinePerKernelAndPasses() {
        assumeTrue(DeviceProbe.probe(Backend.EMULATED).available(), "emulated device unavailable");
        Run r = run("selftest", "--device", "emulated");
        assertEquals(0, r.code(), r.out() + r.err());
        long lines = r.out().lines().filter(l -> l.contains("max rel err") && l.contains("backend emulated")).count();
        assertTrue(lines >= 21, r.out());
        assertTrue(r.out().lines().noneMatch(l -> l.contains("backend cuda")), "emulated output mentions cuda");
    }

    @Test
    void cudaSelftestWithoutADeviceFailsWithTheReasonAndNeverFallsBack() {
        assumeFalse(DeviceProbe.probe(Backend.CUDA).available(), "a CUDA device is present");
        Run r = run("selftest", "--device", "cuda");
        assertNotEquals(0, r.code());
        assertTrue(r.err().startsWith("error: no cuda device: "), r.err());
        assertTrue(r.out().lines().noneMatch(l -> l.contains("max rel err")), "a kernel ran: " + r.out());
    }

    @Test
    void unknownDeviceIsAUsageError() {
        Run r = run("selftest", "--device", "tpu");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown GPU backend 'tpu'"), r.err());
    }

    @Test
    void infoSaysWhichBackendAutoPicks() {
        Run r = run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("--device auto: " + DeviceProbe.autoBackend()), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("gpu: ")), r.out());
    }
}
