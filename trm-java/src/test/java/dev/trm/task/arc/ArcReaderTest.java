package dev.trm.task.arc;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.DataException;
import dev.trm.testing.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArcReaderTest {
    @TempDir
    Path tmp;

    private static int[] counts(List<ArcTask> tasks) {
        int train = 0, test = 0;
        for (ArcTask t : tasks) {
            train += t.train().size();
            test += t.test().size();
        }
        return new int[] {tasks.size(), train, test};
    }

    @Test
    void readsTheRealSetsWithTheDocumentedCounts() {
        assertArrayEquals(new int[] {400, 1302, 416}, counts(ArcReader.read(SharedData.file("arc-agi-1/training"))));
        assertArrayEquals(new int[] {400, 1363, 419}, counts(ArcReader.read(SharedData.file("arc-agi-1/evaluation"))));
        assertArrayEquals(new int[] {160, 427, 480}, counts(ArcReader.read(SharedData.file("concept-arc/corpus"))));
        List<ArcTask> kaggle = ArcReader.read(SharedData.file("arc-agi-2/kaggle2025-evaluation-as-used-by-TRM/arc-agi_evaluation2_challenges.json"));
        assertArrayEquals(new int[] {120, 358, 172}, counts(kaggle));
        assertTrue(kaggle.stream().allMatch(t -> t.test().stream().allMatch(p -> p.output() != null)), "solutions joined");
        assertArrayEquals(new int[] {120, 359, 167}, counts(ArcReader.read(SharedData.file("arc-agi-2/evaluation"))));
        ArcTask first = ArcReader.read(SharedData.file("arc-agi-1/training/007bbfb7.json")).get(0);
        assertEquals("007bbfb7", first.id());
        assertEquals(3, first.train().get(0).input().rows());
        assertEquals(9, first.train().get(0).output().cols());
    }

    private String error(String json) throws IOException {
        Path f = tmp.resolve("abcd1234.json");
        Files.writeString(f, json);
        DataException e = assertThrows(DataException.class, () -> ArcReader.read(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("task abcd1234"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void badGridsAreNamedByFileTaskAndPair() throws IOException {
        String ok = "{\"input\": [[1]], \"output\": [[2]]}";
        assertTrue(error("{\"train\": [{\"input\": [[1, 2], [3]], \"output\": [[1]]}], \"test\": [" + ok + "]}")
                .contains("train pair 1 input: not rectangular: row 2 has 1 cells"));
        assertTrue(error("{\"train\": [" + ok + "], \"test\": [{\"input\": [[1, 10]], \"output\": [[1]]}]}")
                .contains("test pair 1 input: colour 10 at row 1, column 2 is not 0-9"));
        String tall = "[" + "[1],".repeat(30) + "[1]]";
        assertTrue(error("{\"train\": [{\"input\": " + tall + ", \"output\": [[1]]}], \"test\": [" + ok + "]}").contains("31 rows, more than 30"));
        String wide = "[[" + "1,".repeat(30) + "1]]";
        assertTrue(error("{\"train\": [{\"input\": [[1]], \"output\": " + wide + "}], \"test\": [" + ok + "]}").contains("31 columns"));
        assertTrue(error("{\"train\": [{\"input\": [], \"output\": [[1]]}], \"test\": [" + ok + "]}").contains("empty grid"));
        assertTrue(error("{\"train\": [{\"input\": [[-1]], \"output\": [[1]]}], \"test\": [" + ok + "]}").contains("colour -1"));
        assertTrue(error("{\"train\": [{\"input\": [[1.5]], \"output\": [[1]]}], \"test\": [" + ok + "]}").contains("colour 1.5"));
        assertTrue(error("{\"train\": [], \"test\": [" + ok + "]}").contains("no train pairs"));
    }

    @Test
    void unreadableFilesAreNamed() throws IOException {
        Path f = tmp.resolve("broken.json");
        Files.writeString(f, "{\"train\": [");
        DataException e = assertThrows(DataException.class, () -> ArcReader.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains("invalid JSON"), e.getMessage());
        e = assertThrows(DataException.class, () -> ArcReader.read(tmp.resolve("missing")));
        assertTrue(e.getMessage().contains("no such file"));
    }
}
