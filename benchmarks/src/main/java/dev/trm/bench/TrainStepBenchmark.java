package dev.trm.bench;

import dev.trm.backend.Backend;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.model.Batch;
import dev.trm.model.Carry;
import dev.trm.model.Flops;
import dev.trm.model.Presets;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One full training supervision step on the CPU backend (T (n+1) net calls forward, losses, backward through the last
 * n+1), default {@code sudoku-extreme-mlp} at batch 8. Throughput: the score is steps/s and the secondary score
 * {@code :gflop} is GFLOP/s by spec 9
 * counting; run it with FmaPeakBenchmark in the same invocation to get the ratio:
 * {@code scripts/jmh 'TrainStepBenchmark|FmaPeakBenchmark.allThreads'}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 4)
@Fork(1)
@State(Scope.Benchmark)
public class TrainStepBenchmark {

    @Param({"sudoku-extreme-mlp"})
    public String preset;

    @Param({"8"})
    public int batch;

    private Backend be;
    private TrmParameters params;
    private TrmModel model;
    private Batch data;
    private Carry carry;
    private double flopsPerStep;

    /** GFLOP done, reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Work {
        public double gflop;
    }

    @Setup(Level.Trial)
    public void setUp() {
        TrmConfig c = Presets.get(preset).withPuzzleIds(1);
        be = new CpuBackend();
        params = new TrmParameters(c, be);
        params.initialize(be, 0);
        model = new TrmModel(c, be, params);
        SplittableRandom rnd = new SplittableRandom(1);
        int[] inputs = new int[batch * c.seqLen()], labels = new int[batch * c.seqLen()];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
            labels[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
        }
        data = model.batch(inputs, labels, new int[batch]);
        carry = model.initialCarry(batch);
        flopsPerStep = Flops.trainStep(c) * batch;
    }

    @Benchmark
    public double trainStep(Work work) {
        params.zeroGrad(be);
        double loss = model.trainStep(data, carry).loss();
        work.gflop += flopsPerStep * 1e-9;
        return loss;
    }
}
