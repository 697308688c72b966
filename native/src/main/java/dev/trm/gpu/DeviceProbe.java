package dev.trm.gpu;

import dev.trm.bindings.cuda.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The one way in to the GPU: finds the devices or says, in words, why there are none (no libcuda, no device,
 * driver too old for our kernels, kernels not built; for the emulated device: emulation library not built).
 * Nothing native is opened before {@link #probe} is called, and the CPU path never calls it.
 */
public final class DeviceProbe {
    /** Our kernels are built for sm_80 and newer (SASS sm_80/86/89/90, PTX compute_80 and compute_90). */
    static final int MIN_CC_MAJOR = 8;

    private static volatile ProbeResult cuda;

    private DeviceProbe() {}

    public static ProbeResult probe(Backend backend) {
        return switch (backend) {
            case CUDA -> {
                if (cuda == null) cuda = probeCuda();
                yield cuda;
            }
            case EMULATED -> probeEmulated();
        };
    }

    /** What {@code --device auto} picks: "cuda" when a usable CUDA device is there, else "cpu" (never emulated). */
    public static String autoBackend() {
        return probe(Backend.CUDA).available() ? "cuda" : "cpu";
    }

    static ProbeResult probeEmulated() {
        if (KernelImages.emulationLibrary() == null) {
            return new ProbeResult.Unavailable(Backend.EMULATED, "emulation library not built for "
                    + KernelImages.platform() + " (g++ was not found when the kernels module was built)");
        }
        return new ProbeResult.Available(Backend.EMULATED, List.of(new DeviceInfo(Backend.EMULATED, 0,
                "emulated device (host, one block at a time)", 8, 0, 0, 1, "none (emulated)", null)));
    }

    private static ProbeResult probeCuda() {
        NativeLibraries.Loaded lib = NativeLibraries.load(NativeLibraries.CUDA);
        if (!lib.ok()) return new ProbeResult.Unavailable(Backend.CUDA, "no libcuda: " + lib.failure());
        try (Arena a = Arena.ofConfined()) {
            int st = cuda_h.cuInit(0);
            if (st == Errors.CUDA_ERROR_NO_DEVICE) {
                return new ProbeResult.Unavailable(Backend.CUDA, "no device: the CUDA driver (" + lib.path()
                        + ") found no CUDA-capable device (CUDA_ERROR_NO_DEVICE)");
            }
            if (st != 0) {
                return new ProbeResult.Unavailable(Backend.CUDA, "the CUDA driver did not initialise: cuInit failed: "
                        + StatusNames.cuda(st));
            }
            MemorySegment iv = a.allocate(ValueLayout.JAVA_INT);
            Errors.checkCuda(cuda_h.cuDriverGetVersion(iv), "cuDriverGetVersion");
            int driver = iv.get(ValueLayout.JAVA_INT, 0);
            List<DeviceInfo> devices = listDevices(a, driver);
            if (!KernelImages.fatbinBuilt()) {
                return new ProbeResult.Unavailable(Backend.CUDA, "kernels not built (nvcc was not found when the "
                        + "kernels module was built); devices: " + devices.stream().map(DeviceInfo::describe).toList());
            }
            String tooOld = driverTooOld(driver, KernelImages.requiredDriver(), KernelImages.nvccRelease());
            if (tooOld != null) return new ProbeResult.Unavailable(Backend.CUDA, tooOld);
            if (devices.isEmpty()) return new ProbeResult.Unavailable(Backend.CUDA, "no device: cuDeviceGetCount = 0");
            return new ProbeResult.Available(Backend.CUDA, devices);
        } catch (CudaException e) {
            return new ProbeResult.Unavailable(Backend.CUDA, e.getMessage());
        } catch (ExceptionInInitializerError | NoClassDefFoundError | java.util.NoSuchElementException e) {
            // A binding's lazy symbol lookup failed: the library loaded is not a (complete) CUDA driver.
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            return new ProbeResult.Unavailable(Backend.CUDA, "the library at " + lib.path()
                    + " is not a usable CUDA driver (" + cause.getMessage() + ")");
        }
    }

    /** The reason a driver (cuDriverGetVersion number) cannot run kernels that need `required`, or null. */
    static String driverTooOld(int driver, int required, String builtBy) {
        if (driver >= required) return null;
        return "driver too old: it supports CUDA " + Errors.versionText(driver) + ", our kernels were built by CUDA "
                + builtBy + "; update the driver to >= " + Errors.versionText(required) + " (CUDA "
                + Errors.versionText(required) + " driver API)";
    }

    private static List<DeviceInfo> listDevices(Arena a, int driver) {
        MemorySegment iv = a.allocate(ValueLayout.JAVA_INT);
        Errors.checkCuda(cuda_h.cuDeviceGetCount(iv), "cuDeviceGetCount");
        int count = iv.get(ValueLayout.JAVA_INT, 0);
        List<DeviceInfo> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Errors.checkCuda(cuda_h.cuDeviceGet(iv, i), "cuDeviceGet");
            int dev = iv.get(ValueLayout.JAVA_INT, 0);
            MemorySegment name = a.allocate(256);
            Errors.checkCuda(cuda_h.cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
            MemorySegment mem = a.allocate(ValueLayout.JAVA_LONG);
            Errors.checkCuda(cuda_h.cuDeviceTotalMem_v2(mem, dev), "cuDeviceTotalMem");
            int major = attribute(a, cuda_h.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR(), dev);
            int minor = attribute(a, cuda_h.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR(), dev);
            int sms = attribute(a, cuda_h.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT(), dev);
            String unusable = major < MIN_CC_MAJOR ? "compute capability " + major + "." + minor
                    + " < 8.0 (the kernels are built for sm_80 and newer)" : null;
            out.add(new DeviceInfo(Backend.CUDA, i, name.getString(0, StandardCharsets.UTF_8), major, minor,
                    mem.get(ValueLayout.JAVA_LONG, 0), sms, Errors.versionText(driver), unusable));
        }
        return out;
    }

    private static int attribute(Arena a, int attr, int dev) {
        MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
        Errors.checkCuda(cuda_h.cuDeviceGetAttribute(v, attr, dev), "cuDeviceGetAttribute(" + attr + ")");
        return v.get(ValueLayout.JAVA_INT, 0);
    }
}
