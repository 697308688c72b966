package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * EmulatedMemory on its own (no kernel, no emulation library): the red zones at every phase of an allocation's end
 * (sizes 1 to 9 bytes: the back red zone starts at each address % 4), a store one byte outside either end caught to
 * the byte, none inside, a pointer one past the end accepted and two past refused, and the poison fill of an
 * allocation large enough to take several doubling copies, at an odd size.
 */
class EmulatedMemoryLayoutTest {
    @Test
    void redZonesAtEveryPhaseCatchOneByteOutsideAndNothingInside() {
        EmulatedMemory m = new EmulatedMemory(null);
        try {
            for (long bytes = 1; bytes <= 9; bytes++) {
                long p = m.alloc(bytes);
                MemorySegment all = MemorySegment.ofAddress(p - EmulatedMemory.RED_ZONE)
                        .reinterpret(bytes + 2L * EmulatedMemory.RED_ZONE);
                MemorySegment in = m.view(p, bytes, "test");
                in.fill((byte) 0x11);
                m.checkRedZones("fill " + bytes);  // every byte asked for written: no red zone touched

                long end = EmulatedMemory.RED_ZONE + bytes;
                byte saved = all.get(ValueLayout.JAVA_BYTE, end);
                all.set(ValueLayout.JAVA_BYTE, end, (byte) (saved + 1));
                final long n = bytes;
                CudaException e = assertThrows(CudaException.class, () -> m.checkRedZones("past " + n));
                assertTrue(e.getMessage().contains("bytes [+" + n + ", +" + (n + 1) + ") past the end of the " + n
                        + "-byte allocation"), e.getMessage());
                m.checkRedZones("restored " + n);

                all.set(ValueLayout.JAVA_BYTE, EmulatedMemory.RED_ZONE - 1, (byte) 0);
                e = assertThrows(CudaException.class, () -> m.checkRedZones("before " + n));
                assertTrue(e.getMessage().contains("bytes [-1, +0) before the start"), e.getMessage());
                m.checkRedZones("restored " + n);

                m.checkExtent(p + bytes, 0, "one past the end, empty");
                CudaException past = assertThrows(CudaException.class, () -> m.checkExtent(p + n + 1, 0, "two"));
                assertTrue(past.getMessage().contains("1 bytes past the end of the " + n + "-byte allocation"),
                        past.getMessage());
            }
        } finally {
            m.close();
        }
    }

    @Test
    void largeOddAllocationsArePoisonedThroughout() {
        EmulatedMemory m = new EmulatedMemory(null);
        try {
            long bytes = (3L << 20) + 6;  // several doubling copies, the last one partial, ending mid-int
            long p = m.alloc(bytes);
            MemorySegment s = m.view(p, bytes - 2, "test");
            for (long i = 0; i < s.byteSize(); i += 4) {
                if (s.get(ValueLayout.JAVA_INT_UNALIGNED, i) != EmulatedMemory.POISON) {
                    throw new AssertionError("byte " + i + " of " + bytes + " is not poison");
                }
            }
            m.checkRedZones("fresh");  // the back red zone, starting at phase 2, matches the pattern
            assertEquals(bytes, m.used());
        } finally {
            m.close();
        }
    }
}
