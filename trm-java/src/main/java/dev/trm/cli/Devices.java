package dev.trm.cli;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryPlanner;
import dev.trm.backend.cpu.CpuBackend;
import dev.trm.backend.gpu.GpuBackend;
import dev.trm.gpu.DeviceProbe;
import dev.trm.gpu.GpuDevice;
import dev.trm.gpu.GpuUnavailableException;

/**
 * The {@code --device} option of every command that runs a model: {@code cpu}; {@code cuda} (or {@code cuda:0}): the
 * first usable NVIDIA GPU; {@code emulated}: the host emulation of the GPU backend (for tests: slow, exact same Java
 * and kernels); {@code auto}: cuda when a usable GPU is there, else cpu. An unavailable device is an error that says
 * why, never a silent fallback.
 */
final class Devices {
    private Devices() {}

    static final String HELP = "cpu, cuda, emulated or auto (cuda when a usable GPU is present, else cpu)";

    static Backend open(String device) {
        String d = device.equals("auto") ? DeviceProbe.autoBackend() : device;
        try {
            return switch (d) {
                case "cpu" -> new CpuBackend();
                case "cuda", "cuda:0" -> GpuBackend.open(dev.trm.gpu.Backend.CUDA);
                case "emulated" -> GpuBackend.open(dev.trm.gpu.Backend.EMULATED);
                default -> throw new CliException("--device " + device + ": expected " + HELP
                        + (d.startsWith("cuda:") ? " (one GPU per process: cuda:0 only)" : ""));
            };
        } catch (GpuUnavailableException e) {
            throw new CliException("--device " + device + ": " + e.getMessage());
        }
    }

    /**
     * A memory planner with the sizes of the backend --device names (cpu: fp32; cuda, emulated: the GPU backend's),
     * without opening anything; auto plans as a GPU.
     */
    static Backend planner(String device) {
        return switch (device) {
            case "cpu" -> MemoryPlanner.asCpu();
            case "cuda", "cuda:0", "emulated", "auto" -> MemoryPlanner.asGpu();
            default -> throw new CliException("--device " + device + ": expected " + HELP);
        };
    }

    /** How the device launches our kernels, for the benchmarks' headers: as programmatic dependents (PDL), or why not. */
    static String launchNote(GpuDevice d) {
        if (d.programmaticLaunch()) return "kernels launched as programmatic dependents (PDL; -Dtrm.pdl=false: plain)";
        String why = d.programmaticLaunchUnsupportedReason();
        return "plain kernel launches (" + (why != null ? "no PDL: " + why : "PDL switched off") + ")";
    }
}
