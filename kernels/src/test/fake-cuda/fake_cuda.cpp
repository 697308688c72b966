// A FAKE CUDA driver (libcuda.so.1) for tests on machines without a GPU: the driver API functions that dev.trm.gpu's
// CudaDriver and DeviceProbe call, with the exact C signatures of cuda.h, over host memory. Kernels run through the
// project's emulation library (libtrm_kernels_emu.so, TRM_FAKE_CUDA_EMU names it; loaded at cuInit), one after
// another at the moment they are enqueued: every stream is synchronous, which is one of the orders a real device may
// run them in. What it is for: the Java side's marshalling (out-parameters, handles, struct fields, flags, byte
// counts, capture and graph call sequences) runs here, not first on a rare GPU session.
//
// It checks arguments the way the driver documents them (cuda.h of CUDA 13.0): null out-parameters and unknown
// handles fail, device ranges must lie inside one allocation, calls CUDA refuses during a stream capture (thread-local
// mode: allocation, synchronisation) fail with its error codes and invalidate the capture. It does NOT know how real
// hardware behaves (timing, asynchrony, what a fault does beyond being sticky), and where cuda.h is unclear it follows
// its own reading; a pass here is no proof for a GPU. Conditional graph nodes are not offered (cuGraphCreate and its
// companions are absent, so GpuDevice reports conditional graphs unsupported); neither are joins of captures across
// streams. Every failure prints one line "[fake libcuda] ..." to stderr saying why.
#include "fake_cuda.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kTotalBytes = 8ull << 30;  // the memory the fake device reports (allocations are host memory)
constexpr int kDriverVersion = 13000;
constexpr size_t kMaxDynamicShared = 48 * 1024;  // without cuFuncSetAttribute, which CudaDriver never calls
const char* const kName = "FAKE CUDA device (trm test driver: host memory, emulation library kernels)";

// ---- the emulation library --------------------------------------------------------------------------------------
struct Emu {
    void* lib = nullptr;
    int (*launch)(const char*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**, int);
    int (*hasKernel)(const char*);
    int (*kernelParams)(const char*, unsigned*, int);
    const char* (*lastError)();
} emu;

CUresult fail(CUresult r, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "[fake libcuda] ");
    std::vfprintf(stderr, fmt, ap);
    std::fprintf(stderr, "\n");
    va_end(ap);
    return r;
}

// ---- the objects behind the handles ------------------------------------------------------------------------------
using Op = std::function<CUresult()>;

struct Graph {
    std::vector<Op> ops;  // in the order they were captured (one stream: a chain)
};

struct Stream {
    unsigned flags = 0;
    bool capturing = false, invalidated = false;
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
    std::thread::id owner;  // the thread that began the capture
    Graph* graph = nullptr;
};

struct Event {
    unsigned flags = 0;
    bool recorded = false, captured = false;
    double ms = 0;
};

struct Module;
struct Function {
    std::string name;
    Module* module;
    std::vector<unsigned> paramSizes;
};
struct Module {
    std::vector<Function*> functions;
};

struct Context {
    int refs = 0;
} primary;

// One lock for everything: kernels run under it (the emulation library runs one launch at a time anyway).
std::recursive_mutex lock;
bool initialized = false;
thread_local CUcontext current = nullptr;
CUresult sticky = CUDA_SUCCESS;  // a kernel fault ruins the context, as on a GPU
std::map<uintptr_t, size_t> deviceAllocs;  // start -> bytes
size_t allocated = 0;
std::set<void*> hostAllocs;
Stream legacy;  // the NULL stream
std::set<Stream*> streams;
std::set<Event*> events;
std::set<Module*> modules;
std::set<Function*> functions;
std::set<Graph*> graphs, execs;

using Guard = std::lock_guard<std::recursive_mutex>;

double nowMs() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

CUresult ready() {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (current == nullptr) return fail(CUDA_ERROR_INVALID_CONTEXT, "no context is current on this thread");
    return sticky;
}

