package dev.trm.backend.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The kernels under AddressSanitizer: the emulation library built with -fsanitize=address (kernels/build-kernels.sh,
 * into kernels/target/emu-asan/), in a child JVM started with that library's ASan runtime preloaded. There every load
 * and store of a kernel is checked and the device buffers' red zones are ASan-poisoned (dev.trm.gpu.EmulatedMemory),
 * so a load out of bounds, which the plain emulated device cannot see, stops the child with ASan's report naming the
 * kernel. Skips where the build made no ASan library (a g++ without libasan; outside the Maven build).
 */
@Tag("emulated")
class EmulatedAsanTest {
    /**
     * The JVM handles SIGSEGV, SIGBUS, SIGFPE and SIGILL itself (null checks, safepoints, division by zero), so ASan
     * must leave them to it; leaks at exit are the JVM's; the fibers keep no fake stacks (see cuda_emu.cpp).
     */
    static final String ASAN_OPTIONS = "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
            + "allow_user_segv_handler=1:detect_leaks=0:detect_stack_use_after_return=0";

    /** A child that hangs (a deadlock the emulator failed to report) fails the test instead of holding CI. */
    static final long CHILD_LIMIT_SECONDS = 240;

    /** Runs EmulatedAsanChild with the mode in a child JVM under ASan; skips where there is no ASan library. */
    static ChildJvm.Run child(String mode) throws IOException, InterruptedException {
        TestDevices.assumeEmulated();
        // The root pom sets trm.test.emuAsanDir from the reactor's root; Maven started inside a module may set it
        // elsewhere, and surefire runs in the module's folder, next to kernels/.
        String set = System.getProperty("trm.test.emuAsanDir");
        Path sibling = Path.of(System.getProperty("user.dir")).resolve("../kernels/target/emu-asan").normalize();
        String dir = set != null && Files.isDirectory(Path.of(set)) ? set : sibling.toString();
        Path lib = Path.of(dir, "libtrm_kernels_emu_asan.so"), runtime = Path.of(dir, "libasan.path");
        assumeTrue(Files.isRegularFile(lib) && Files.isRegularFile(runtime),
                () -> "no AddressSanitizer build of the emulation library in " + dir
                        + " (g++ without libasan, or see its build.log)");
        // The JVM prints the head of ASan's report, the crashing frame, to the output kept here.
        Map<String, String> env = Map.of("LD_PRELOAD", Files.readString(runtime).strip(), "ASAN_OPTIONS", ASAN_OPTIONS);
        return ChildJvm.run("asan child", CHILD_LIMIT_SECONDS, List.of("-Dtrm.emulated.library=" + lib),
                EmulatedAsanChild.class.getName(), List.of(mode), env);
    }

    @Test
    void everyKernelPassesWithEveryLoadAndStoreChecked() throws Exception {
        ChildJvm.Run r = child("kernels");
        assertTrue(!r.output().contains("AddressSanitizer"), r.output());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("asan child: ok"), r.output());
    }

    @Test
    void aLoadPastABufferStopsTheChildNamingTheKernel() throws Exception {
        ChildJvm.Run r = child("load-past-the-end");
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("ERROR: AddressSanitizer: use-after-poison"), r.output());
        assertTrue(r.output().contains("READ of size 4"), r.output());
        assertTrue(r.output().contains("in emu_check_store"), r.output());
        assertTrue(!r.output().contains("not caught"), r.output());
    }
}
