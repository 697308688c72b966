package dev.trm.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A kernel's arguments, in order, with the exact C types of its parameters: {@code ptr} for any pointer, {@code i32}
 * for int, {@code i64} for long, {@code f32} for float. Immutable once built, so a captured launch can be replayed.
 * Example: {@code KernelArgs.of().ptr(x).ptr(out).i32(rows).f32(eps)}.
 */
public final class KernelArgs {
    /** pointer: a device address (ptr, nullPtr), which the emulated device checks against its live allocations. */
    private record Arg(ValueLayout layout, Object value, boolean pointer) {
        Arg(ValueLayout layout, Object value) {
            this(layout, value, false);
        }
    }

    private final List<Arg> args = new ArrayList<>();

    private KernelArgs() {}

    public static KernelArgs of() {
        return new KernelArgs();
    }

    public KernelArgs ptr(DeviceBuffer b) {
        args.add(new Arg(ValueLayout.JAVA_LONG, b == null ? 0L : b.address(), true));
        return this;
    }

    /** A device pointer at a byte offset into a buffer (checked against its size). */
    public KernelArgs ptr(DeviceBuffer b, long byteOffset) {
        if (byteOffset < 0 || byteOffset > b.bytes()) {
            throw new IllegalArgumentException("offset " + byteOffset + " outside a buffer of " + b.bytes() + " bytes");
        }
        args.add(new Arg(ValueLayout.JAVA_LONG, b.address() + byteOffset, true));
        return this;
    }

    public KernelArgs nullPtr() {
        args.add(new Arg(ValueLayout.JAVA_LONG, 0L, true));
        return this;
    }

    public KernelArgs i32(int v) {
        args.add(new Arg(ValueLayout.JAVA_INT, v));
        return this;
    }

    public KernelArgs i64(long v) {
        args.add(new Arg(ValueLayout.JAVA_LONG, v));
        return this;
    }

    public KernelArgs f32(float v) {
        args.add(new Arg(ValueLayout.JAVA_FLOAT, v));
        return this;
    }

    public int size() {
        return args.size();
    }

    /** The device address passed as argument i, or -1 when argument i is not a pointer (0 is a null pointer). */
    long pointerAt(int i) {
        Arg a = args.get(i);
        return a.pointer() ? (Long) a.value() : -1;
    }

    /** The cuLaunchKernel form: a void*[] whose entries point at one cell per argument, all in the arena. */
    MemorySegment pack(Arena arena) {
        MemorySegment array = arena.allocate(ValueLayout.ADDRESS, Math.max(1, args.size()));
        for (int i = 0; i < args.size(); i++) {
            Arg a = args.get(i);
            MemorySegment cell = arena.allocate(8, 8);
            switch (a.value()) {
                case Integer v -> cell.set(ValueLayout.JAVA_INT, 0, v);
                case Long v -> cell.set(ValueLayout.JAVA_LONG, 0, v);
                case Float v -> cell.set(ValueLayout.JAVA_FLOAT, 0, v);
                default -> throw new IllegalStateException("unsupported kernel argument " + a.value());
            }
            array.setAtIndex(ValueLayout.ADDRESS, i, cell);
        }
        return array;
    }
}