CUresult stream(CUstream h, Stream** out) {
    if (h == nullptr || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
        *out = &legacy;
        return CUDA_SUCCESS;
    }
    Stream* s = reinterpret_cast<Stream*>(h);
    if (!streams.count(s)) return fail(CUDA_ERROR_INVALID_HANDLE, "unknown stream %p", (void*)h);
    *out = s;
    return CUDA_SUCCESS;
}

// A call CUDA calls "potentially unsafe" (it allocates, frees or synchronises) on a thread with a capture of its own
// in progress (GLOBAL or THREAD_LOCAL mode; the fake treats GLOBAL as thread-local) fails and ends that capture's
// validity: cuStreamEndCapture then returns CUDA_ERROR_STREAM_CAPTURE_INVALIDATED.
CUresult unsafeDuringCapture(const char* what) {
    for (Stream* s : streams) {
        if (s->capturing && s->mode != CU_STREAM_CAPTURE_MODE_RELAXED && s->owner == std::this_thread::get_id()) {
            s->invalidated = true;
            return fail(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "%s while this thread captures stream %p", what,
                        (void*)s);
        }
    }
    return CUDA_SUCCESS;
}

bool inDevice(uintptr_t p, size_t bytes) {
    auto it = deviceAllocs.upper_bound(p);
    if (it == deviceAllocs.begin()) return false;
    --it;
    return p >= it->first && p - it->first <= it->second && bytes <= it->second - (p - it->first) &&
           (bytes > 0 || p < it->first + it->second);
}

CUresult deviceArg(CUdeviceptr p, size_t bytes, const char* what) {
    if (!inDevice((uintptr_t)p, bytes)) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: [0x%llx, +%zu bytes) is not inside one device allocation", what,
                    (unsigned long long)p, bytes);
    }
    return CUDA_SUCCESS;
}

CUresult hostArg(const void* p, size_t bytes, const char* what) {
    if (p == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "%s: null host pointer", what);
    if (inDevice((uintptr_t)p, 1) || (bytes > 0 && inDevice((uintptr_t)p + bytes - 1, 1))) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: the host pointer %p is a device address", what, p);
    }
    return CUDA_SUCCESS;
}

CUresult enqueueOn(CUstream h, Op op) {
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s == &legacy) {
        // The legacy stream synchronises with every blocking stream: one that is capturing cannot be joined.
        for (Stream* o : streams) {
            if (o->capturing && !(o->flags & CU_STREAM_NON_BLOCKING)) {
                o->invalidated = true;
                return fail(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "work on the legacy stream while blocking stream %p "
                            "captures", (void*)o);
            }
        }
    }
    if (s->capturing) {
        if (s->invalidated) return fail(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "the stream's capture was invalidated");
        s->graph->ops.push_back(std::move(op));
        return CUDA_SUCCESS;
    }
    return op();
}

CUresult runKernel(const Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, const std::vector<unsigned char>& values, const std::vector<size_t>& offsets,
                   int programmatic) {
    std::vector<void*> args(offsets.size() + 1);
    for (size_t i = 0; i < offsets.size(); i++) args[i] = const_cast<unsigned char*>(values.data()) + offsets[i];
    int rc = emu.launch(f->name.c_str(), gx, gy, gz, bx, by, bz, shared, args.data(), programmatic);
    if (rc == 0) return CUDA_SUCCESS;
    const char* why = emu.lastError();
    switch (rc) {
        case 1: return fail(CUDA_ERROR_NOT_FOUND, "launch %s: %s", f->name.c_str(), why);
        case 2: return fail(CUDA_ERROR_INVALID_VALUE, "launch %s: %s", f->name.c_str(), why);
        default:
            // A deadlock or a fault: on a GPU the context is lost (every later call fails with the same error).
            sticky = std::strstr(why, "not aligned") ? CUDA_ERROR_MISALIGNED_ADDRESS
                     : rc == 3                        ? CUDA_ERROR_LAUNCH_TIMEOUT
                                                      : CUDA_ERROR_LAUNCH_FAILED;
            return fail(sticky, "kernel %s failed (the context is now unusable): %s", f->name.c_str(), why);
    }
}

