package dev.trm.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.Backend;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.data.Dataset;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmParameters;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop end to end on a tiny generated Sudoku set, on the CPU backend. */
class DeepSupervisionTest {

    /** Deterministic mode: the same seed and data give the same losses, bit for bit, on the CPU backend. */
    @Test
    void sameSeedSameLossesBitForBit(@TempDir Path dir) {
        Path data = TinySudoku.build(dir, 16, 1, 6, 2);
        double[][] runs = new double[2][];
        for (int r = 0; r < 2; r++) {
            try (Dataset train = Dataset.open(data, "train")) {
                TrmConfig c = TinySudoku.smallModel(train);
                Backend be = new CpuBackend();
                TrmParameters p = new TrmParameters(c, be);
                p.initialize(be, 9);
                TrainConfig tc = new TrainConfig(8, 30, 3e-3, 0.1, 3e-3, 0.1, 0.9, 0.95, 5, 1.0, 0.99, 0, 7);
                DeepSupervision t = new DeepSupervision(c, tc, be, p, train);
                runs[r] = new double[30];
                for (int s = 0; s < 30; s++) runs[r][s] = t.step().loss();
            }
        }
        assertArrayEquals(runs[0], runs[1], 0.0, "two runs with one seed must give identical losses");
    }

    @Test
    void memorisesASmallTrainingSet(@TempDir Path dir) {
        Path data = TinySudoku.build(dir, 8, 1, 6, 1);
        try (Dataset train = Dataset.open(data, "train")) {
            TrmConfig c = TinySudoku.smallModel(train);
            Backend be = new CpuBackend();
            TrmParameters p = new TrmParameters(c, be);
            p.initialize(be, 3);
            TrainConfig tc = new TrainConfig(8, 400, 3e-3, 0.0, 3e-3, 0.0, 0.9, 0.95, 20, 1.0, 0, 0, 5);
            DeepSupervision t = new DeepSupervision(c, tc, be, p, train);
            double first = 0, last = 0;
            for (int s = 0; s < 400; s++) {
                StepMetrics m = t.step();
                if (s < 20) first += m.lmLoss() / 20;
                if (s >= 380) last += m.lmLoss() / 20;
            }
            System.out.printf("memorise 8 puzzles: mean lm loss of the first 20 steps %.4f, of the last 20 %.4f%n", first, last);
            assertTrue(last < 0.1 * first, "lm loss should fall by 10x on 8 puzzles: " + first + " -> " + last);
        }
    }
}
