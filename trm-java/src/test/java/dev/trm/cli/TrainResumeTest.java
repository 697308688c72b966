package dev.trm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.checkpoint.Checkpoint;
import dev.trm.data.Json;
import dev.trm.train.TinySudoku;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resume: a training run killed with SIGKILL in the middle, then resumed with {@code trm train --resume}, logs
 * exactly the losses of an uninterrupted run with the same settings (bit for bit, on the CPU backend).
 */
class TrainResumeTest {

    static List<String> args(Path data, Path out) {
        return List.of("train", "--preset", "sudoku-extreme-mlp", "--data", data.toString(), "--out", out.toString(),
                "--steps", "24", "--batch", "8", "--hidden", "32", "--cycles", "2,2", "--lr", "3e-3", "--warmup", "4",
                "--checkpoint-every", "4", "--seed", "3");
    }

    /** step -> loss of every training line. */
    static Map<Long, Object> losses(Path run) throws Exception {
        Map<Long, Object> m = new java.util.TreeMap<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            Map<String, Object> o = Json.asObject(Json.parse(line), "metrics");
            if (!Boolean.TRUE.equals(o.get("eval"))) m.put(Json.asLong(o.get("step"), "step"), o.get("loss"));
        }
        return m;
    }

    /** A loss that turns NaN stops the run with one clear error and leaves the last good checkpoint loadable. */
    @Test
    void nanLossStopsAndKeepsTheLastGoodCheckpoint(@TempDir Path dir) throws Exception {
        Path data = TinySudoku.build(dir, 8, 2, 6, 5);
        Path run = dir.resolve("run");
        java.io.StringWriter err = new java.io.StringWriter();
        // an absurd learning rate overflows the weights within two steps
        int rc = Main.execute(new java.io.PrintWriter(new java.io.StringWriter()), new java.io.PrintWriter(err, true), "train", "--preset", "sudoku-extreme-mlp", "--data",
                data.toString(), "--out", run.toString(), "--steps", "30", "--batch", "8", "--hidden", "32",
                "--cycles", "1,1", "--lr", "1e10", "--warmup", "1", "--checkpoint-every", "1");
        assertEquals(1, rc);
        assertTrue(err.toString().contains("the loss is NaN") || err.toString().contains("the loss is Infinity"), err.toString());
        Path state = run.resolve("train_state.safetensors");
        long step = Checkpoint.header(state).step();
        assertTrue(err.toString().contains("The last good checkpoint (step " + step + ")"), err.toString());
        Checkpoint.load(state);   // checksum verified: intact
        Checkpoint.load(run.resolve("model.safetensors"));
    }

    @Test
    void killedRunResumesToTheSameLosses(@TempDir Path dir) throws Exception {
        Path data = TinySudoku.build(dir, 24, 4, 6, 11);
        Path a = dir.resolve("uninterrupted"), b = dir.resolve("killed");
        assertEquals(0, Main.execute(args(data, a).toArray(String[]::new)));

        // The same run in another JVM, killed (SIGKILL) once a checkpoint past step 8 is on disk.
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--add-modules=jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(data, b));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("killed.log").toFile()).start();
        Path state = b.resolve("train_state.safetensors");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (p.isAlive() && System.nanoTime() < deadline) {
            if (Files.exists(state) && Checkpoint.header(state).step() >= 8) break;
            Thread.sleep(20);
        }
        assertTrue(p.isAlive(), "the run ended before it could be killed: " + Files.readString(dir.resolve("killed.log")));
        p.destroyForcibly();   // SIGKILL on Linux: no shutdown hooks, no flushing
        p.waitFor();
        long killedAt = Checkpoint.header(state).step();
        assertTrue(killedAt < 24, "killed before the end");

        assertEquals(0, Main.execute("train", "--resume", b.toString()));
        Map<Long, Object> la = losses(a), lb = losses(b);
        assertEquals(24, la.size());
        assertEquals(la, lb, "the resumed run (killed after the step-" + killedAt + " checkpoint) must log the same losses");
        assertTrue(new File(b.resolve("model.safetensors").toString()).length() > 0);
    }
}
