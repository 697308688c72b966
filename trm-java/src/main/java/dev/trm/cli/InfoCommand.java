package dev.trm.cli;

import dev.trm.gpu.Backend;
import dev.trm.gpu.DeviceInfo;
import dev.trm.gpu.DeviceProbe;
import dev.trm.gpu.NativeLibraries;
import dev.trm.gpu.ProbeResult;
import dev.trm.model.Presets;
import dev.trm.model.TrmConfig;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trm info}: the machine, the backends, and with --preset the model's shape and parameter count. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the JVM, the CPU backend, the GPU devices (or why there are none), and preset sizes.")
public final class InfoCommand implements Runnable {

    @Option(names = "--preset", paramLabel = "NAME",
            description = "Print the configuration and parameter count of a preset: ${COMPLETION-CANDIDATES}",
            completionCandidates = PresetNames.class)
    String preset;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        if (preset != null) {
            printPreset(out, preset, Presets.get(preset));
            return;
        }
        out.println("trm " + Version.VERSION);
        out.println("java: " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")");
        out.println("cpu: " + Runtime.getRuntime().availableProcessors() + " cores, max heap "
                + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB");
        out.println("presets: " + String.join(", ", Presets.names()));
        printDevices(out);
    }

    /** The GPU lines: devices or why there are none, the emulated device, and what --device auto picks. */
    static void printDevices(PrintWriter out) {
        ProbeResult cuda = DeviceProbe.probe(Backend.CUDA);
        if (cuda instanceof ProbeResult.Available a) {
            for (DeviceInfo d : a.devices()) out.println("gpu: " + d.describe());
            if (a.firstUsable() == null) out.println("gpu: none usable: " + cuda.reason());
            NativeLibraries.Loaded cublas = NativeLibraries.load(NativeLibraries.CUBLAS);
            out.println("cublas: " + (cublas.ok() ? cublas.path() : "not found: " + cublas.failure()));
        } else {
            out.println("gpu: none: " + cuda.reason());
        }
        ProbeResult emu = DeviceProbe.probe(Backend.EMULATED);
        out.println("emulated device (tests only): " + (emu.available() ? "available" : emu.reason()));
        out.println("--device auto: " + DeviceProbe.autoBackend());
    }

    static void printPreset(PrintWriter out, String name, TrmConfig c) {
        out.println("preset: " + name);
        out.println("vocab: " + c.vocabSize() + ", seq_len: " + c.seqLen() + ", S (with prefix): " + c.seq());
        out.println("hidden: " + c.hiddenSize() + ", " + (c.mlpT() ? "token mixer (mlp_t), intermediate " + c.tokenIntermediate()
                : "attention, heads " + c.numHeads() + " x " + c.headDim() + (c.rope() ? ", rope" : ""))
                + ", swiglu intermediate " + c.intermediate());
        out.println("layers: " + c.layers() + ", T (H_cycles): " + c.hCycles() + ", n (L_cycles): " + c.lCycles()
                + ", net calls per supervision step: " + c.netCallsPerStep());
        out.println("parameters: " + c.parameterCount());
        out.println("puzzle table: " + c.numPuzzleIds() + " x " + c.hiddenSize() + " = " + c.puzzleTableSize()
                + " floats (not counted)");
    }

    /** Completion candidates for --preset. */
    static final class PresetNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return Presets.names().iterator();
        }
    }
}
