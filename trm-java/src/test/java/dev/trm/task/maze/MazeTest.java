package dev.trm.task.maze;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.DataException;
import dev.trm.task.Dihedral;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MazeTest {
    @TempDir
    Path tmp;

    // 5x5, S top-left, G on row 4; walls force a detour of 13 steps (12 marked cells).
    static final String Q5 = "S#   " + " # # " + " # # " + "   #G" + "#####";

    private static byte[] tokens(String s) {
        byte[] t = new byte[s.length()];
        for (int i = 0; i < t.length; i++) t[i] = (byte) MazeTokens.token(s.charAt(i));
        return t;
    }

    @Test
    void bfsLabelsAShortestPathAndTheVerifierAcceptsOnlyShortestPaths() {
        byte[] q = tokens(Q5);
        byte[] a = MazeSolver.solve(q, 5);
        assertEquals("S#ooo" + "o#o#o" + "o#o#o" + "ooo#G" + "#####", MazeTokens.text(a));
        assertNull(MazeSolver.whyNotShortestPath(q, a, 5));
        assertEquals(13, MazeSolver.distances(q, 5, 0)[19]);
        byte[] broken = a.clone();
        broken[5] = MazeTokens.OPEN;
        assertNotNull(MazeSolver.whyNotShortestPath(q, broken, 5));
        byte[] throughWall = a.clone();
        throughWall[1] = MazeTokens.PATH;
        assertTrue(MazeSolver.whyNotShortestPath(q, throughWall, 5).contains("not open"));
        // an alternative route of the same length is valid although it differs from the label
        byte[] open = tokens("S    " + "     " + "    G" + "     " + "     ");
        byte[] label = MazeSolver.solve(open, 5);
        byte[] other = tokens("Sooo " + "   oo" + "    G" + "     " + "     ");
        assertNull(MazeSolver.whyNotShortestPath(open, label, 5));
        assertNull(MazeSolver.whyNotShortestPath(open, other, 5));
        byte[] near = tokens("S    " + "     " + "G    " + "     " + "     ");
        byte[] longer = tokens("So   " + " o   " + "Go   " + "     " + "     ");
        assertTrue(MazeSolver.whyNotShortestPath(near, longer, 5).contains("marks 3 cells, a shortest path has 1"));
    }

    @Test
    void generatorMeetsTheThresholdAndLabelsShortestPaths() {
        MazeGenerator gen = new MazeGenerator(12, 30, 4);
        for (int i = 0; i < 5; i++) {
            Maze m = gen.generate(1_000_000);
            int d = MazeSolver.shortestDistance(m);
            assertTrue(d > 30, "path " + d);
            assertEquals(Integer.toString(d), m.rating());
            assertNull(MazeSolver.whyNotShortestPath(m.question(), m.answer(), 12));
            int walls = 0;
            for (byte b : m.question()) if (b == MazeTokens.WALL) walls++;
            assertTrue(walls >= 42 && walls <= 70, "30-50% walls: " + walls);
        }
    }

    @Test
    void hard30x30MazesLongerThan110() {
        Maze m = new MazeGenerator(30, 110, 1).generate(10_000_000);
        assertTrue(MazeSolver.shortestDistance(m) > 110);
        assertEquals(900, m.question().length);
    }

    @Test
    void dihedralTransformsAreInvertibleAndKeepPathsShortest() {
        Maze m = new MazeGenerator(10, 20, 9).generate(1_000_000);
        for (int t = 0; t < 8; t++) {
            byte[] q = Dihedral.apply(m.question(), 10, 10, t);
            byte[] a = Dihedral.apply(m.answer(), 10, 10, t);
            assertNull(MazeSolver.whyNotShortestPath(q, a, 10), "transform " + t);
            assertArrayEquals(m.question(), Dihedral.apply(q, 10, 10, Dihedral.inverse(t)));
        }
        // rot90 on a 2x3 grid, numpy semantics: [[1,2,3],[4,5,6]] -> [[3,6],[2,5],[1,4]]
        assertArrayEquals(new byte[] {3, 6, 2, 5, 1, 4}, Dihedral.apply(new byte[] {1, 2, 3, 4, 5, 6}, 2, 3, 1));
        // anti-transpose: fliplr(rot90) -> [[6,3],[5,2],[4,1]]
        assertArrayEquals(new byte[] {6, 3, 5, 2, 4, 1}, Dihedral.apply(new byte[] {1, 2, 3, 4, 5, 6}, 2, 3, 7));
    }

    @Test
    void readsTheMazeHardCsvAndRejectsBadRows() throws IOException {
        String a = MazeTokens.text(MazeSolver.solve(tokens(Q5), 5));
        Path f = tmp.resolve("m.csv");
        Files.writeString(f, "source,question,answer,rating\nlehnert," + Q5 + "," + a + ",13\n");
        List<Maze> ms = MazeReader.read(f);
        assertEquals(1, ms.size());
        assertEquals(5, ms.get(0).side());
        assertEquals(MazeTokens.START, ms.get(0).question()[0]);
        assertEquals(MazeTokens.WALL, ms.get(0).question()[1]);
        assertEquals(MazeTokens.OPEN, ms.get(0).question()[2]);

        assertError("source,question,answer,rating\nx," + Q5 + "," + Q5 + ",1\n", ":2: answer is not a shortest S-to-G path");
        assertError("source,question,answer,rating\nx," + Q5.replace('G', 'X') + "," + a + ",1\n", "character 'X'");
        assertError("source,question,answer,rating\nx," + Q5.substring(1) + "," + a + ",1\n", "not a square grid");
        assertError("source,question,answer,rating\nx," + Q5.replace('G', ' ') + ",,1\n", "one S and one G");
        assertError("source,question,answer,rating\nx," + Q5 + "\n", "expected 4 columns, found 2");
        String blocked = "S#   " + "##   " + "     " + "    G" + "     ";
        assertError("source,question,answer,rating\nx," + blocked + ",,1\n", "unreachable");
    }

    private void assertError(String content, String expected) throws IOException {
        Path f = tmp.resolve("bad.csv");
        Files.writeString(f, content);
        DataException e = assertThrows(DataException.class, () -> MazeReader.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains(expected), e.getMessage());
    }
}
