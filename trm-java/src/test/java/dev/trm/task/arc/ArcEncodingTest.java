package dev.trm.task.arc;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ArcEncodingTest {
    static final ArcGrid G = new ArcGrid(2, 3, new byte[] {0, 1, 2, 3, 4, 9});

    @Test
    void encodesWithPadAndEosExactlyAsTheSpec() {
        byte[] t = ArcTokens.encode(G, 0, 0);
        assertEquals(900, t.length);
        assertArrayEquals(new byte[] {2, 3, 4, 1, 0}, java.util.Arrays.copyOfRange(t, 0, 5), "row 0: colours + 2, EOS column");
        assertArrayEquals(new byte[] {5, 6, 11, 1, 0}, java.util.Arrays.copyOfRange(t, 30, 35));
        assertArrayEquals(new byte[] {1, 1, 1, 0, 0}, java.util.Arrays.copyOfRange(t, 60, 65), "EOS row, corner stays PAD");
        int nonPad = 0;
        for (byte b : t) if (b != 0) nonPad++;
        assertEquals(6 + 2 + 3, nonPad);
        // at the canvas edge the EOS row/column is dropped
        byte[] edge = ArcTokens.encode(G, 28, 27);
        assertEquals(2, edge[28 * 30 + 27]);
        assertEquals(11, edge[29 * 30 + 29]);
        int eos = 0;
        for (byte b : edge) if (b == 1) eos++;
        assertEquals(0, eos);
        byte[] right = ArcTokens.encode(G, 28, 0);
        assertEquals(1, right[28 * 30 + 3]);
        assertThrows(IllegalArgumentException.class, () -> ArcTokens.encode(G, 29, 0));
    }

    @Test
    void cropIsTheOfficialLargestTopLeftRectangle() {
        int[] t = toInts(ArcTokens.encode(G, 0, 0));
        assertEquals(G, ArcTokens.crop(t));
        ArcGrid full = new ArcGrid(30, 30, new byte[900]);
        assertEquals(full, ArcTokens.crop(toInts(ArcTokens.encode(full, 0, 0))));
        // a ragged prediction: row 0 has 4 colours, row 1 has 2, row 2 has 2 -> 3x2 (area 6) beats 1x4 (area 4)
        int[] ragged = new int[900];
        for (int c = 0; c < 4; c++) ragged[c] = 3;
        ragged[30] = ragged[31] = ragged[60] = ragged[61] = 4;
        ArcGrid cropped = ArcTokens.crop(ragged);
        assertEquals(3, cropped.rows());
        assertEquals(2, cropped.cols());
        assertEquals(0, ArcTokens.crop(new int[900]).rows(), "no colour at the origin: empty");
    }

    @Test
    void augmentationsInvertAndNamesRoundTrip() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < 200; i++) {
            ArcAugmentation a = ArcAugmentation.random(rnd);
            assertEquals(0, a.colourMap()[0], "black stays black");
            assertEquals(G, a.invert(a.apply(G)));
            String name = a.name("abc");
            assertEquals("abc", ArcAugmentation.taskOf(name));
            assertEquals(a, ArcAugmentation.parse(name));
            if (!a.isIdentity()) assertTrue(name.matches("abc\\|\\|\\|t[0-7]\\|\\|\\|0[1-9]{9}"), name);
        }
        assertEquals("abc", ArcAugmentation.IDENTITY.name("abc"));
        ArcAugmentation rot = new ArcAugmentation(1, new int[] {0, 2, 1, 3, 4, 5, 6, 7, 8, 9});
        ArcGrid r = rot.apply(G);
        assertEquals(3, r.rows());
        assertEquals(2, r.cols());
        // recolour 1<->2 then rot90: [[0,2,1],[3,4,9]] -> [[1,9],[2,4],[0,3]]
        assertEquals(new ArcGrid(3, 2, new byte[] {1, 9, 2, 4, 0, 3}), r);
    }

    static int[] toInts(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i];
        return out;
    }
}
