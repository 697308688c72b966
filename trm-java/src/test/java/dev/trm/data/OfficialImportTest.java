package dev.trm.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writes a tiny dataset in the official .npy layout (as numpy would) and imports it. */
class OfficialImportTest {
    @TempDir
    Path tmp;

    static void writeNpy(Path file, String descr, long[] shape, long[] values, int itemSize) throws IOException {
        StringBuilder dims = new StringBuilder();
        for (long d : shape) dims.append(d).append(", ");
        String header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims.toString().trim() + "), }";
        int total = 10 + header.length() + 1;
        int pad = (64 - total % 64) % 64;
        header = header + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + values.length * itemSize).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
        for (long v : values) {
            if (itemSize == 1) b.put((byte) v); else if (itemSize == 4) b.putInt((int) v); else b.putLong(v);
        }
        Files.createDirectories(file.getParent());
        Files.write(file, b.array());
    }

    private Path official() throws IOException {
        Path src = tmp.resolve("official");
        Path train = src.resolve("train");
        // 3 examples of 4 tokens (Sudoku-like vocab 11 would need 81; use an explicit --task with a custom layout).
        writeNpy(train.resolve("all__inputs.npy"), "|u1", new long[] {3, 4}, new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 1}, 1);
        writeNpy(train.resolve("all__labels.npy"), "|u1", new long[] {3, 4}, new long[] {2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2, 2}, 1);
        writeNpy(train.resolve("all__puzzle_identifiers.npy"), "<i4", new long[] {2}, new long[] {1, 2}, 4);
        writeNpy(train.resolve("all__puzzle_indices.npy"), "<i4", new long[] {3}, new long[] {0, 2, 3}, 4);
        writeNpy(train.resolve("all__group_indices.npy"), "<i4", new long[] {2}, new long[] {0, 2}, 4);
        Files.writeString(train.resolve("dataset.json"), "{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, "
                + "\"vocab_size\": 11, \"seq_len\": 4, \"num_puzzle_identifiers\": 3, \"total_groups\": 1, "
                + "\"mean_puzzle_examples\": 1.5, \"total_puzzles\": 2, \"sets\": [\"all\"]}");
        Files.writeString(src.resolve("identifiers.json"), "[\"<blank>\", \"p1\", \"p2\"]");
        return src;
    }

    @Test
    void importsArraysIdentifiersAndHierarchy() throws IOException {
        Path src = official();
        assertTrue(OfficialImport.looksOfficial(src));
        Path out = tmp.resolve("ours");
        try (DatasetOutput o = DatasetOutput.create(out, false)) {
            List<DatasetMetadata> metas = OfficialImport.importDataset(src, TaskKind.SUDOKU, o);
            assertEquals(1, metas.size());
        }
        try (Dataset ds = Dataset.open(out, "train")) {
            assertEquals(3, ds.exampleCount());
            assertEquals(2, ds.puzzleCount());
            assertEquals(1, ds.groupCount());
            assertEquals(11, ds.metadata().vocabSize());
            assertArrayEquals(new int[] {5, 6, 7, 8}, ds.input(1));
            assertArrayEquals(new int[] {9, 10, 2, 2}, ds.label(2));
            assertEquals(2, ds.puzzleIdentifier(1));
            assertEquals("p2", ds.identifierName(2));
            assertEquals(2, ds.puzzleEnd(0));
        }
    }

    @Test
    void badTokensAndShapesAreNamed() throws IOException {
        Path src = official();
        writeNpy(src.resolve("train/all__labels.npy"), "|u1", new long[] {3, 4}, new long[] {2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2, 11}, 1);
        DataException e = assertThrows(DataException.class, () -> {
            try (DatasetOutput o = DatasetOutput.create(tmp.resolve("x"), false)) {
                OfficialImport.importDataset(src, null, o);
            }
        });
        assertTrue(e.getMessage().contains("cannot tell the task"), e.getMessage());
        e = assertThrows(DataException.class, () -> {
            try (DatasetOutput o = DatasetOutput.create(tmp.resolve("x"), false)) {
                OfficialImport.importDataset(src, TaskKind.SUDOKU, o);
            }
        });
        assertTrue(e.getMessage().contains("all__labels.npy") && e.getMessage().contains("token 11"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("x")));
        writeNpy(src.resolve("train/all__inputs.npy"), "|u1", new long[] {4, 3}, new long[12], 1);
        e = assertThrows(DataException.class, () -> {
            try (DatasetOutput o = DatasetOutput.create(tmp.resolve("x"), false)) {
                OfficialImport.importDataset(src, TaskKind.SUDOKU, o);
            }
        });
        assertTrue(e.getMessage().contains("all__inputs.npy") && e.getMessage().contains("shape"), e.getMessage());
    }
}