// cuLaunchKernel and cuLaunchKernelEx: checks what the driver checks at the call, copies each parameter's bytes
// (sizes from the kernel's signature, as the driver has them from the module) and runs or captures the launch.
CUresult launch(CUfunction hf, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                unsigned shared, CUstream hs, void** params, void** extra, int programmatic) {
    if (CUresult r = ready()) return r;
    Function* f = reinterpret_cast<Function*>(hf);
    if (!functions.count(f)) return fail(CUDA_ERROR_INVALID_HANDLE, "launch: unknown function %p", (void*)hf);
    if (extra != nullptr) return fail(CUDA_ERROR_NOT_SUPPORTED, "launch %s: 'extra' is not modelled", f->name.c_str());
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || (unsigned long long)bx * by * bz > 1024 ||
        bx > 1024 || by > 1024 || bz > 64 || gy > 65535 || gz > 65535 || gx > 2147483647u) {
        return fail(CUDA_ERROR_INVALID_VALUE, "launch %s: grid (%u,%u,%u) block (%u,%u,%u)", f->name.c_str(), gx, gy,
                    gz, bx, by, bz);
    }
    if (shared > kMaxDynamicShared) {
        return fail(CUDA_ERROR_INVALID_VALUE, "launch %s: %u bytes of dynamic shared memory > 48 KiB",
                    f->name.c_str(), shared);
    }
    if (params == nullptr && !f->paramSizes.empty()) {
        return fail(CUDA_ERROR_INVALID_VALUE, "launch %s: kernelParams is NULL for %zu parameters", f->name.c_str(),
                    f->paramSizes.size());
    }
    std::vector<size_t> offsets;
    size_t total = 0;
    for (unsigned size : f->paramSizes) {
        offsets.push_back(total);
        total += (size + 15) / 16 * 16;  // each value 16-byte aligned, whatever its type
    }
    std::vector<unsigned char> values(total);
    for (size_t i = 0; i < offsets.size(); i++) {
        if (params[i] == nullptr) {
            return fail(CUDA_ERROR_INVALID_VALUE, "launch %s: kernelParams[%zu] is NULL", f->name.c_str(), i);
        }
        std::memcpy(values.data() + offsets[i], params[i], f->paramSizes[i]);
    }
    return enqueueOn(hs, [=] { return runKernel(f, gx, gy, gz, bx, by, bz, shared, values, offsets, programmatic); });
}

void resetContext() {  // the primary context's last release: everything in it goes
    for (auto& a : deviceAllocs) std::free((void*)a.first);
    deviceAllocs.clear();
    allocated = 0;
    for (void* p : hostAllocs) std::free(p);
    hostAllocs.clear();
    for (Stream* s : streams) {
        delete s->graph;
        delete s;
    }
    streams.clear();
    for (Event* e : events) delete e;
    events.clear();
    for (Function* f : functions) delete f;
    functions.clear();
    for (Module* m : modules) delete m;
    modules.clear();
    for (Graph* g : graphs) delete g;
    graphs.clear();
    for (Graph* g : execs) delete g;
    execs.clear();
    sticky = CUDA_SUCCESS;
}

}  // namespace

// ---- for the fake cuBLAS libraries (fake_cuda.h) ------------------------------------------------------------------
namespace fakecuda {
CUresult enqueue(CUstream s, std::function<CUresult()> op) {
    Guard g(lock);
    if (CUresult r = ::ready()) return r;
    return enqueueOn(s, std::move(op));
}
bool deviceRange(const void* p, size_t bytes) {
    Guard g(lock);
    return inDevice((uintptr_t)p, bytes);
}
void* emuSymbol(const char* name) {
    Guard g(lock);
    return emu.lib == nullptr ? nullptr : dlsym(emu.lib, name);
}
bool ready() {
    Guard g(lock);
    return ::ready() == CUDA_SUCCESS;
}
}  // namespace fakecuda

