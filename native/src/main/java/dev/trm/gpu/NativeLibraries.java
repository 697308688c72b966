package dev.trm.gpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds and loads the NVIDIA libraries by versioned soname, only when the device probe asks. The generated bindings
 * look their symbols up in the class loader's lookup, so {@code System.load} here is what makes them callable.
 *
 * <p>Order for each library: the override variable (a file, or a directory holding the soname), then the folder of
 * its companion's override (cuBLASLt: TRM_LIBCUBLAS), then the usual directories (LD_LIBRARY_PATH, CUDA_HOME,
 * /usr/local/cuda, /usr/local/nvidia, the distribution's library folders, WSL), then the dynamic linker's own search
 * (ld.so.cache) through a dlopen by soname, whose resolved path we read back.
 */
@SuppressWarnings("restricted")  // native by design: runs only with --enable-native-access
public final class NativeLibraries {

    /**
     * A library to find: its names in order of preference, the variable that overrides the search, and (or null) the
     * override variable of the library it ships with, whose folder is searched next when its own variable is unset.
     */
    public record Library(String what, String overrideVariable, List<String> sonames, String companionVariable) {}

    public static final Library CUDA = new Library("the CUDA driver", "TRM_LIBCUDA", List.of("libcuda.so.1"), null);
    public static final Library CUBLAS = new Library("cuBLAS", "TRM_LIBCUBLAS",
            List.of("libcublas.so.13", "libcublas.so.12"), null);
    // cuBLASLt ships next to cuBLAS (the same wheel folder, nvidia/cu13/lib, or the toolkit's lib64): TRM_LIBCUBLAS
    // alone (what scripts/device-run sets) must find both, or the search below could pair that cuBLAS with another
    // release's cuBLASLt from LD_LIBRARY_PATH or /usr/local/cuda.
    public static final Library CUBLASLT = new Library("cuBLASLt", "TRM_LIBCUBLASLT",
            List.of("libcublasLt.so.13", "libcublasLt.so.12"), "TRM_LIBCUBLAS");
    public static final Library NCCL = new Library("NCCL", "TRM_LIBNCCL", List.of("libnccl.so.2"), null);

    /** The outcome: the file loaded, or why none was. */
    public record Loaded(Path path, String failure) {
        public boolean ok() {
            return path != null;
        }
    }

    private static final Map<Library, Loaded> LOADED = new ConcurrentHashMap<>();

    private NativeLibraries() {}

    public static Loaded load(Library lib) {
        // libcublas.so.N needs libcublasLt.so.N (DT_NEEDED). Loaded first, by our search, cuBLASLt is the file the
        // dynamic linker then binds cuBLAS to (it matches a needed soname against the libraries already loaded);
        // loaded after, the linker's own search (LD_LIBRARY_PATH, RUNPATH, ld.so.cache) could bind cuBLAS to another
        // copy than the one CudaLtPlans later loads by path: two releases of one soname in the process. Outside
        // computeIfAbsent: a nested update of LOADED from inside its own mapping function is not allowed.
        if (lib == CUBLAS) load(CUBLASLT);
        return LOADED.computeIfAbsent(lib, l -> find(l, System.getenv()));
    }

    /** The search, with the environment passed in (tests give their own). */
    static Loaded find(Library lib, Map<String, String> env) {
        String override = env.get(lib.overrideVariable());
        List<Path> tried = new ArrayList<>();
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            List<Path> candidates = Files.isDirectory(p) ? lib.sonames().stream().map(p::resolve).toList() : List.of(p);
            for (Path c : candidates) {
                tried.add(c);
                if (Files.isRegularFile(c)) return tryLoad(lib, c, tried);
            }
            return new Loaded(null, lib.what() + " not found at " + lib.overrideVariable() + "=" + override
                    + " (looked for " + String.join(", ", lib.sonames()) + ")");
        }
        String companion = lib.companionVariable() == null ? null : env.get(lib.companionVariable());
        if (companion != null && !companion.isBlank()) {
            Path p = Path.of(companion);
            Path dir = Files.isDirectory(p) ? p : p.toAbsolutePath().getParent();
            for (String soname : companionFirst(lib.sonames(), Files.isDirectory(p) ? null : p.getFileName())) {
                Path c = dir == null ? null : dir.resolve(soname);
                if (c != null && Files.isRegularFile(c)) return tryLoad(lib, c, tried);
            }
        }
        for (String soname : lib.sonames()) {
            for (Path dir : searchDirectories(env)) {
                Path c = dir.resolve(soname);
                if (Files.isRegularFile(c)) return tryLoad(lib, c, tried);
            }
            Path viaLinker = resolveWithDynamicLinker(soname);
            if (viaLinker != null) return tryLoad(lib, viaLinker, tried);
        }
        return new Loaded(null, String.join(" or ", lib.sonames()) + " is not in LD_LIBRARY_PATH, CUDA_HOME, "
                + "/usr/local/cuda or the system library folders, nor known to the dynamic linker (set "
                + lib.overrideVariable() + " to the file or its folder)");
    }

    /**
     * sonames, those of the companion file's release first: TRM_LIBCUBLAS=.../libcublas.so.12 in a folder that also
     * holds release 13 must get libcublasLt.so.12, the one that cuBLAS needs, not the first in our order.
     */
    static List<String> companionFirst(List<String> sonames, Path companionFile) {
        String name = companionFile == null ? "" : companionFile.toString();
        int at = name.indexOf(".so.");
        if (at < 0) return sonames;
        String release = name.substring(at);  // ".so.12"
        List<String> out = new ArrayList<>(sonames.stream().filter(n -> n.endsWith(release)).toList());
        for (String n : sonames) if (!out.contains(n)) out.add(n);
        return out;
    }

    private static Loaded tryLoad(Library lib, Path file, List<Path> tried) {
        try {
            System.load(file.toAbsolutePath().toString());
            return new Loaded(file.toAbsolutePath(), null);
        } catch (UnsatisfiedLinkError e) {
            return new Loaded(null, lib.what() + " at " + file + " could not be loaded: " + e.getMessage());
        }
    }

    static List<Path> searchDirectories(Map<String, String> env) {
        Set<String> dirs = new LinkedHashSet<>();
        String ld = env.get("LD_LIBRARY_PATH");
        if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(d);
        String cudaHome = env.get("CUDA_HOME");
        if (cudaHome != null) {
            dirs.add(cudaHome + "/lib64");
            dirs.add(cudaHome + "/lib");
        }
        dirs.addAll(List.of("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                "/usr/local/cuda/targets/sbsa-linux/lib",
                // Where GPU containers mount the driver (nvidia-docker, Kubernetes device plugins) when
                // LD_LIBRARY_PATH does not say so and the folder is not in ld.so.cache.
                "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu", "/usr/lib/wsl/lib"));
        return dirs.stream().map(Path::of).toList();
    }

    /** dlopen by soname (the linker's own search, ld.so.cache included), then the path it mapped; null if none. */
    private static Path resolveWithDynamicLinker(String soname) {
        try {
            SymbolLookup.libraryLookup(soname, Arena.global());
        } catch (IllegalArgumentException notFound) {
            return null;
        }
        try {
            // The soname is usually a link to the real file (libcuda.so.1 -> libcuda.so.580.65.06): match the stem.
            String stem = soname.substring(0, soname.indexOf(".so") + 3);
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash < 0) continue;
                Path p = Path.of(line.substring(slash).trim());
                if (p.getFileName().toString().startsWith(stem + ".")) return p;
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }
}
