package dev.trm.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.backend.cpu.CpuBackend;
import dev.trm.model.TrmConfig;
import dev.trm.model.TrmModel;
import dev.trm.model.TrmParameters;
import dev.trm.train.TrainingMemoryCheck;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory plan against what the CPU backend really holds after the same training step (the GPU: emulated test). */
class MemoryPlannerTest {

    @Test
    void cpuPlanEqualsTheCpuBackendRowByRow(@TempDir Path dir) {
        Path data = TrainingMemoryCheck.data(dir);
        for (boolean mixer : new boolean[] {true, false}) {
            Map<MemoryUse, Long> plan = TrainingMemoryCheck.afterOneStep(MemoryPlanner.asCpu(), data, mixer);
            Map<MemoryUse, Long> real = TrainingMemoryCheck.afterOneStep(new CpuBackend(), data, mixer);
            assertEquals(real, plan, mixer ? "token mixer" : "attention");
        }
    }

    /**
     * A GPU solver keeps a captured solve per batch size (SolveGraph: a model, its carry, its solve state), so the GPU
     * plan of solves at batch 1 then 4 holds both carries; the CPU solver reuses one model and frees each carry.
     */
    @Test
    void gpuSolvePlanHoldsACapturedSolvePerBatchSize() {
        TrmConfig c = dev.trm.model.TinyConfigs.mixer();
        Map<MemoryUse, Long> gpu = TrainingMemoryCheck.afterSolves(MemoryPlanner.asGpu(), c, 1, 4);
        assertEquals(2L * (1 + 4) * c.seq() * c.hiddenSize() * 2, gpu.get(MemoryUse.CARRY), "a bf16 carry per solve");
        Map<MemoryUse, Long> cpu = TrainingMemoryCheck.afterSolves(MemoryPlanner.asCpu(), c, 1, 4);
        assertEquals(cpu, TrainingMemoryCheck.afterSolves(new CpuBackend(), c, 1, 4), "the CPU plan is the CPU's");
    }

    @Test
    void aPlanAllocatesNothingAndReadsZeros() {
        Backend plan = MemoryPlanner.asGpu();
        TrmConfig c = dev.trm.model.TinyConfigs.attention();
        TrmParameters p = TrmParameters.forInference(c, plan);
        TrmModel m = new TrmModel(c, plan, p);
        var batch = m.batch(new int[c.seqLen()], null, new int[] {0});
        var carry = m.initialCarry(1);
        m.forward(batch, carry);
        assertEquals(c.seqLen() * c.vocabSize(), plan.read(m.logits()).length);
        assertEquals(0f, plan.read(m.logits())[0]);
        assertTrue(plan.memory().bytesByUse().get(MemoryUse.WEIGHT_COPIES) > 0, "GEMM weights get bf16 copies");
        assertEquals(2L * c.seq() * c.hiddenSize() * 2, plan.memory().bytesByUse().get(MemoryUse.CARRY),
                "bf16 carry");
        long before = plan.memory().totalBytes();
        m.free();
        p.free(plan);
        assertTrue(plan.memory().totalBytes() < before, "free unbooks");
        assertTrue(!plan.memory().bytesByUse().containsKey(MemoryUse.WEIGHT_COPIES),
                "a freed weight's bf16 copy goes with it, as on the GPU: " + plan.memory().bytesByUse());
    }
}
