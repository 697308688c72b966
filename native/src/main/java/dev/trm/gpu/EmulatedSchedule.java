package dev.trm.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * The order in which the EMULATED device runs the threads of a block and the blocks of a grid (cuda_emu.h, "Schedule
 * modes"). {@link #FORWARD} (the default) runs threads in ascending linear id in every pass between barriers and
 * blocks in ascending order; {@link #REVERSE} runs both descending; {@link #shuffle(long)} draws a pseudo-random
 * permutation from the seed. A kernel that is correct on a GPU gives the same results under every schedule; one with
 * a missing {@code __syncthreads()} / {@code __syncwarp()}, or that reads another block's output in the same launch,
 * passes in one order and breaks in another.
 *
 * <p>Process-wide: it applies to every emulated device of the JVM, from the next launch on. The environment variable
 * {@code TRM_EMU_SCHEDULE=forward|reverse|shuffle:SEED}, read when the emulation library loads, sets the initial
 * value; {@link #set} overrides it. Tests that change it restore the previous one.
 */
@SuppressWarnings("restricted")  // native by design: runs only with --enable-native-access
public record EmulatedSchedule(Mode mode, long seed) {
    public enum Mode { FORWARD, REVERSE, SHUFFLE }

    public static final EmulatedSchedule FORWARD = new EmulatedSchedule(Mode.FORWARD, 0);
    public static final EmulatedSchedule REVERSE = new EmulatedSchedule(Mode.REVERSE, 0);

    public EmulatedSchedule {
        if (mode != Mode.SHUFFLE && seed != 0) throw new IllegalArgumentException(mode + " takes no seed");
    }

    /** A pseudo-random order from the seed (unsigned 64-bit); the same seed gives the same order. */
    public static EmulatedSchedule shuffle(long seed) {
        return new EmulatedSchedule(Mode.SHUFFLE, seed);
    }

    /** "forward", "reverse" or "shuffle:SEED", as {@code TRM_EMU_SCHEDULE} takes it. */
    public static EmulatedSchedule parse(String text) {
        if (text.equals("forward")) return FORWARD;
        if (text.equals("reverse")) return REVERSE;
        if (text.startsWith("shuffle:")) {
            try {
                return shuffle(Long.parseUnsignedLong(text.substring(8)));
            } catch (NumberFormatException e) {
                // below
            }
        }
        throw new IllegalArgumentException("schedule '" + text + "' is not forward, reverse or shuffle:SEED");
    }

    @Override
    public String toString() {
        return mode == Mode.SHUFFLE ? "shuffle:" + Long.toUnsignedString(seed) : mode.name().toLowerCase();
    }

    /** The schedule launches use now. */
    public static EmulatedSchedule current() {
        requireLibrary();
        try {
            int mode = (int) Native.MODE.invokeExact();
            long seed = (long) Native.SEED.invokeExact();
            return new EmulatedSchedule(Mode.values()[mode], mode == Mode.SHUFFLE.ordinal() ? seed : 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Makes {@code schedule} the one every later emulated launch uses; returns the one before it. */
    public static EmulatedSchedule set(EmulatedSchedule schedule) {
        EmulatedSchedule before = current();  // also checks that the library is there
        try {
            int rc = (int) Native.SET.invokeExact(schedule.mode.ordinal(), schedule.seed);
            if (rc != 0) throw new IllegalStateException("emu_set_schedule refused " + schedule);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return before;
    }

    private static void requireLibrary() {
        if (KernelImages.emulationLibrary() == null) {
            throw new GpuUnavailableException("no emulated device: the emulation library was not built for "
                    + KernelImages.platform());
        }
    }

    /** The emulation library's entry points, bound on first use (the library is the one every emulated device uses). */
    private static final class Native {
        static final MethodHandle SET, MODE, SEED;

        static {
            Path library = KernelImages.emulationLibrary();
            Linker linker = Linker.nativeLinker();
            SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
            SET = linker.downcallHandle(lib.findOrThrow("emu_set_schedule"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
            MODE = linker.downcallHandle(lib.findOrThrow("emu_schedule_mode"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
            SEED = linker.downcallHandle(lib.findOrThrow("emu_schedule_seed"), FunctionDescriptor.of(ValueLayout.JAVA_LONG));
        }

        static RuntimeException rethrow(Throwable t) {
            if (t instanceof RuntimeException r) return r;
            if (t instanceof Error e) throw e;
            return new IllegalStateException(t);
        }
    }
}
