package dev.trm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trm.checkpoint.Checkpoint;
import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceProbe;
import dev.trm.train.TinySudoku;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands end to end on the emulated GPU device: train (with an evaluation and checkpoints, metrics drained
 * from the device ring), resume, eval and solve; and a device that is not there is one clear error.
 */
@Tag("emulated")
class GpuCliEmulatedTest {
    private record Run(int rc, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(rc, out.toString(), err.toString());
    }

    @Test
    void trainEvalSolveOnTheEmulatedDevice(@TempDir Path dir) throws Exception {
        assumeTrue(DeviceProbe.probe(Backend.EMULATED).available(), "emulated device unavailable");
        Path data = TinySudoku.build(dir, 8, 2, 6, 5);
        Path runDir = dir.resolve("run");
        Run t = run("train", "--device", "emulated", "--preset", "sudoku-extreme-mlp", "--data", data.toString(),
                "--out", runDir.toString(), "--steps", "6", "--batch", "4", "--hidden", "32", "--cycles", "1,1",
                "--lr", "3e-3", "--warmup", "2", "--eval-interval", "3", "--checkpoint-every", "3", "--seed", "3");
        assertEquals(0, t.rc(), t.err());
        assertTrue(t.out().contains("backend emulated"), t.out());
        assertTrue(t.out().contains("device memory:"), t.out());
        assertTrue(t.out().contains("eval @ step 3"), t.out());
        Map<Long, Object> losses = TrainResumeTest.losses(runDir);
        assertEquals(6, losses.size(), "one metrics line per step: " + losses);
        for (Object l : losses.values()) assertTrue(Double.isFinite(((Number) l).doubleValue()), "loss " + l);
        assertEquals(6, Checkpoint.header(runDir.resolve("model.safetensors")).step());

        // resume one step further from the saved state, on the device
        Path settings = runDir.resolve("run.json");
        Files.writeString(settings, Files.readString(settings).replace("\"steps\": 6", "\"steps\": 7")
                .replace("\"steps\":6", "\"steps\":7"));
        Run r = run("train", "--device", "emulated", "--resume", runDir.toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("resuming"), r.out());
        assertEquals(7, Checkpoint.header(runDir.resolve("model.safetensors")).step());

        Run e = run("eval", "--device", "emulated", "--checkpoint", runDir.toString(), "--data", data.toString());
        assertEquals(0, e.rc(), e.err());
        assertTrue(e.out().contains("backend emulated"), e.out());

        Path puzzles = dir.resolve("p.txt");
        Files.writeString(puzzles, "1.3..2.......4.1\n0000123000000000\n");
        Run s = run("solve", "--device", "emulated", "--checkpoint", runDir.toString(), "--input", puzzles.toString(),
                "--steps", "3");
        assertEquals(0, s.rc(), s.err());
        java.util.List<String> answers = s.out().strip().lines().toList();
        assertEquals(2, answers.size(), s.out());
        for (String a : answers) assertTrue(a.matches("[1-4.]{16}"), a);
    }

    @Test
    void benchTrainProfilesEachOpOnTheDeviceBeforeItsLastLine() {
        assumeTrue(DeviceProbe.probe(Backend.EMULATED).available(), "emulated device unavailable");
        Run r = run("bench", "train", "--device", "emulated", "--preset", "sudoku-extreme-mlp", "--batch", "1",
                "--steps", "1", "--warmup", "0", "--cycles", "1,1", "--profile", "--profile-steps", "1");
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("profile: 1 eager steps (no graph), device time per op from CUDA events"), r.out());
        for (String op : new String[] {"linearBackward", "tokenMixNorm", "adamAtan2All", "crossEntropy"}) {
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(op + " ")), op + " in the profile: " + r.out());
        }
        java.util.List<String> lines = r.out().strip().lines().toList();
        assertTrue(lines.getLast().startsWith("train_step_ms="), "the contract's last line: " + lines.getLast());
    }

    @Test
    void anAbsentDeviceIsOneClearError() {
        Run r = run("bench", "train", "--device", "cuda:1");
        assertEquals(1, r.rc());
        assertTrue(r.err().contains("--device cuda:1") && r.err().contains("cuda:0 only"), r.err());
    }
}
