package dev.trm.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Library search and the probe's reasons, with a made-up environment (no library is really needed). */
class NativeLibrariesTest {

    @Test
    void anOverrideThatHoldsNoLibrarySaysSoAndNamesTheVariable(@TempDir Path dir) {
        NativeLibraries.Loaded r = NativeLibraries.find(NativeLibraries.CUBLAS, Map.of("TRM_LIBCUBLAS", dir.toString()));
        assertFalse(r.ok());
        assertTrue(r.failure().contains("TRM_LIBCUBLAS=" + dir) && r.failure().contains("libcublas.so.13, libcublas.so.12"),
                r.failure());
    }

    @Test
    void anOverrideFileThatIsNotALibraryIsReportedNotThrown(@TempDir Path dir) throws Exception {
        Path fake = Files.writeString(dir.resolve("libnccl.so.2"), "not an ELF file");
        NativeLibraries.Loaded r = NativeLibraries.find(NativeLibraries.NCCL, Map.of("TRM_LIBNCCL", dir.toString()));
        assertFalse(r.ok());
        assertTrue(r.failure().startsWith("NCCL at " + fake + " could not be loaded"), r.failure());
    }

    /** cuBLASLt is looked for next to the cuBLAS that TRM_LIBCUBLAS names (a folder, or the file in it). */
    @Test
    void cublasLtIsLookedForInTheFolderOfTrmLibcublas(@TempDir Path dir) throws Exception {
        Path fakeLt = Files.writeString(dir.resolve("libcublasLt.so.13"), "not an ELF file");
        for (String override : new String[] {dir.toString(), dir.resolve("libcublas.so.13").toString()}) {
            NativeLibraries.Loaded r = NativeLibraries.find(NativeLibraries.CUBLASLT, Map.of("TRM_LIBCUBLAS", override));
            assertFalse(r.ok());
            assertTrue(r.failure().startsWith("cuBLASLt at " + fakeLt + " could not be loaded"), r.failure());
        }
    }

    /** TRM_LIBCUBLAS naming release 12's file in a folder holding both releases pairs it with cuBLASLt 12. */
    @Test
    void cublasLtFollowsTheReleaseOfTheCublasFileNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("libcublasLt.so.13"), "not an ELF file");
        Path lt12 = Files.writeString(dir.resolve("libcublasLt.so.12"), "not an ELF file");
        NativeLibraries.Loaded r = NativeLibraries.find(NativeLibraries.CUBLASLT,
                Map.of("TRM_LIBCUBLAS", dir.resolve("libcublas.so.12").toString()));
        assertTrue(r.failure().startsWith("cuBLASLt at " + lt12 + " could not be loaded"), r.failure());
        assertEquals(List.of("libcublasLt.so.13", "libcublasLt.so.12"),
                NativeLibraries.companionFirst(NativeLibraries.CUBLASLT.sonames(), null));
    }

    @Test
    void theSearchIncludesTheContainerDriverFolder() {
        assertTrue(NativeLibraries.searchDirectories(Map.of()).contains(Path.of("/usr/local/nvidia/lib64")));
    }

    @Test
    void theSearchLooksInLdLibraryPathAndCudaHomeFirst() {
        var dirs = NativeLibraries.searchDirectories(Map.of("LD_LIBRARY_PATH", "/opt/a:/opt/b", "CUDA_HOME", "/opt/cuda"));
        assertEquals(Path.of("/opt/a"), dirs.get(0));
        assertEquals(Path.of("/opt/b"), dirs.get(1));
        assertEquals(Path.of("/opt/cuda/lib64"), dirs.get(2));
        assertTrue(dirs.contains(Path.of("/usr/lib/x86_64-linux-gnu")));
    }

    @Test
    void aDriverOlderThanTheKernelsIsTheReasonAndSaysWhatToInstall() {
        assertNull(DeviceProbe.driverTooOld(13000, 13000, "13.0"));
        assertNull(DeviceProbe.driverTooOld(13020, 13000, "13.0"));
        String why = DeviceProbe.driverTooOld(12040, 13000, "13.0");
        assertEquals("driver too old: it supports CUDA 12.4, our kernels were built by CUDA 13.0; update the driver to"
                + " >= 13.0 (CUDA 13.0 driver API)", why);
    }
}
