package dev.trm.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The emulated device: device memory is host memory (EmulatedMemory: one arena per allocation, freed on free),
 * kernels are the host-compiled ones from libtrm_kernels_emu.so called through FFM, the GEMM is that library's plain
 * reference, and
 * every stream runs its work at once, in order, unless it is capturing a graph, in which case the work is recorded
 * and runs on each replay. Its memory (EmulatedMemory) is checked as compute-sanitizer checks a GPU's: copies, GEMM
 * operands and kernel pointers must lie inside live allocations, and stores just outside one fail by kernel name.
 */
@SuppressWarnings("restricted")  // native by design: runs only with --enable-native-access
final class EmulatedDriver implements Driver {
    /** Pretend capacity, so "out of memory" behaves as on a device; -Dtrm.emulated.memoryMiB overrides. */
    private static final long CAPACITY = Long.getLong("trm.emulated.memoryMiB", 4096) << 20;

    private final MethodHandle emuLaunch, emuLastError, emuHasKernel, emuGemm;
    private final MethodHandle emuConditionalCreate, emuConditionalSet, emuConditionalGet, emuConditionalDestroy;
    private final DeviceInfo info;
    private final EmulatedMemory memory;
    private final Map<Long, Arena> hostAllocations = new HashMap<>();  // "pinned" host memory: plain host memory here
    private long nextHandle = 1;
    private final Map<Long, List<Runnable>> capturing = new HashMap<>();  // stream -> work recorded so far
    private final Map<Long, List<Runnable>> graphs = new HashMap<>();
    private final Map<Long, Long> eventTimes = new HashMap<>();
    private final List<String> functionNames = new ArrayList<>();
    private final Arena names = Arena.ofShared();