// ---- the driver API ------------------------------------------------------------------------------------------------
extern "C" {

CUresult cuInit(unsigned int flags) {
    Guard g(lock);
    if (flags != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuInit: flags must be 0, not %u", flags);
    if (initialized) return CUDA_SUCCESS;
    const char* path = std::getenv("TRM_FAKE_CUDA_EMU");
    if (path == nullptr || *path == 0) {
        return fail(CUDA_ERROR_NO_DEVICE, "TRM_FAKE_CUDA_EMU is not set (the path of libtrm_kernels_emu.so)");
    }
    emu.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (emu.lib == nullptr) return fail(CUDA_ERROR_NO_DEVICE, "cannot load %s: %s", path, dlerror());
    emu.launch = reinterpret_cast<decltype(emu.launch)>(dlsym(emu.lib, "emu_launch"));
    emu.hasKernel = reinterpret_cast<decltype(emu.hasKernel)>(dlsym(emu.lib, "emu_has_kernel"));
    emu.kernelParams = reinterpret_cast<decltype(emu.kernelParams)>(dlsym(emu.lib, "emu_kernel_params"));
    emu.lastError = reinterpret_cast<decltype(emu.lastError)>(dlsym(emu.lib, "emu_last_error"));
    if (!emu.launch || !emu.hasKernel || !emu.kernelParams || !emu.lastError) {
        return fail(CUDA_ERROR_NO_DEVICE, "%s lacks emu_launch, emu_has_kernel, emu_kernel_params or emu_last_error",
                    path);
    }
    initialized = true;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int* version) {
    if (version == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuDriverGetVersion: NULL");
    *version = kDriverVersion;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int* count) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (count == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetCount: NULL");
    *count = 1;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGet: NULL");
    if (ordinal != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet: no device %d", ordinal);
    *device = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (name == nullptr || len <= 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetName: NULL or len %d", len);
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGetName: no device %d", dev);
    std::snprintf(name, (size_t)len, "%s", kName);
    return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(size_t* bytes, CUdevice dev) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (bytes == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceTotalMem: NULL");
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceTotalMem: no device %d", dev);
    *bytes = kTotalBytes;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (pi == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute: NULL");
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGetAttribute: no device %d", dev);
    switch (attrib) {
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 9; return CUDA_SUCCESS;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; return CUDA_SUCCESS;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 8; return CUDA_SUCCESS;
        default:
            // Not modelled: a new attribute the Java side starts to read must be added here on purpose.
            return fail(CUDA_ERROR_NOT_SUPPORTED, "cuDeviceGetAttribute(%d) is not modelled by the fake", (int)attrib);
    }
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (pctx == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuDevicePrimaryCtxRetain: NULL");
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDevicePrimaryCtxRetain: no device %d", dev);
    primary.refs++;
    *pctx = reinterpret_cast<CUcontext>(&primary);
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice dev) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDevicePrimaryCtxRelease: no device %d", dev);
    if (primary.refs == 0) return fail(CUDA_ERROR_INVALID_CONTEXT, "cuDevicePrimaryCtxRelease: not retained");
    if (--primary.refs == 0) {
        resetContext();
        if (current == reinterpret_cast<CUcontext>(&primary)) current = nullptr;
    }
    return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
    Guard g(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (ctx != nullptr && (ctx != reinterpret_cast<CUcontext>(&primary) || primary.refs == 0)) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent: %p is not a live context", (void*)ctx);
    }
    current = ctx;
    return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    for (Stream* s : streams) {
        if (s->capturing && s->mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
            s->invalidated = true;
            return fail(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuCtxSynchronize while stream %p captures", (void*)s);
        }
    }
    return CUDA_SUCCESS;
}

// ---- memory ------------------------------------------------------------------------------------------------------

CUresult cuMemGetInfo(size_t* free, size_t* total) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (free == nullptr || total == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemGetInfo: NULL");
    *free = kTotalBytes - allocated;
    *total = kTotalBytes;
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc(CUdeviceptr* dptr, size_t bytes) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (dptr == nullptr || bytes == 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc: NULL or 0 bytes");
    if (CUresult r = unsafeDuringCapture("cuMemAlloc")) return r;
    size_t rounded = (bytes + 255) / 256 * 256;
    if (rounded > kTotalBytes - allocated) return CUDA_ERROR_OUT_OF_MEMORY;
    void* p = std::aligned_alloc(256, rounded);
    if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
    // Fresh device memory holds whatever was there: all-ones bytes (NaN as fp32 and bf16) show a read before a write.
    std::memset(p, 0xff, rounded);
    deviceAllocs[(uintptr_t)p] = bytes;
    allocated += rounded;
    *dptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

CUresult cuMemFree(CUdeviceptr dptr) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    auto it = deviceAllocs.find((uintptr_t)dptr);
    if (it == deviceAllocs.end()) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFree: 0x%llx is not an allocation", (unsigned long long)dptr);
    }
    if (CUresult r = unsafeDuringCapture("cuMemFree")) return r;
    allocated -= (it->second + 255) / 256 * 256;
    std::free((void*)it->first);
    deviceAllocs.erase(it);
    return CUDA_SUCCESS;
}

CUresult cuMemHostAlloc(void** pp, size_t bytes, unsigned int flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (pp == nullptr || bytes == 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemHostAlloc: NULL or 0 bytes");
    if (flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED)) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemHostAlloc: unknown flags 0x%x", flags);
    }
    if (CUresult r = unsafeDuringCapture("cuMemHostAlloc")) return r;
    void* p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
    hostAllocs.insert(p);
    *pp = p;
    return CUDA_SUCCESS;
}

CUresult cuMemFreeHost(void* p) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (!hostAllocs.erase(p)) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost: %p is not from cuMemHostAlloc", p);
    std::free(p);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t bytes, CUstream s) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (CUresult r = deviceArg(dst, bytes, "cuMemcpyHtoDAsync dst")) return r;
    if (CUresult r = hostArg(src, bytes, "cuMemcpyHtoDAsync src")) return r;
    return enqueueOn(s, [=] {
        std::memcpy((void*)(uintptr_t)dst, src, bytes);
        return CUDA_SUCCESS;
    });
}

CUresult cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t bytes, CUstream s) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (CUresult r = hostArg(dst, bytes, "cuMemcpyDtoHAsync dst")) return r;
    if (CUresult r = deviceArg(src, bytes, "cuMemcpyDtoHAsync src")) return r;
    return enqueueOn(s, [=] {
        std::memcpy(dst, (const void*)(uintptr_t)src, bytes);
        return CUDA_SUCCESS;
    });
}

CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (CUresult r = deviceArg(dst, bytes, "cuMemcpyDtoDAsync dst")) return r;
    if (CUresult r = deviceArg(src, bytes, "cuMemcpyDtoDAsync src")) return r;
    return enqueueOn(s, [=] {
        std::memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, bytes);
        return CUDA_SUCCESS;
    });
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n, CUstream s) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (n == 0) return CUDA_SUCCESS;
    if (CUresult r = deviceArg(dst, n, "cuMemsetD8Async")) return r;
    return enqueueOn(s, [=] {
        std::memset((void*)(uintptr_t)dst, value, n);
        return CUDA_SUCCESS;
    });
}

