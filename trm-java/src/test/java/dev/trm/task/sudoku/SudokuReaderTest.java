package dev.trm.task.sudoku;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.DataException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SudokuReaderTest {
    @TempDir
    Path tmp;

    static final String Q = "5...27..9..41......1..5.3...92.6.8...5......66..7..29.8...7...2.......8...9..36..";
    static final String A = "583427169974136528216859374792364851351298746648715293865971432137642985429583617";

    private Path file(String content) throws IOException {
        Path f = tmp.resolve("p.csv");
        Files.writeString(f, content);
        return f;
    }

    private String error(String content) throws IOException {
        Path f = file(content);
        DataException e = assertThrows(DataException.class, () -> new SudokuVerifier(SudokuShape.CLASSIC).verify(SudokuReader.read(f).get(0)));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void readsTheSudokuExtremeLayout() throws IOException {
        List<SudokuPuzzle> ps = SudokuReader.read(file("source,question,answer,rating\npuzzles4_forum_hardest_1905," + Q + "," + A + ",18\n"));
        SudokuPuzzle p = ps.get(0);
        assertEquals("puzzles4_forum_hardest_1905", p.source());
        assertEquals("18", p.rating());
        assertEquals(5, p.question()[0]);
        assertEquals(0, p.question()[1]);
        byte[] in = p.inputTokens();
        assertEquals(6, in[0], "digit 5 -> token 6");
        assertEquals(1, in[1], "blank -> token 1");
        assertEquals(SudokuShape.CLASSIC, p.shape());
        assertEquals(11, p.shape().vocabSize());
        assertSame(p, new SudokuVerifier(SudokuShape.CLASSIC).verify(p));
    }

    @Test
    void zeroBlanksInPlainFiles() throws IOException {
        SudokuPuzzle p = SudokuReader.read(file("# comment\n\n" + Q.replace('.', '0') + "\n")).get(0);
        assertEquals(0, p.question()[1]);
        assertNull(p.answer());
        assertEquals(A, SudokuTokens.text(new SudokuVerifier(SudokuShape.CLASSIC).verify(p).answer()));
    }

    @Test
    void badInputIsNamedByFileAndLine() throws IOException {
        assertTrue(error("source,question,answer\nx," + Q + "\n").contains(":2: expected 3 columns, found 2"));
        assertTrue(error("source,question,answer\nx," + Q.substring(1) + "," + A + "\n").contains(":2: puzzle has 80 characters"));
        assertTrue(error(Q.replace('5', 'x') + "\n").contains("character 'x' at position 1"));
        assertTrue(error("source,question,answer\nx," + Q + "," + A.replace('8', '.') + "\n").contains("answer has a blank"));
        assertTrue(error("source,question,answer\nx," + "55" + Q.substring(2) + "," + A + "\n").contains("contradicts the given"));
        assertTrue(error("55" + Q.substring(2) + "\n").contains("inconsistent givens: digit 5 appears twice in row 1"));
        String swapped = A.substring(0, 79) + A.charAt(80) + A.charAt(79);
        String m = error("source,question,answer\nx," + Q + "," + swapped + "\n");
        assertTrue(m.contains("answer is not a valid grid"), m);
        assertTrue(error("1.3.3.1.2.4.4.2.\n" + Q + "\n").contains(":2: a 9x9 puzzle in a file of 4x4 puzzles"));
    }

    @Test
    void digitsBeyondTheBoardSizeAreRejected() throws IOException {
        assertTrue(error("1.3.3.1.2.4.4.2.\n1.3.3.1.2.5.4.2.\n").contains(":2: question character '5' at position 11 is not a digit 1-4"));
    }

    @Test
    void multipleSolutionsAreRejected() throws IOException {
        String open = "." + ".".repeat(80);
        assertTrue(error(open + "\n").contains("more than one solution"));
    }
}
