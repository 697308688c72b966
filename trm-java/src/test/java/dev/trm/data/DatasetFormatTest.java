package dev.trm.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetFormatTest {
    @TempDir
    Path tmp;

    /** Two groups: group 0 = puzzles {id 1: 2 examples, id 2: 1 example}, group 1 = puzzle {id 3: 3 examples}. */
    private List<DatasetMetadata> writeSmall(Path out) {
        try (DatasetOutput o = DatasetOutput.create(out, false)) {
            DatasetWriter w = o.split("train", TokenLayout.of(TaskKind.ARC, 12, 4));
            int e = 0;
            int[][] puzzles = {{1, 2}, {2, 1}, {3, 3}};
            for (int[] p : puzzles) {
                for (int k = 0; k < p[1]; k++, e++) w.addExample(new byte[] {(byte) e, 1, 2, 3}, new byte[] {0, (byte) (e % 12), 11, 0});
                w.endPuzzle(p[0]);
                if (p[0] != 1) w.endGroup();
            }
            return o.commit(List.of("<blank>", "a", "b", "c"));
        }
    }

    @Test
    void writesAndMapsTheHierarchy() {
        Path out = tmp.resolve("ds");
        DatasetMetadata written = writeSmall(out).get(0);
        try (Dataset ds = Dataset.open(out, "train")) {
            DatasetMetadata m = ds.metadata();
            assertEquals(written, m);
            assertEquals(TaskKind.ARC, m.task());
            assertEquals(6, m.totalExamples());
            assertEquals(3, m.totalPuzzles());
            assertEquals(2, m.totalGroups());
            assertEquals(4, m.numPuzzleIdentifiers());
            assertEquals(2.0, m.meanPuzzleExamples());
            assertEquals(List.of("<blank>", "a", "b", "c"), m.identifiers());
            assertEquals(0, ds.groupStart(0));
            assertEquals(2, ds.groupEnd(0));
            assertEquals(3, ds.groupEnd(1));
            assertEquals(1, ds.puzzleIdentifier(0));
            assertEquals(3, ds.puzzleIdentifier(2));
            assertEquals(2, ds.puzzleStart(1));
            assertEquals(3, ds.puzzleEnd(1));
            assertEquals(6, ds.puzzleEnd(2));
            assertEquals(2, ds.puzzleOf(4));
            assertEquals(1, ds.puzzleOf(2));
            assertArrayEquals(new int[] {5, 1, 2, 3}, ds.input(5));
            assertArrayEquals(new int[] {0, 5, 11, 0}, ds.label(5));
            int[] loss = new int[6];
            ds.lossLabel(5, loss, 2);
            assertArrayEquals(new int[] {0, 0, -100, 5, 11, -100}, loss);
            assertTrue(ds.verifyFingerprint());
        }
    }

    @Test
    void fingerprintTracksContent() throws IOException {
        String a = writeSmall(tmp.resolve("a")).get(0).fingerprint();
        String b = writeSmall(tmp.resolve("b")).get(0).fingerprint();
        assertEquals(a, b, "same content, same fingerprint");
        try (RandomAccessFile f = new RandomAccessFile(tmp.resolve("b/train/labels.u8").toFile(), "rw")) {
            f.seek(1);
            f.write(7);
        }
        try (Dataset ds = Dataset.open(tmp.resolve("b"), "train")) {
            assertFalse(ds.verifyFingerprint());
        }
    }

    @Test
    void failedBuildLeavesNothingBehind() throws IOException {
        Path out = tmp.resolve("failed");
        assertThrows(IllegalArgumentException.class, () -> {
            try (DatasetOutput o = DatasetOutput.create(out, false)) {
                DatasetWriter w = o.split("train", TokenLayout.of(TaskKind.SUDOKU, 11, 2));
                w.addExample(new byte[] {1, 2}, new byte[] {2, 3});
                w.addExample(new byte[] {1, 12}, new byte[] {2, 3}); // token outside the vocabulary
            }
        });
        assertFalse(Files.exists(out));
        try (var s = Files.list(tmp)) {
            assertEquals(0, s.count(), "temporary folder removed");
        }
    }

    @Test
    void refusesToOverwriteUnlessAsked() {
        Path out = tmp.resolve("ds");
        writeSmall(out);
        DataException e = assertThrows(DataException.class, () -> DatasetOutput.create(out, false));
        assertTrue(e.getMessage().contains("already exists"));
        try (DatasetOutput o = DatasetOutput.create(out, true)) {
            DatasetWriter w = o.split("test", TokenLayout.of(TaskKind.SUDOKU, 11, 1));
            w.addExample(new byte[] {1}, new byte[] {2});
            w.endPuzzle(0);
            w.endGroup();
            o.commit(List.of("<blank>"));
        }
        assertEquals(List.of("test"), Dataset.splits(out));
    }

    @Test
    void truncatedArraysAreReportedByName() throws IOException {
        Path out = tmp.resolve("ds");
        writeSmall(out);
        Files.write(out.resolve("train/inputs.u8"), new byte[3]);
        DataException e = assertThrows(DataException.class, () -> Dataset.open(out, "train"));
        assertTrue(e.getMessage().contains("inputs.u8"), e.getMessage());
    }
}
