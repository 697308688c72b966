package dev.trm.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * The emulated device's memory: host memory, checked the way compute-sanitizer's memcheck checks a GPU's, so that an
 * out-of-bounds kernel fails here, naming the kernel, instead of corrupting a neighbouring buffer on the first GPU run.
 *
 * <p>Each allocation is laid out as {@code [red zone | the bytes asked for | red zone]}, each red zone
 * {@link #RED_ZONE} bytes, and the whole of it is filled with {@link #POISON} when it is allocated:
 * <ul>
 *   <li>a store outside the bytes asked for, up to {@code RED_ZONE} bytes before or after them, changes a red zone,
 *       which {@link #checkRedZones} finds after every kernel and GEMM (it names the kernel, the allocation and the
 *       byte range written), then restores;</li>
 *   <li>a load outside them, or of memory no one wrote since it was allocated, reads the poison: NaN as fp32 and as
 *       either bf16 half, -4194305 as int32 (an index far out of any range), so the result of a kernel that reads what
 *       it should not is NaN or out of range and the parity tests fail. A GPU's fresh allocation holds whatever was
 *       there before (often zeros), never a promise of zeros: code that relies on them works here only by calling
 *       {@code DeviceBuffer.zero}, as it must on a GPU;</li>
 *   <li>every pointer argument of a kernel must lie inside a live allocation (or be null) when the kernel runs,
 *       a replayed graph's included: a freed buffer still in use fails by name ({@link #checkPointers}), as does a
 *       replayed copy's ({@link #checkExtent} when it runs), also after new allocations, since freed memory is held
 *       back ({@link #QUARANTINE_BYTES}) rather than handed to the next one of its size; and each
 *       GEMM operand's whole extent, from its shape, leading dimension and batch stride, must lie inside one
 *       ({@link #checkExtent}).</li>
 * </ul>
 * Not caught: an access further than {@code RED_ZONE} bytes from its allocation (it lands in host memory the
 * emulator does not own; a large overrun usually crashes the JVM instead, naming no kernel), and a load out of bounds
 * whose value never reaches an output (a tile row read past the end and then dropped by the store's guard): loads
 * are not instrumented. Except with the emulation library built with AddressSanitizer (kernels/target/emu-asan/,
 * -Dtrm.emulated.library, the JVM started with libasan preloaded: EmulatedAsanTest), where the red zones are also
 * ASan-poisoned ({@link AsanPoison}) and every load and store of a kernel is checked: the first one in a red zone
 * stops the process with ASan's report, naming the kernel and its source line.
 */
final class EmulatedMemory {
    /** Bytes of red zone on either side of every allocation: a multiple of 256, so the bytes asked for stay aligned. */
    static final int RED_ZONE = 512;
    /** The fill of red zones and fresh memory, as a little-endian int at every 4-byte boundary. */
    static final int POISON = 0xFFBFFFFF;
    private static final int FREED_REMEMBERED = 4096;
    /**
     * Freed allocations are held back, poisoned, up to this many bytes in all, before their memory goes back to malloc:
     * malloc hands a freed block straight to the next request of its size, so without this a buffer freed and a new
     * one of the same size got the same address, and a replayed graph still using the freed one passed every check.
     */
    static final long QUARANTINE_BYTES = 64L << 20;

    /** One device allocation: the address handed out, its size, and the whole segment with both red zones. */
    private record Allocation(long address, long bytes, Arena arena, MemorySegment whole) {
        MemorySegment front() {
            return whole.asSlice(0, RED_ZONE);
        }

        MemorySegment back() {
            return whole.asSlice(RED_ZONE + bytes, RED_ZONE);
        }

        boolean contains(long ptr) {
            return ptr >= address && ptr <= address + bytes;  // one past the end is a valid (empty) position
        }
    }

    /**
     * The emulation library's AddressSanitizer hook (emu_asan_poison), or null when it is built without ASan. With it,
     * the red zones are also ASan-poisoned: any load or store of a kernel there stops the process with ASan's report.
     */
    interface AsanPoison {
        void mark(MemorySegment zone, boolean poisoned);
    }

    private final AsanPoison asan;

    /** Poison from offset 0, with three bytes spare so a red zone at any phase (address % 4) compares with a slice. */
    private final MemorySegment pattern;
    private final Arena patternArena = Arena.ofShared();
    private final TreeMap<Long, Allocation> live = new TreeMap<>();
    /** The last freed ranges {address, bytes}, to tell a use after free from a wild pointer in the error. */
    private final ArrayDeque<long[]> freed = new ArrayDeque<>();
    /** Freed allocations not yet given back (oldest first), and their bytes with red zones. */
    private final ArrayDeque<Allocation> quarantine = new ArrayDeque<>();
    private long quarantined;
    private long used;

    EmulatedMemory(AsanPoison asan) {
        this.asan = asan;
        pattern = patternArena.allocate(RED_ZONE + 4, 4);
        for (int i = 0; i + 4 <= pattern.byteSize(); i += 4) pattern.set(ValueLayout.JAVA_INT_UNALIGNED, i, POISON);
    }

    synchronized long used() {
        return used;
    }

    /** A new allocation of {@code bytes}, 256-byte aligned, poisoned; its address. */
    synchronized long alloc(long bytes) {
        Arena arena = Arena.ofShared();
        MemorySegment whole = arena.allocate(RED_ZONE + bytes + RED_ZONE, 256);
        poison(whole);
        long address = whole.address() + RED_ZONE;
        Allocation a = new Allocation(address, bytes, arena, whole);
        asanGuard(a);
        live.put(address, a);
        used += bytes;
        return address;
    }

    /** Frees the allocation at {@code ptr}; false if there is none. */
    synchronized boolean free(long ptr) {
        Allocation a = live.remove(ptr);
        if (a == null) return false;
        used -= a.bytes();
        long whole = a.whole().byteSize();
        if (whole > QUARANTINE_BYTES) {
            release(a);
        } else {  // poisoned: what a kernel reads there is NaN; under ASan any access stops it
            if (asan != null) asan.mark(a.whole(), false);  // (the fill may go through an intercepted memmove)
            poison(a.whole());
            if (asan != null) asan.mark(a.whole(), true);
            quarantine.addLast(a);
            quarantined += whole;
            while (quarantined > QUARANTINE_BYTES) {
                Allocation oldest = quarantine.removeFirst();
                quarantined -= oldest.whole().byteSize();
                release(oldest);
            }
        }
        if (freed.size() == FREED_REMEMBERED) freed.removeFirst();
        freed.addLast(new long[] {a.address(), a.bytes()});
        return true;
    }

    /**
     * The host view of [ptr, ptr + bytes), which must lie inside one live allocation: a copy or memset outside one is
     * refused as CUDA refuses it, with CUDA_ERROR_INVALID_VALUE.
     */
    synchronized MemorySegment view(long ptr, long bytes, String what) {
        checkExtent(ptr, bytes, what, Errors.CUDA_ERROR_INVALID_VALUE);
        return MemorySegment.ofAddress(ptr).reinterpret(bytes);
    }

    /** Fails unless [ptr, ptr + bytes) lies inside one live allocation: a GEMM's operand on a GPU would fault. */
    synchronized void checkExtent(long ptr, long bytes, String what) {
        checkExtent(ptr, bytes, what, Errors.CUDA_ERROR_ILLEGAL_ADDRESS);
    }

    private void checkExtent(long ptr, long bytes, String what, int status) {
        Allocation a = containing(ptr);
        if (a == null || ptr + bytes > a.address() + a.bytes()) {
            String why = a == null ? where(ptr) : " (it runs " + (ptr + bytes - a.address() - a.bytes())
                    + " bytes past the end of " + describe(a) + ")";
            throw Errors.cuda(status, what + ": [0x" + Long.toHexString(ptr) + ", +" + bytes
                    + ") is not inside a live device allocation" + why + " on the emulated device");
        }
    }

    /** Before a kernel runs: every non-null pointer argument lies inside a live allocation. */
    synchronized void checkPointers(String kernel, KernelArgs args) {
        for (int i = 0; i < args.size(); i++) {
            long p = args.pointerAt(i);
            if (p <= 0) continue;  // not a pointer, or null
            if (containing(p) == null) {
                throw illegal("cuLaunchKernel(" + kernel + "): argument " + i + " (0x" + Long.toHexString(p)
                        + ") points into no live device allocation" + where(p));
            }
        }
    }

    /**
     * After a kernel or a GEMM: every red zone still holds the poison. A changed one is an out-of-bounds store by
     * {@code who}; the error gives the first allocation found, the byte range written relative to its start, and
     * the red zone is restored so that one error is reported once.
     */
    synchronized void checkRedZones(String who) {
        for (Allocation a : live.values()) {
            int backPhase = (int) ((RED_ZONE + a.bytes()) % 4);
            String front = dirty(a.front(), 0, -RED_ZONE), back = dirty(a.back(), backPhase, a.bytes());
            if (front == null && back == null) continue;
            if (asan != null) asan.mark(a.whole(), false);  // (under ASan the store itself stopped the process)
            poison(a.front());
            MemorySegment.copy(pattern, backPhase, a.back(), 0, RED_ZONE);
            asanGuard(a);
            throw illegal(who + " stored outside its buffers: " + (back != null ? back + " past the end" : front
                    + " before the start") + " of " + describe(a) + " (an out-of-bounds store; on a GPU it faults or "
                    + "overwrites a neighbouring buffer)");
        }
    }

    /** The bytes of a red zone that differ from the poison, as "bytes [+from, +to)" relative to the allocation. */
    private String dirty(MemorySegment zone, int phase, long zoneOffset) {
        long first = MemorySegment.mismatch(zone, 0, RED_ZONE, pattern, phase, phase + RED_ZONE);
        if (first < 0) return null;
        long last = first;
        for (long i = RED_ZONE - 1; i > first; i--) {
            if (zone.get(ValueLayout.JAVA_BYTE, i) != pattern.get(ValueLayout.JAVA_BYTE, phase + i)) {
                last = i;
                break;
            }
        }
        return "bytes [" + signed(zoneOffset + first) + ", " + signed(zoneOffset + last + 1) + ")";
    }

    private static String signed(long v) {
        return v < 0 ? Long.toString(v) : "+" + v;
    }

    /** The live allocation with ptr in [address, address + bytes], or null. */
    private Allocation containing(long ptr) {
        Map.Entry<Long, Allocation> e = live.floorEntry(ptr);
        return e != null && e.getValue().contains(ptr) ? e.getValue() : null;
    }

    /** Why a pointer outside every live allocation is where it is, as far as we can tell. */
    private String where(long ptr) {
        for (var it = freed.descendingIterator(); it.hasNext(); ) {
            long[] f = it.next();
            if (ptr >= f[0] && ptr <= f[0] + f[1]) {
                return " (it is inside a freed " + f[1] + "-byte allocation: a use after free)";
            }
        }
        for (Allocation a : live.values()) {
            if (ptr >= a.address() - RED_ZONE && ptr < a.address()) {
                return " (" + (a.address() - ptr) + " bytes before " + describe(a) + ")";
            }
            if (ptr > a.address() + a.bytes() && ptr < a.address() + a.bytes() + RED_ZONE) {
                return " (" + (ptr - a.address() - a.bytes()) + " bytes past the end of " + describe(a) + ")";
            }
        }
        return "";
    }

    /** "the N-byte allocation at 0x...", as the errors name it. */
    private static String describe(Allocation a) {
        return "the " + a.bytes() + "-byte allocation at 0x" + Long.toHexString(a.address());
    }

    /** Under ASan: both red zones marked untouchable, so any kernel access there stops the process. */
    private void asanGuard(Allocation a) {
        if (asan == null) return;
        asan.mark(a.front(), true);
        asan.mark(a.back(), true);
    }

    /** Fills a segment that starts at a 4-byte boundary of its allocation with the poison. */
    private void poison(MemorySegment s) {
        long n = s.byteSize(), done = Math.min(n, RED_ZONE);
        MemorySegment.copy(pattern, 0, s, 0, done);
        while (done < n) {  // doubling copies of what is already poisoned (RED_ZONE is a multiple of 4)
            long step = Math.min(done, n - done);
            MemorySegment.copy(s, 0, s, done, step);
            done += step;
        }
    }

    /** Gives an allocation's memory back to malloc, as it came (not ASan-poisoned). */
    private void release(Allocation a) {
        if (asan != null) asan.mark(a.whole(), false);
        a.arena().close();
    }

    private static CudaException illegal(String what) {
        return Errors.cuda(Errors.CUDA_ERROR_ILLEGAL_ADDRESS, what + " on the emulated device");
    }

    synchronized void close() {
        for (Allocation a : live.values()) release(a);
        for (Allocation a : quarantine) release(a);
        live.clear();
        quarantine.clear();
        quarantined = 0;
        freed.clear();
        used = 0;
        patternArena.close();
    }
}
