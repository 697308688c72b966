package dev.trm.cli;

import dev.trm.backend.cpu.CpuBackend;
import dev.trm.checkpoint.Checkpoint;
import dev.trm.checkpoint.CheckpointContents;
import dev.trm.data.TaskKind;
import dev.trm.infer.TrmSolver;
import dev.trm.model.Presets;
import dev.trm.model.TrmConfig;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * How {@code trm solve} and {@code trm eval} open a model: a trm checkpoint carries its own config; weights converted
 * from the official PyTorch code (no metadata) need {@code --preset} to say which architecture they are.
 */
final class SolverLoading {
    private SolverLoading() {}

    /** A checkpoint argument: a file, or a run folder holding model.safetensors. */
    static Path file(Path checkpoint) {
        Path f = Files.isDirectory(checkpoint) ? checkpoint.resolve("model.safetensors") : checkpoint;
        if (!Files.isRegularFile(f)) throw new CliException(f + ": no such checkpoint file");
        return f;
    }

    /**
     * The config and task of a checkpoint without loading its weights; for converted official weights, the preset's
     * config with {@code puzzleIds} rows (or the file's own row count when puzzleIds is 0).
     */
    static CheckpointContents header(Path file, String preset, int puzzleIds) {
        if (Checkpoint.isTrmCheckpoint(file)) {
            if (preset != null) throw new CliException("--preset is for converted official weights; " + file + " carries its own config");
            return Checkpoint.header(file);
        }
        if (preset == null) {
            throw new CliException(file + ": no trm metadata (converted official weights?); pass --preset NAME to say which "
                    + "architecture it is (see docs/checkpoints.md)");
        }
        TrmConfig base = Presets.get(preset);
        TrmConfig c = base.withPuzzleIds(puzzleIds > 0 ? puzzleIds : Checkpoint.puzzleRows(file));
        return CheckpointContents.ofWeights(c, Checkpoint.inferTask(c), 0, "", Map.of());
    }

    /** Loads the solver for a header from {@link #header}; warnings (e.g. a resized puzzle table) go to err. */
    static TrmSolver open(Path file, CheckpointContents header, PrintWriter err) {
        if (Checkpoint.isTrmCheckpoint(file)) return TrmSolver.load(file);
        return TrmSolver.of(header.config(), header.task(), weights(file, header, err), new CpuBackend());
    }

    /** As {@link #open(Path, CheckpointContents, PrintWriter)} on a backend the caller owns (e.g. a GPU). */
    static TrmSolver open(Path file, CheckpointContents header, PrintWriter err, dev.trm.backend.Backend backend) {
        if (Checkpoint.isTrmCheckpoint(file)) return TrmSolver.load(file, backend);
        return TrmSolver.of(header.config(), header.task(), weights(file, header, err), backend);
    }

    /** The weights for a header from {@link #header}: checksum-verified for a trm checkpoint, else converted. */
    static Map<String, float[]> weights(Path file, CheckpointContents header, PrintWriter err) {
        if (Checkpoint.isTrmCheckpoint(file)) {
            CheckpointContents c = Checkpoint.load(file);
            if (!c.hasWeights()) throw new CliException(file + ": holds no model weights (a train_state file?)");
            return c.weights();
        }
        return Checkpoint.loadWeights(file, header.config(), msg -> err.println("warning: " + msg));
    }

    static TaskKind task(CheckpointContents header, String override) {
        if (override != null) return TaskKind.parse(override);
        TaskKind t = header.task() != null ? header.task() : Checkpoint.inferTask(header.config());
        if (t == null) throw new CliException("cannot tell the task from the model's shape; pass --task sudoku|maze|arc");
        return t;
    }
}