// ---- streams and events ------------------------------------------------------------------------------------------

CUresult cuStreamCreate(CUstream* ph, unsigned int flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (ph == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate: NULL");
    if (flags & ~(unsigned)CU_STREAM_NON_BLOCKING) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate: flags %u", flags);
    Stream* s = new Stream();
    s->flags = flags;
    streams.insert(s);
    *ph = reinterpret_cast<CUstream>(s);
    return CUDA_SUCCESS;
}

CUresult cuStreamDestroy(CUstream h) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Stream* s = reinterpret_cast<Stream*>(h);
    if (!streams.erase(s)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy: unknown stream %p", (void*)h);
    delete s->graph;
    delete s;
    return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream h) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s->capturing) {
        s->invalidated = true;
        return fail(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamSynchronize on a capturing stream");
    }
    return CUDA_SUCCESS;  // its work ran when it was enqueued
}

CUresult cuStreamWaitEvent(CUstream h, CUevent he, unsigned int flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    Event* e = reinterpret_cast<Event*>(he);
    if (!events.count(e)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamWaitEvent: unknown event %p", (void*)he);
    if (flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamWaitEvent: flags %u", flags);
    if (e->captured) {
        // A wait on an event recorded in a capture joins this stream into that capture: not modelled.
        return fail(CUDA_ERROR_NOT_SUPPORTED, "cuStreamWaitEvent on an event recorded in a capture (a cross-stream "
                    "capture join) is not modelled by the fake");
    }
    return CUDA_SUCCESS;  // the event's work is done: everything runs when it is enqueued
}

CUresult cuEventCreate(CUevent* ph, unsigned int flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (ph == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuEventCreate: NULL");
    if (flags & ~(unsigned)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS)) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuEventCreate: flags %u", flags);
    }
    Event* e = new Event();
    e->flags = flags;
    events.insert(e);
    *ph = reinterpret_cast<CUevent>(e);
    return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent he, CUstream h) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Event* e = reinterpret_cast<Event*>(he);
    if (!events.count(e)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord: unknown event %p", (void*)he);
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s->capturing) {
        // In a capture the event only marks a point for other captured streams to join; no node, no timestamp.
        if (s->invalidated) return fail(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuEventRecord: capture invalidated");
        e->captured = true;
        return CUDA_SUCCESS;
    }
    return enqueueOn(h, [e] {
        e->recorded = true;
        e->captured = false;
        e->ms = nowMs();
        return CUDA_SUCCESS;
    });
}

CUresult cuEventSynchronize(CUevent he) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Event* e = reinterpret_cast<Event*>(he);
    if (!events.count(e)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize: unknown event %p", (void*)he);
    if (e->captured) return fail(CUDA_ERROR_CAPTURED_EVENT, "cuEventSynchronize on an event recorded in a capture");
    return CUDA_SUCCESS;
}

CUresult cuEventElapsedTime(float* ms, CUevent hs, CUevent he) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (ms == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuEventElapsedTime: NULL");
    Event* a = reinterpret_cast<Event*>(hs);
    Event* b = reinterpret_cast<Event*>(he);
    if (!events.count(a) || !events.count(b)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime: unknown event");
    if (a->captured || b->captured) return fail(CUDA_ERROR_CAPTURED_EVENT, "cuEventElapsedTime: a captured event");
    if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime: an event without timing");
    }
    if (!a->recorded || !b->recorded) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime: an event never recorded");
    *ms = (float)(b->ms - a->ms);
    return CUDA_SUCCESS;
}

CUresult cuEventDestroy(CUevent he) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Event* e = reinterpret_cast<Event*>(he);
    if (!events.erase(e)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy: unknown event %p", (void*)he);
    delete e;
    return CUDA_SUCCESS;
}

// ---- modules and launches ----------------------------------------------------------------------------------------

CUresult cuModuleLoadData(CUmodule* module, const void* image) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (module == nullptr || image == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleLoadData: NULL");
    // The fatbin's bytes are not run (kernels come from the emulation library), but they must be a fatbin: its
    // header starts with the magic 0xBA55ED50 (little-endian).
    unsigned magic;
    std::memcpy(&magic, image, 4);
    if (magic != 0xBA55ED50u) return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: not a fatbin (0x%08x)", magic);
    Module* m = new Module();
    modules.insert(m);
    *module = reinterpret_cast<CUmodule>(m);
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule hm) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Module* m = reinterpret_cast<Module*>(hm);
    if (!modules.erase(m)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload: unknown module %p", (void*)hm);
    for (Function* f : m->functions) {
        functions.erase(f);
        delete f;
    }
    delete m;
    return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction* hf, CUmodule hm, const char* name) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (hf == nullptr || name == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleGetFunction: NULL");
    Module* m = reinterpret_cast<Module*>(hm);
    if (!modules.count(m)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleGetFunction: unknown module %p", (void*)hm);
    for (Function* f : m->functions) {
        if (f->name == name) {
            *hf = reinterpret_cast<CUfunction>(f);
            return CUDA_SUCCESS;
        }
    }
    if (!emu.hasKernel(name)) return CUDA_ERROR_NOT_FOUND;
    Function* f = new Function{name, m, {}};
    int n = emu.kernelParams(name, nullptr, 0);
    f->paramSizes.resize((size_t)n);
    emu.kernelParams(name, f->paramSizes.data(), n);
    m->functions.push_back(f);
    functions.insert(f);
    *hf = reinterpret_cast<CUfunction>(f);
    return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                        unsigned int by, unsigned int bz, unsigned int shared, CUstream s, void** params,
                        void** extra) {
    Guard g(lock);
    return launch(f, gx, gy, gz, bx, by, bz, shared, s, params, extra, 0);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
    Guard g(lock);
    if (config == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernelEx: NULL config");
    if (config->numAttrs > 0 && config->attrs == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernelEx: %u attributes at NULL", config->numAttrs);
    }
    int programmatic = 0;
    for (unsigned i = 0; i < config->numAttrs; i++) {
        const CUlaunchAttribute& a = config->attrs[i];
        if (a.id != CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION) {
            return fail(CUDA_ERROR_NOT_SUPPORTED, "cuLaunchKernelEx: attribute %d is not modelled by the fake", (int)a.id);
        }
        programmatic = a.value.programmaticStreamSerializationAllowed;
        if (programmatic != 0 && programmatic != 1) {
            return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernelEx: programmaticStreamSerializationAllowed = %d",
                        programmatic);
        }
    }
    return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX, config->blockDimY,
                  config->blockDimZ, config->sharedMemBytes, config->hStream, params, extra, programmatic);
}

// ---- stream capture and graphs -----------------------------------------------------------------------------------

CUresult cuStreamBeginCapture(CUstream h, CUstreamCaptureMode mode) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s == &legacy) return fail(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamBeginCapture on the legacy stream");
    if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
        mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamBeginCapture: mode %d", (int)mode);
    }
    if (s->capturing) return fail(CUDA_ERROR_ILLEGAL_STATE, "cuStreamBeginCapture: the stream already captures");
    s->capturing = true;
    s->invalidated = false;
    s->mode = mode;
    s->owner = std::this_thread::get_id();
    s->graph = new Graph();
    return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream h, CUgraph* phGraph) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (phGraph == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamEndCapture: NULL");
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (!s->capturing) return fail(CUDA_ERROR_ILLEGAL_STATE, "cuStreamEndCapture: the stream is not capturing");
    if (s->mode != CU_STREAM_CAPTURE_MODE_RELAXED && s->owner != std::this_thread::get_id()) {
        return fail(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "cuStreamEndCapture from another thread");
    }
    s->capturing = false;
    Graph* graph = s->graph;
    s->graph = nullptr;
    if (s->invalidated) {
        delete graph;
        *phGraph = nullptr;
        return fail(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuStreamEndCapture: the capture was invalidated");
    }
    graphs.insert(graph);
    *phGraph = reinterpret_cast<CUgraph>(graph);
    return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec* phExec, CUgraph hg, unsigned long long flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* graph = reinterpret_cast<Graph*>(hg);
    if (phExec == nullptr || !graphs.count(graph)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate: NULL or unknown graph");
    if (flags != 0) return fail(CUDA_ERROR_NOT_SUPPORTED, "cuGraphInstantiate: flags %llu are not modelled", flags);
    Graph* exec = new Graph(*graph);  // independent of the graph from now on
    execs.insert(exec);
    *phExec = reinterpret_cast<CUgraphExec>(exec);
    return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec he, CUstream h) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* exec = reinterpret_cast<Graph*>(he);
    if (!execs.count(exec)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphLaunch: unknown executable graph %p", (void*)he);
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s->capturing) return fail(CUDA_ERROR_NOT_SUPPORTED, "cuGraphLaunch into a capture is not modelled by the fake");
    return enqueueOn(h, [exec] {
        for (Op& op : exec->ops) {
            if (CUresult r = op()) return r;
        }
        return CUDA_SUCCESS;
    });
}

CUresult cuGraphExecDestroy(CUgraphExec he) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* exec = reinterpret_cast<Graph*>(he);
    if (!execs.erase(exec)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphExecDestroy: unknown %p", (void*)he);
    delete exec;
    return CUDA_SUCCESS;
}

CUresult cuGraphDestroy(CUgraph hg) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* graph = reinterpret_cast<Graph*>(hg);
    if (!graphs.erase(graph)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphDestroy: unknown %p", (void*)hg);
    delete graph;
    return CUDA_SUCCESS;
}

}  // extern "C"
