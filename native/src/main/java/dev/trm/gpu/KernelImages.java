package dev.trm.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;

/**
 * The kernels module's build output, read from the class path: the fatbin (nvcc) with its kernels.properties, and
 * the host emulation library (g++). Either may be missing when its compiler was absent at build time; callers get
 * null and report "kernels not built" / "emulation library not built".
 */
public final class KernelImages {
    static final String BASE = "/dev/trm/kernels/";
    private static volatile Properties props;
    private static volatile Path emuLibrary;

    private KernelImages() {}

    /** The fatbin's bytes, or null when nvcc was not there when the kernels module was built. */
    public static byte[] fatbin() {
        try (InputStream in = KernelImages.class.getResourceAsStream(BASE + "trm_kernels.fatbin")) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the kernel fatbin resource", e);
        }
    }

    /**
     * The graph-control fatbin's bytes (graph_control.cu: the kernel that sets graph conditional values), or null when
     * nvcc was not there when the kernels module was built.
     */
    public static byte[] graphControlFatbin() {
        try (InputStream in = KernelImages.class.getResourceAsStream(BASE + "graph_control.fatbin")) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the graph-control fatbin resource", e);
        }
    }

    public static boolean fatbinBuilt() {
        return KernelImages.class.getResource(BASE + "trm_kernels.fatbin") != null;
    }

    /** The toolkit release that built the fatbin, e.g. "13.0" ("unknown" when not built). */
    public static String nvccRelease() {
        return properties().getProperty("nvcc.release", "unknown");
    }

    /** The oldest driver (cuDriverGetVersion number) that runs our fatbin; 0 when not built. */
    public static int requiredDriver() {
        return Integer.parseInt(properties().getProperty("driver.required", "0"));
    }

    /** "13.0 (CUDA 13.0 driver, e.g. R580 or newer)" style text for "update the driver to >= X". */
    static String requiredDriverText() {
        int v = requiredDriver();
        return v == 0 ? "the version of the toolkit that built the kernels" : Errors.versionText(v) + " (CUDA "
                + Errors.versionText(v) + " driver API)";
    }

    public static String platform() {
        String arch = System.getProperty("os.arch");
        if (arch.equals("amd64")) arch = "x86_64";
        if (arch.equals("arm64")) arch = "aarch64";
        return System.getProperty("os.name").toLowerCase().replace(' ', '-') + "-" + arch;
    }

    /**
     * The emulation library, extracted to a temporary file once; null when it was not built for this platform.
     * -Dtrm.emulated.library=FILE takes that build instead (kernels/target/emu-asan/: one with AddressSanitizer).
     */
    public static synchronized Path emulationLibrary() {
        if (emuLibrary != null) return emuLibrary;
        String override = System.getProperty("trm.emulated.library");
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("-Dtrm.emulated.library=" + override + ": no such file");
            }
            return emuLibrary = p;
        }
        String res = BASE + platform() + "/libtrm_kernels_emu.so";
        try (InputStream in = KernelImages.class.getResourceAsStream(res)) {
            if (in == null) return null;
            Path tmp = Files.createTempFile("trm_kernels_emu", ".so");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            emuLibrary = tmp;
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the emulation library " + res, e);
        }
    }

    private static Properties properties() {
        if (props == null) {
            Properties p = new Properties();
            try (InputStream in = KernelImages.class.getResourceAsStream(BASE + "kernels.properties")) {
                if (in != null) p.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read kernels.properties", e);
            }
            props = p;
        }
        return props;
    }
}