    EmulatedDriver(Path library) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        emuLaunch = linker.downcallHandle(lib.findOrThrow("emu_launch"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        emuLastError = linker.downcallHandle(lib.findOrThrow("emu_last_error"), FunctionDescriptor.of(
                ValueLayout.ADDRESS.withTargetLayout(java.lang.foreign.MemoryLayout.sequenceLayout(4096, ValueLayout.JAVA_BYTE))));
        emuHasKernel = linker.downcallHandle(lib.findOrThrow("emu_has_kernel"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        emuGemm = linker.downcallHandle(lib.findOrThrow("emu_gemm"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_FLOAT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_FLOAT, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        emuConditionalCreate = linker.downcallHandle(lib.findOrThrow("emu_conditional_create"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        emuConditionalSet = linker.downcallHandle(lib.findOrThrow("emu_conditional_set"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        emuConditionalGet = linker.downcallHandle(lib.findOrThrow("emu_conditional_get"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        emuConditionalDestroy = linker.downcallHandle(lib.findOrThrow("emu_conditional_destroy"),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG));
        memory = new EmulatedMemory(asanPoison(linker, lib));
        info = new DeviceInfo(Backend.EMULATED, 0, "emulated device (host, one block at a time)", 8, 0, CAPACITY, 1,
                "none (emulated)", null);
    }

    /** The library's emu_asan_poison as an EmulatedMemory hook, or null when the library is built without ASan. */
    private static EmulatedMemory.AsanPoison asanPoison(Linker linker, SymbolLookup lib) {
        MethodHandle h = linker.downcallHandle(lib.findOrThrow("emu_asan_poison"), FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        try {
            if ((int) h.invokeExact(MemorySegment.NULL, 0L, 0) == 0) return null;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        return (zone, poisoned) -> {
            try {
                int ignored = (int) h.invokeExact(zone, zone.byteSize(), poisoned ? 1 : 0);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        };
    }

    @Override
    public Backend backend() {
        return Backend.EMULATED;
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public synchronized long[] memoryInfo() {
        return new long[] {CAPACITY - memory.used(), CAPACITY};
    }

    @Override
    public synchronized long alloc(long bytes) {
        notWhileCapturing("cuMemAlloc");
        if (bytes <= 0) throw Errors.cuda(Errors.CUDA_ERROR_INVALID_VALUE, "cuMemAlloc(" + bytes + " bytes)");
        if (memory.used() + bytes > CAPACITY) {
            throw Errors.outOfMemory(bytes, CAPACITY - memory.used(), CAPACITY);
        }
        return memory.alloc(bytes);
    }

    @Override
    public synchronized void free(long ptr) {
        notWhileCapturing("cuMemFree");
        if (!memory.free(ptr)) {
            throw Errors.cuda(Errors.CUDA_ERROR_INVALID_VALUE, "cuMemFree(0x" + Long.toHexString(ptr) + ")");
        }
    }

    /**
     * What CUDA refuses while a stream captures a graph (in the global capture mode; it also invalidates the
     * capture): allocating, freeing, synchronising, reading back, timing. The emulator recorded such calls happily
     * (a read back even became part of the graph), so a capture rule broken in our Java went unseen here; now it
     * fails as it would on a GPU.
     */
    private synchronized void notWhileCapturing(String what) {
        if (!capturing.isEmpty()) {
            throw Errors.cuda(Errors.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, what + " while a stream captures a graph");
        }
    }

    /** Pinned host memory is not device memory: it counts against no capacity and is no valid device address. */
    @Override
    public synchronized long hostAlloc(long bytes) {
        notWhileCapturing("cuMemHostAlloc");
        if (bytes <= 0) throw Errors.cuda(Errors.CUDA_ERROR_INVALID_VALUE, "cuMemHostAlloc(" + bytes + " bytes)");
        Arena arena = Arena.ofShared();
        long ptr = arena.allocate(bytes, 64).address();
        hostAllocations.put(ptr, arena);
        return ptr;
    }

    @Override
    public synchronized void hostFree(long ptr) {
        notWhileCapturing("cuMemFreeHost");
        Arena a = hostAllocations.remove(ptr);
        if (a == null) {
            throw Errors.cuda(Errors.CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost(0x" + Long.toHexString(ptr) + ")");
        }
        a.close();
    }

    /** The host view of [ptr, ptr + bytes), which must lie inside one live allocation. */
    private MemorySegment view(long ptr, long bytes, String what) {
        return memory.view(ptr, bytes, what);
    }

    private synchronized void submit(long stream, Runnable work) {
        List<Runnable> capture = capturing.get(stream);
        if (capture != null) capture.add(work);
        else work.run();
    }

    /**
     * CudaDriver hands the host segment to a jextract downcall, which refuses a heap segment (MemorySegment.ofArray:
     * "Heap segment not allowed", IllegalArgumentException; the bindings are not generated with critical/heap access)
     * before CUDA sees it. MemorySegment.copy here would take one: refuse it the same way.
     */
    private static void nativeOnly(MemorySegment host, String what) {
        if (!host.isNative()) {
            throw new IllegalArgumentException(what + ": heap segment not allowed (the CUDA binding takes native "
                    + "memory only: an arena's or PinnedHostMemory's segment)");
        }
    }

    @Override
    public void copyHostToDevice(long dst, MemorySegment src, long bytes, long stream) {
        nativeOnly(src, "cuMemcpyHtoDAsync");
        MemorySegment d = view(dst, bytes, "cuMemcpyHtoD");
        submit(stream, () -> MemorySegment.copy(src, 0, live(d, "cuMemcpyHtoD"), 0, bytes));
    }

    @Override
    public void copyDeviceToHost(MemorySegment dst, long src, long bytes, long stream) {
        notWhileCapturing("cuMemcpyDtoH (a read back)");
        nativeOnly(dst, "cuMemcpyDtoHAsync");
        MemorySegment s = view(src, bytes, "cuMemcpyDtoH");
        submit(stream, () -> MemorySegment.copy(live(s, "cuMemcpyDtoH"), 0, dst, 0, bytes));
    }

    @Override
    public void copyDeviceToDevice(long dst, long src, long bytes, long stream) {
        MemorySegment d = view(dst, bytes, "cuMemcpyDtoD"), s = view(src, bytes, "cuMemcpyDtoD");
        submit(stream, () -> MemorySegment.copy(live(s, "cuMemcpyDtoD"), 0, live(d, "cuMemcpyDtoD"), 0, bytes));
    }

    @Override
    public void memset(long dst, byte value, long bytes, long stream) {
        MemorySegment d = view(dst, bytes, "cuMemsetD8");
        submit(stream, () -> live(d, "cuMemsetD8").fill(value));
    }

    /**
     * A copy's device side checked again when it runs: one recorded in a graph runs at every replay, and a buffer
     * freed since then must fail as the GPU would (an illegal address), not write into freed host memory.
     */
    private MemorySegment live(MemorySegment device, String what) {
        memory.checkExtent(device.address(), device.byteSize(), what + " as it ran");
        return device;
    }

    @Override
    public synchronized long streamCreate() {
        return nextHandle++;
    }

    @Override
    public synchronized void streamDestroy(long stream) {
        capturing.remove(stream);
    }

    @Override
    public void streamSynchronize(long stream) {
        notWhileCapturing("cuStreamSynchronize");
        // Work ran when it was submitted.
    }

    @Override
    public void streamWaitEvent(long stream, long event) {
        // One in-order executor: nothing to wait for.
    }

    @Override
    public synchronized long eventCreate() {
        long e = nextHandle++;
        eventTimes.put(e, 0L);
        return e;
    }

    /**
     * Events last recorded on a capturing stream. On CUDA such a record adds no node to the graph (it only marks the
     * capture's position, for cuStreamWaitEvent), so a replay never records the event, and cuEventSynchronize,
     * cuEventQuery or cuEventElapsedTime on it fail with CUDA_ERROR_CAPTURED_EVENT until it is recorded again outside
     * a capture (cuda.h). The emulator used to record the time at each replay instead, which let a timing or a
     * staging-slot wait inside a capture pass here and fail first on a GPU.
     */
    private final java.util.Set<Long> capturedEvents = new java.util.HashSet<>();

    @Override
    public synchronized void eventRecord(long event, long stream) {
        if (capturing.containsKey(stream)) {
            capturedEvents.add(event);
            return;
        }
        capturedEvents.remove(event);
        submit(stream, () -> {
            synchronized (this) {
                eventTimes.put(event, System.nanoTime());
            }
        });
    }

    private synchronized void notCaptured(long event, String what) {
        if (capturedEvents.contains(event)) {
            throw Errors.cuda(Errors.CUDA_ERROR_CAPTURED_EVENT, what + " on an event last recorded in a capturing stream");
        }
    }

    @Override
    public void eventSynchronize(long event) {
        notWhileCapturing("cuEventSynchronize");
        notCaptured(event, "cuEventSynchronize");
    }

    @Override
    public synchronized float eventElapsedMillis(long start, long end) {
        notWhileCapturing("cuEventElapsedTime (timing)");
        notCaptured(start, "cuEventElapsedTime");
        notCaptured(end, "cuEventElapsedTime");
        return (eventTimes.get(end) - eventTimes.get(start)) / 1e6f;
    }

    @Override
    public synchronized void eventDestroy(long event) {
        eventTimes.remove(event);
        capturedEvents.remove(event);
    }

    @Override
    public long moduleLoad(byte[] image) {
        return 1;  // the emulation library is the module; the fatbin image is not used here
    }

    @Override
    public void moduleUnload(long module) {}

    @Override
    public synchronized long moduleFunction(long module, String name) {
        try {
            if ((int) emuHasKernel.invokeExact(names.allocateFrom(name)) == 0) {
                throw Errors.cuda(Errors.CUDA_ERROR_NOT_FOUND, "cuModuleGetFunction(" + name + ") on the emulated device");
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        functionNames.add(name);
        return functionNames.size() - 1;
    }

    /** Kernels run so far (not recorded: run), including those inside graph launches. */
    private final java.util.concurrent.atomic.AtomicLong kernelsRun = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public long kernelsRun() {
        return kernelsRun.get();
    }

    @Override
    public void launch(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream,
                       KernelArgs args, boolean programmatic) {
        String name;
        MemorySegment cName;
        synchronized (this) {
            name = functionNames.get((int) function);
            cName = names.allocateFrom(name);
        }
        submit(stream, () -> {
            kernelsRun.incrementAndGet();
            memory.checkPointers(name, args);  // here, not at submit: a replayed graph may outlive a buffer
            try (Arena a = Arena.ofConfined()) {
                int rc = (int) emuLaunch.invokeExact(cName, gx, gy, gz, bx, by, bz, sharedBytes, args.pack(a),
                        programmatic ? 1 : 0);
                if (rc != 0) {
                    int status = rc == 1 ? Errors.CUDA_ERROR_NOT_FOUND : rc == 2 ? Errors.CUDA_ERROR_INVALID_VALUE
                            : Errors.CUDA_ERROR_LAUNCH_FAILED;
                    throw new CudaException(status, StatusNames.cuda(status), "cuLaunchKernel(" + name
                            + ") on the emulated device failed: " + lastError());
                }
                memory.checkRedZones("kernel " + name);
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        });
    }

    private String lastError() throws Throwable {
        MemorySegment s = (MemorySegment) emuLastError.invokeExact();
        return s.getString(0);
    }

    @Override
    public synchronized void beginCapture(long stream) {
        if (capturing.containsKey(stream)) throw Errors.cuda(Errors.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamBeginCapture (already capturing)");
        capturing.put(stream, new ArrayList<>());
    }

    @Override
    public synchronized long endCapture(long stream) {
        List<Runnable> work = capturing.remove(stream);
        if (work == null) throw Errors.cuda(Errors.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuStreamEndCapture (the stream was not capturing)");
        long g = nextHandle++;
        graphs.put(g, List.copyOf(work));
        return g;
    }

    @Override
    public void graphLaunch(long graph, long stream) {
        List<Runnable> work;
        synchronized (this) {
            work = graphs.get(graph);
        }
        if (work == null) throw Errors.cuda(Errors.CUDA_ERROR_INVALID_HANDLE, "cuGraphLaunch");
        submit(stream, () -> work.forEach(Runnable::run));
    }

    @Override
    public synchronized void graphDestroy(long graph) {
        graphs.remove(graph);
        List<long[]> conditionals = graphConditionals.remove(graph);
        if (conditionals != null) for (long[] c : conditionals) invoke(emuConditionalDestroy, c[0]);
    }

    // ---- Graphs with conditional (IF) nodes ---------------------------------------------------------------------
    // The graph under construction records like a capture (the stream's list of work); an IF node is one recorded
    // step that reads its conditional's value from the emulation library's table (where cudaGraphSetConditional in
    // graph_control.cu writes) and, when nonzero, runs its body's list. A launch first re-applies every default.

    /** A graph under construction: its conditionals {handle, default} and the IF node open, if any. */
    private record Building(List<long[]> conditionals, List<Long> openIfs) {}

    private final Map<Long, Building> building = new HashMap<>();
    private final Map<Long, List<Runnable>> ifParents = new HashMap<>();  // IF node -> the list its body interrupts
    private final Map<Long, List<long[]>> graphConditionals = new HashMap<>();  // launchable graph -> conditionals

    @Override
    public String conditionalGraphsUnsupportedReason() {
        return null;
    }

    /**
     * Kernels run one after another here, so a programmatic launch changes no order; the emulation library instead
     * fails one in which a thread returned without trm_pdl_begin (the check a GPU cannot make: there the kernel would
     * race with the one before it).
     */
    @Override
    public String programmaticLaunchUnsupportedReason() {
        return null;
    }

    @Override
    public synchronized long graphBuildBegin(long stream) {
        beginCapture(stream);
        long g = nextHandle++;
        building.put(g, new Building(new ArrayList<>(), new ArrayList<>()));
        return g;
    }

    private synchronized Building building(long graph) {
        Building b = building.get(graph);
        if (b == null) throw Errors.cuda(Errors.CUDA_ERROR_INVALID_HANDLE, "graph 0x" + Long.toHexString(graph)
                + " is not under construction");
        return b;
    }

    @Override
    public synchronized long conditionalCreate(long graph, int defaultValue) {
        Building b = building(graph);
        long handle = (long) invoke(emuConditionalCreate, defaultValue);
        b.conditionals().add(new long[] {handle, defaultValue});
        return handle;
    }

    @Override
    public synchronized long graphBuildIfBegin(long graph, long stream, long conditional) {
        Building b = building(graph);
        List<Runnable> parent = capturing.get(stream);
        if (parent == null) throw Errors.cuda(Errors.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "graph IF: not capturing");
        List<Runnable> body = new ArrayList<>();
        parent.add(() -> {
            long value = (long) invoke(emuConditionalGet, conditional);
            if (value < 0) throw Errors.cuda(Errors.CUDA_ERROR_INVALID_HANDLE, "graph IF: conditional destroyed");
            if (value != 0) body.forEach(Runnable::run);
        });
        capturing.put(stream, body);
        long node = nextHandle++;
        ifParents.put(node, parent);
        b.openIfs().add(node);
        return node;
    }

    @Override
    public synchronized void graphBuildIfEnd(long graph, long stream, long ifNode) {
        building(graph).openIfs().remove(ifNode);
        List<Runnable> parent = ifParents.remove(ifNode);
        if (parent == null) throw Errors.cuda(Errors.CUDA_ERROR_INVALID_HANDLE, "graph IF: unknown IF node");
        capturing.put(stream, parent);
    }

    @Override
    public synchronized long graphBuildEnd(long graph, long stream) {
        Building b = building.remove(graph);
        if (b == null) throw Errors.cuda(Errors.CUDA_ERROR_INVALID_HANDLE, "graph end: not under construction");
        List<Runnable> work = new ArrayList<>();
        List<long[]> conditionals = List.copyOf(b.conditionals());
        work.add(() -> {  // CU_GRAPH_COND_ASSIGN_DEFAULT: every launch starts from the defaults
            for (long[] c : conditionals) invoke(emuConditionalSet, c[0], (int) c[1]);
        });
        work.addAll(capturing.remove(stream));
        long g = nextHandle++;
        graphs.put(g, List.copyOf(work));
        graphConditionals.put(g, conditionals);
        return g;
    }

    @Override
    public synchronized void graphBuildAbandon(long graph, long stream) {
        Building b = building.remove(graph);
        capturing.remove(stream);
        if (b == null) return;
        for (long[] c : b.conditionals()) invoke(emuConditionalDestroy, c[0]);
        for (long node : b.openIfs()) ifParents.remove(node);
    }

    /** A call into the emulation library's conditional table. */
    private static Object invoke(MethodHandle h, Object... args) {
        try {
            return h.invokeWithArguments(args);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public long blasCreate(long stream) {
        return 1;
    }

    @Override
    public void blasDestroy(long blas) {}

    @Override
    public void gemm(long blas, GemmEngine engine, long stream, boolean transA, boolean transB, int m, int n, int k,
                     float alpha, long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                     float beta, long c, int cType, int ldc, long strideC, int batch) {
        // Both engines are the same plain reference here: the emulator has no kernels to choose between.
        submit(stream, () -> {
            String what = "cublasGemmStridedBatchedEx on the emulated device";
            operand(what + ", A", a, aType, transA ? k : m, transA ? m : k, lda, strideA, batch);
            operand(what + ", B", b, bType, transB ? n : k, transB ? k : n, ldb, strideB, batch);
            operand(what + ", C", c, cType, m, n, ldc, strideC, batch);
            try {
                int rc = (int) emuGemm.invokeExact(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, emuType(aType),
                        lda, strideA, b, emuType(bType), ldb, strideB, beta, c, emuType(cType), ldc, strideC, batch);
                Errors.checkCublas(rc, what + " (" + lastError() + ")");
                memory.checkRedZones(what);
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        });
    }

    /**
     * A column-major operand of rows x cols with leading dimension ld, batch matrices stride elements apart: its whole
     * extent must lie in one live allocation (cuBLAS reads or writes all of it; past an allocation it faults or reads
     * a neighbour). An ld below rows is cuBLAS's own CUBLAS_STATUS_INVALID_VALUE, left to emu_gemm.
     */
    private void operand(String what, long ptr, int cudaDataType, int rows, int cols, int ld, long stride, int batch) {
        if (rows <= 0 || cols <= 0 || batch <= 0 || ld < rows) return;
        long elements = (long) (cols - 1) * ld + rows + (long) (batch - 1) * Math.max(0, stride);
        memory.checkExtent(ptr, elements * (cudaDataType == 0 ? 4 : 2), what + " (" + rows + " x " + cols + ", ld "
                + ld + (batch > 1 ? ", " + batch + " matrices " + stride + " elements apart" : "") + ")");
    }

    private static int emuType(int cudaDataType) {
        return switch (cudaDataType) {
            case 0 -> 0;   // CUDA_R_32F
            case 14 -> 1;  // CUDA_R_16BF
            default -> -1;
        };
    }

    @Override
    public void synchronize() {}

    @Override
    public synchronized void close() {
        memory.close();
        for (Arena a : hostAllocations.values()) a.close();
        hostAllocations.clear();
        names.close();
    }
}
