// A FAKE CUDA driver (libcuda.so.1) for tests on machines without a GPU: the driver API functions that dev.trm.gpu's
// CudaDriver and DeviceProbe call, with the exact C signatures of cuda.h, over host memory. Kernels run through the
// project's emulation library (libtrm_kernels_emu.so, TRM_FAKE_CUDA_EMU names it; loaded at cuInit), one after
// another at the moment they are enqueued: every stream is synchronous, which is one of the orders a real device may
// run them in. What it is for: the Java side's marshalling (out-parameters, handles, struct fields, flags, byte
// counts, capture and graph call sequences) runs here, not first on a rare GPU session.
//
// It checks arguments the way the driver documents them (cuda.h of CUDA 13.0): null out-parameters and unknown
// handles fail, device ranges must lie inside one allocation, calls CUDA refuses during a stream capture (thread-local
// mode: allocation, synchronisation; a wait on an event recorded outside the capture) fail with its error codes and
// invalidate the capture. It does NOT know how real
// hardware behaves (timing, asynchrony, what a fault does beyond being sticky), and where cuda.h is unclear it follows
// its own reading; a pass here is no proof for a GPU. Every failure prints one line "[fake libcuda] ..." to stderr
// saying why.
//
// Graphs are nodes with dependencies: a capture (cuStreamBeginCapture, or cuStreamBeginCaptureToGraph into a graph of
// cuGraphCreate or a conditional body) adds one node per operation depending on the capture's leaves, which
// cuStreamGetCaptureInfo_v3 reports (its arrays are spoiled at the next call on the stream, as their validity ends).
// Conditional IF nodes (cuGraphAddNode_v2 of CU_GRAPH_NODE_TYPE_CONDITIONAL, size 1 or 2) get body graphs the driver
// creates and returns in phGraph_out; their handles (cuGraphConditionalHandleCreate) are handles of the emulation
// library's conditional table, which cudaGraphSetConditional (graph_control.cu) writes, and a launch re-applies the
// defaults of CU_GRAPH_COND_ASSIGN_DEFAULT handles first. An executable graph runs its nodes in an order the
// dependencies allow, the latest made first among the ready ones, so a missing edge runs work too early. Refused as
// cuda.h documents (its error codes; where it names none, the fake's choice, noted at the call): a handle of another
// graph, a second node on one handle, a handle guarding no node at instantiation, a second instantiation of a graph
// with conditional nodes, non-zero reserved bytes, a programmatic edge into a conditional node, instantiating or
// destroying a graph a capture is still adding to, destroying or instantiating a body. Not modelled: WHILE and SWITCH
// nodes, other node types through cuGraphAddNode, captures of several streams into one graph (joins), what a
// conditional body may not contain (the fake runs whatever was captured into it), and kernel bounds: a launch's
// pointer arguments and the kernel's accesses are not checked against the allocations (EmulatedDriver and the ASan
// build of the emulation library check those; here a kernel that overruns its buffer writes host memory).
#include "fake_cuda.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <queue>
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
    // The table of graph conditional values, which cudaGraphSetConditional (graph_control.cu, compiled into the
    // emulation library) writes: a CUgraphConditionalHandle of this driver IS a handle of that table.
    unsigned long long (*condCreate)(unsigned);
    int (*condSet)(unsigned long long, unsigned);
    long long (*condGet)(unsigned long long);
    void (*condDestroy)(unsigned long long);
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

struct Graph;

// A conditional handle (cuGraphConditionalHandleCreate): its value lives in the emulation library's table. Shared by
// the graph that made it and every executable graph instantiated from it; the table entry goes with the last one.
struct Conditional {
    unsigned long long handle = 0;
    unsigned defaultValue = 0, flags = 0;
    Graph* graph = nullptr;  // the graph it was made for: its node must be there or in a body below it
    bool used = false;       // a conditional node uses it (one node per handle)
    ~Conditional() {
        if (emu.condDestroy != nullptr) emu.condDestroy(handle);
    }
};

// A node: a captured operation (op), or a conditional node (cond set, op empty) owning its body graphs.
struct Node {
    Graph* graph = nullptr;
    size_t index = 0;  // creation order in its graph
    std::vector<Node*> deps;
    Op op;
    std::shared_ptr<Conditional> cond;
    std::vector<Graph*> bodies;  // CUDA-owned; phGraph_out points at `bodyHandles`
    std::vector<CUgraph> bodyHandles;
};

struct Graph {
    Node* parent = nullptr;  // the conditional node whose body this is; null for a top-level graph
    std::vector<std::unique_ptr<Node>> nodes;
    std::vector<std::shared_ptr<Conditional>> conditionals;  // made for this graph
    int executables = 0;     // live instantiations (a graph with conditional nodes may have one at a time)
};

// An executable graph: the nodes in one order their dependencies allow, each conditional node with its bodies.
struct Exec;
struct Step {
    Op op;
    std::shared_ptr<Conditional> cond;
    std::vector<Exec> bodies;
};
struct Exec {
    std::vector<Step> steps;
    std::vector<std::shared_ptr<Conditional>> conditionals;  // of the whole graph: defaults applied at each launch
    Graph* source = nullptr;  // the graph it came from while that lives (its instantiation count)
};

struct Stream {
    unsigned flags = 0;
    bool capturing = false, invalidated = false;
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
    std::thread::id owner;  // the thread that began the capture
    Graph* graph = nullptr;  // the graph captured into
    bool ownsGraph = false;  // cuStreamBeginCapture's own graph (else the caller's, cuStreamBeginCaptureToGraph)
    unsigned long long captureId = 0;
    // What the next captured node will depend on (the capture's leaves: one stream is a chain) and with which edges.
    std::vector<Node*> leaves;
    std::vector<CUgraphEdgeData> leafEdges;
    // The arrays cuStreamGetCaptureInfo hands out: valid only until the next call on the stream, so that call
    // overwrites them with garbage (a caller that kept the pointer reads unknown node handles, not stale ones).
    std::vector<CUgraphNode> infoDeps;
    std::vector<CUgraphEdgeData> infoEdges;
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
    std::string image;  // the fatbin's bytes: a kernel must be named in its own module's image
};

struct Context {
    int refs = 0;
} primary;

// One lock for everything: kernels run under it (the emulation library runs one launch at a time anyway).
std::recursive_mutex lock;
bool initialized = false;
thread_local CUcontext current = nullptr;
CUresult sticky = CUDA_SUCCESS;  // a kernel fault ruins the context, as on a GPU
long long kernelsRun = 0;         // kernels run so far (graph launches included): fake_cuda_kernels_run
std::map<uintptr_t, size_t> deviceAllocs;  // start -> bytes
size_t allocated = 0;
std::set<void*> hostAllocs;
Stream legacy;  // the NULL stream
std::set<Stream*> streams;
std::set<Event*> events;
std::set<Module*> modules;
std::set<Function*> functions;
std::set<Graph*> graphs;  // every live graph: top-level ones, capture-owned ones, conditional bodies
std::set<Node*> nodes;
std::map<unsigned long long, Conditional*> conditionals;  // handles of live graphs
std::set<Exec*> execs;
unsigned long long captureIds = 0;

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

// ---- graphs ------------------------------------------------------------------------------------------------------

Graph* newGraph(Node* parent) {
    Graph* g = new Graph();
    g->parent = parent;
    graphs.insert(g);
    return g;
}

// Frees a graph with its nodes, their bodies and its conditional handles (the handles' values stay while an
// executable graph still uses them).
void destroyGraph(Graph* g) {
    for (auto& n : g->nodes) {
        for (Graph* b : n->bodies) destroyGraph(b);
        nodes.erase(n.get());
    }
    for (auto& c : g->conditionals) conditionals.erase(c->handle);
    for (Exec* x : execs) {
        if (x->source == g) x->source = nullptr;
    }
    graphs.erase(g);
    delete g;
}

Graph* root(Graph* g) {
    while (g->parent != nullptr) g = g->parent->graph;
    return g;
}

Node* newNode(Graph* g, std::vector<Node*> deps) {
    g->nodes.push_back(std::make_unique<Node>());
    Node* n = g->nodes.back().get();
    n->graph = g;
    n->index = g->nodes.size() - 1;
    n->deps = std::move(deps);
    nodes.insert(n);
    return n;
}

// The edge data the fake accepts: full completion (from_port 0) or a kernel's programmatic ports, to_port 0 (no node
// type defines another), a known dependency type, zeroed reserved bytes.
bool validEdge(const CUgraphEdgeData& e) {
    for (unsigned char b : e.reserved) {
        if (b != 0) return false;
    }
    return e.to_port == 0 && e.from_port <= CU_GRAPH_KERNEL_NODE_PORT_LAUNCH_ORDER &&
           (e.type == CU_GRAPH_DEPENDENCY_TYPE_DEFAULT || e.type == CU_GRAPH_DEPENDENCY_TYPE_PROGRAMMATIC);
}

// Checks a dependency list for graph g (every node in g, no duplicates, valid edge data); fills deps and edges.
CUresult dependencyList(Graph* g, const CUgraphNode* list, const CUgraphEdgeData* data, size_t n, const char* what,
                      std::vector<Node*>* deps, std::vector<CUgraphEdgeData>* edges) {
    if (n > 0 && list == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "%s: %zu dependencies at NULL", what, n);
    for (size_t i = 0; i < n; i++) {
        Node* d = reinterpret_cast<Node*>(list[i]);
        if (!nodes.count(d) || d->graph != g) {
            return fail(CUDA_ERROR_INVALID_VALUE, "%s: dependency %zu (%p) is not a node of graph %p", what, i,
                        (void*)list[i], (void*)g);
        }
        for (Node* e : *deps) {
            if (e == d) return fail(CUDA_ERROR_INVALID_VALUE, "%s: dependency %p listed twice", what, (void*)d);
        }
        CUgraphEdgeData e{};
        if (data != nullptr) {
            e = data[i];
            if (!validEdge(e)) {
                return fail(CUDA_ERROR_INVALID_VALUE, "%s: edge data %zu (from_port %u, to_port %u, type %u) is "
                            "invalid", what, i, e.from_port, e.to_port, e.type);
            }
        }
        deps->push_back(d);
        edges->push_back(e);
    }
    return CUDA_SUCCESS;
}

// The capture info arrays handed out before are valid only until the next call on the stream: spoil them.
void touch(Stream* s) {
    std::memset(static_cast<void*>(s->infoDeps.data()), 0xab, s->infoDeps.size() * sizeof(CUgraphNode));
    std::memset(static_cast<void*>(s->infoEdges.data()), 0xab, s->infoEdges.size() * sizeof(CUgraphEdgeData));
}

// Whether a stream captures into g or into a graph inside it (a body of one of its conditional nodes).
Stream* capturedBy(Graph* g) {
    for (Stream* s : streams) {
        if (s->capturing && root(s->graph) == g) return s;
    }
    return nullptr;
}

CUresult enqueueOn(CUstream h, Op op) {
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    touch(s);
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
        Node* n = newNode(s->graph, s->leaves);
        n->op = std::move(op);
        s->leaves = {n};
        s->leafEdges = {CUgraphEdgeData{}};
        return CUDA_SUCCESS;
    }
    return op();
}

CUresult runKernel(const Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, const std::vector<unsigned char>& values, const std::vector<size_t>& offsets,
                   int programmatic) {
    std::vector<void*> args(offsets.size() + 1);
    for (size_t i = 0; i < offsets.size(); i++) args[i] = const_cast<unsigned char*>(values.data()) + offsets[i];
    kernelsRun++;
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
    for (Stream* s : streams) delete s;
    streams.clear();
    for (Event* e : events) delete e;
    events.clear();
    for (Function* f : functions) delete f;
    functions.clear();
    for (Module* m : modules) delete m;
    modules.clear();
    for (Exec* x : execs) delete x;
    execs.clear();
    while (!graphs.empty()) destroyGraph(root(*graphs.begin()));
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

// ---- for tests: not part of any CUDA API -------------------------------------------------------------------------
// Kernels this fake has run (eager, and inside graph launches; not cuBLAS GEMMs), so that a test can see what a
// conditional graph skipped on the CUDA path (GpuDevice.kernelsRun() is -1 on CUDA).
extern "C" long long fake_cuda_kernels_run(void) {
    Guard g(lock);
    return kernelsRun;
}

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
    emu.condCreate = reinterpret_cast<decltype(emu.condCreate)>(dlsym(emu.lib, "emu_conditional_create"));
    emu.condSet = reinterpret_cast<decltype(emu.condSet)>(dlsym(emu.lib, "emu_conditional_set"));
    emu.condGet = reinterpret_cast<decltype(emu.condGet)>(dlsym(emu.lib, "emu_conditional_get"));
    emu.condDestroy = reinterpret_cast<decltype(emu.condDestroy)>(dlsym(emu.lib, "emu_conditional_destroy"));
    if (!emu.launch || !emu.hasKernel || !emu.kernelParams || !emu.lastError || !emu.condCreate || !emu.condSet ||
        !emu.condGet || !emu.condDestroy) {
        return fail(CUDA_ERROR_NO_DEVICE, "%s lacks emu_launch, emu_has_kernel, emu_kernel_params, emu_last_error or "
                    "emu_conditional_*", path);
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
    if (s->capturing && s->ownsGraph) destroyGraph(s->graph);
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
    if (s->capturing) {
        // An event recorded outside the capture: a dependency on uncaptured work, which a capture may not take
        // (CUDA_ERROR_STREAM_CAPTURE_ISOLATION: "only implicit in-stream ordering dependencies are allowed to cross
        // the boundary"); with CU_EVENT_WAIT_EXTERNAL it would be an external wait node, which is not modelled.
        if (flags & CU_EVENT_WAIT_EXTERNAL) {
            return fail(CUDA_ERROR_NOT_SUPPORTED, "cuStreamWaitEvent(CU_EVENT_WAIT_EXTERNAL) in a capture is not "
                        "modelled by the fake");
        }
        s->invalidated = true;
        return fail(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, "cuStreamWaitEvent: capturing stream %p waits on event %p, "
                    "recorded outside the capture", (void*)s, (void*)e);
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
    // Its size, from the header: u32 magic, u16 version, u16 header size, u64 size of what follows the header.
    unsigned short headerSize;
    unsigned long long fatSize;
    std::memcpy(&headerSize, (const char*)image + 6, 2);
    std::memcpy(&fatSize, (const char*)image + 8, 8);
    if (headerSize < 16 || fatSize > (1ull << 32)) {
        return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: fatbin header size %u, body %llu bytes", headerSize,
                    fatSize);
    }
    Module* m = new Module();
    m->image.assign((const char*)image, headerSize + fatSize);
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
    // The kernel's symbol must be in this module's image (its ELF string tables hold "\0name\0" or ".text.name\0";
    // the images are not compressed), and the emulation library must have it.
    std::string symbol = std::string(name) + '\0';
    bool named = false;
    for (size_t at = m->image.find(symbol); at != std::string::npos && !named; at = m->image.find(symbol, at + 1)) {
        named = at > 0 && (m->image[at - 1] == '\0' || m->image[at - 1] == '.');
    }
    if (!named || !emu.hasKernel(name)) return CUDA_ERROR_NOT_FOUND;
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
// A capture adds one node per operation to the graph it captures into, each depending on the capture's leaves (one
// stream: the node before, or the dependencies the capture began with). An executable graph runs its nodes in an
// order their dependencies allow, preferring the LATEST made among the ready ones: a chain runs as captured, but a
// missing edge (a node that should have waited for earlier work) runs too early and shows.

}  // extern "C"

namespace {

CUresult beginCapture(CUstream h, Graph* g, bool owns, std::vector<Node*> deps, std::vector<CUgraphEdgeData> edges,
                      CUstreamCaptureMode mode, const char* what) {
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s == &legacy) return fail(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "%s on the legacy stream", what);
    if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
        mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: mode %d", what, (int)mode);
    }
    if (s->capturing) return fail(CUDA_ERROR_ILLEGAL_STATE, "%s: the stream already captures", what);
    touch(s);
    s->capturing = true;
    s->invalidated = false;
    s->mode = mode;
    s->owner = std::this_thread::get_id();
    s->graph = g;
    s->ownsGraph = owns;
    s->captureId = ++captureIds;
    s->leaves = std::move(deps);
    s->leafEdges = std::move(edges);
    return CUDA_SUCCESS;
}

// The nodes of g in an order their dependencies allow, the latest made first among those ready.
std::vector<Node*> runOrder(const Graph* g) {
    std::vector<size_t> waiting(g->nodes.size());
    std::vector<std::vector<size_t>> dependents(g->nodes.size());
    for (const auto& n : g->nodes) {
        waiting[n->index] = n->deps.size();
        for (Node* d : n->deps) dependents[d->index].push_back(n->index);
    }
    std::priority_queue<size_t> ready;  // the largest index first
    for (size_t i = 0; i < waiting.size(); i++) {
        if (waiting[i] == 0) ready.push(i);
    }
    std::vector<Node*> order;
    while (!ready.empty()) {
        size_t i = ready.top();
        ready.pop();
        order.push_back(g->nodes[i].get());
        for (size_t j : dependents[i]) {
            if (--waiting[j] == 0) ready.push(j);
        }
    }
    return order;  // all nodes: dependencies always point at earlier nodes, so there is no cycle
}

void compile(const Graph* g, Exec* x) {
    for (Node* n : runOrder(g)) {
        Step step;
        step.op = n->op;
        step.cond = n->cond;
        for (Graph* b : n->bodies) {
            step.bodies.emplace_back();
            compile(b, &step.bodies.back());
        }
        x->steps.push_back(std::move(step));
    }
}

// Every conditional handle made for g or a graph inside it; whether one guards no node (*unused).
void collectConditionals(const Graph* g, std::vector<std::shared_ptr<Conditional>>* out, bool* hasNode,
                         const Conditional** unused) {
    for (const auto& c : g->conditionals) {
        out->push_back(c);
        if (!c->used && *unused == nullptr) *unused = c.get();
    }
    for (const auto& n : g->nodes) {
        if (n->cond) *hasNode = true;
        for (Graph* b : n->bodies) collectConditionals(b, out, hasNode, unused);
    }
}

CUresult run(const Exec& x) {
    for (const Step& step : x.steps) {
        if (!step.cond) {
            if (CUresult r = step.op()) return r;
            continue;
        }
        // An IF node: body 0 when the value is nonzero at this point of the launch, body 1 (an ELSE) when zero.
        long long value = emu.condGet(step.cond->handle);
        if (value < 0) return fail(CUDA_ERROR_INVALID_HANDLE, "conditional 0x%llx has no value", step.cond->handle);
        size_t body = value != 0 ? 0 : 1;
        if (body < step.bodies.size()) {
            if (CUresult r = run(step.bodies[body])) return r;
        }
    }
    return CUDA_SUCCESS;
}

}  // namespace

extern "C" {

CUresult cuStreamBeginCapture(CUstream h, CUstreamCaptureMode mode) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* graph = newGraph(nullptr);
    CUresult r = beginCapture(h, graph, true, {}, {}, mode, "cuStreamBeginCapture");
    if (r != CUDA_SUCCESS) destroyGraph(graph);
    return r;
}

CUresult cuStreamBeginCaptureToGraph(CUstream h, CUgraph hGraph, const CUgraphNode* dependencies,
                                     const CUgraphEdgeData* dependencyData, size_t numDependencies,
                                     CUstreamCaptureMode mode) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* graph = reinterpret_cast<Graph*>(hGraph);
    if (!graphs.count(graph)) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamBeginCaptureToGraph: unknown graph %p", (void*)hGraph);
    for (Stream* s : streams) {
        if (s->capturing && s->graph == graph) {
            return fail(CUDA_ERROR_NOT_SUPPORTED, "cuStreamBeginCaptureToGraph: stream %p already captures into graph "
                        "%p (captures of several streams into one graph are not modelled by the fake)", (void*)s,
                        (void*)graph);
        }
    }
    std::vector<Node*> deps;
    std::vector<CUgraphEdgeData> edges;
    if (CUresult r = dependencyList(graph, dependencies, dependencyData, numDependencies, "cuStreamBeginCaptureToGraph",
                                  &deps, &edges)) {
        return r;
    }
    return beginCapture(h, graph, false, std::move(deps), std::move(edges), mode, "cuStreamBeginCaptureToGraph");
}

CUresult cuStreamGetCaptureInfo(CUstream h, CUstreamCaptureStatus* captureStatus_out, cuuint64_t* id_out,
                                CUgraph* graph_out, const CUgraphNode** dependencies_out,
                                const CUgraphEdgeData** edgeData_out, size_t* numDependencies_out) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (captureStatus_out == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamGetCaptureInfo: captureStatus_out is NULL");
    if (edgeData_out != nullptr && dependencies_out == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamGetCaptureInfo: edgeData_out without dependencies_out");
    }
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s == &legacy) {
        for (Stream* o : streams) {
            if (o->capturing && !(o->flags & CU_STREAM_NON_BLOCKING)) {
                return fail(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "cuStreamGetCaptureInfo on the legacy stream while "
                            "blocking stream %p captures", (void*)o);
            }
        }
    }
    touch(s);
    if (!s->capturing || s->invalidated) {
        *captureStatus_out = s->capturing ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_NONE;
        return CUDA_SUCCESS;  // nothing else is valid
    }
    *captureStatus_out = CU_STREAM_CAPTURE_STATUS_ACTIVE;
    if (id_out != nullptr) *id_out = s->captureId;
    if (graph_out != nullptr) *graph_out = reinterpret_cast<CUgraph>(s->graph);
    s->infoDeps.assign(s->leaves.size(), nullptr);
    for (size_t i = 0; i < s->leaves.size(); i++) s->infoDeps[i] = reinterpret_cast<CUgraphNode>(s->leaves[i]);
    s->infoEdges = s->leafEdges;
    if (dependencies_out != nullptr) {
        if (edgeData_out == nullptr) {
            for (const CUgraphEdgeData& e : s->leafEdges) {
                CUgraphEdgeData zero{};
                if (std::memcmp(&e, &zero, sizeof e) != 0) {
                    return fail(CUDA_ERROR_LOSSY_QUERY, "cuStreamGetCaptureInfo: edge data without edgeData_out");
                }
            }
        }
        *dependencies_out = s->infoDeps.data();
        if (edgeData_out != nullptr) *edgeData_out = s->infoEdges.data();
    }
    if (numDependencies_out != nullptr) *numDependencies_out = s->infoDeps.size();
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
    touch(s);
    s->capturing = false;
    Graph* graph = s->graph;
    s->graph = nullptr;
    s->leaves.clear();
    s->leafEdges.clear();
    if (s->invalidated) {
        if (s->ownsGraph) destroyGraph(graph);  // a graph of the caller's (captured into) stays theirs
        *phGraph = nullptr;
        return fail(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuStreamEndCapture: the capture was invalidated");
    }
    *phGraph = reinterpret_cast<CUgraph>(graph);
    return CUDA_SUCCESS;
}

CUresult cuGraphCreate(CUgraph* phGraph, unsigned int flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (phGraph == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphCreate: NULL");
    if (flags != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphCreate: flags must be 0, not %u", flags);
    *phGraph = reinterpret_cast<CUgraph>(newGraph(nullptr));
    return CUDA_SUCCESS;
}

CUresult cuGraphConditionalHandleCreate(CUgraphConditionalHandle* pHandle_out, CUgraph hGraph, CUcontext ctx,
                                        unsigned int defaultLaunchValue, unsigned int flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (pHandle_out == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphConditionalHandleCreate: NULL");
    Graph* graph = reinterpret_cast<Graph*>(hGraph);
    if (!graphs.count(graph)) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphConditionalHandleCreate: unknown graph %p", (void*)hGraph);
    }
    if (ctx != reinterpret_cast<CUcontext>(&primary) || primary.refs == 0) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuGraphConditionalHandleCreate: %p is not a live context", (void*)ctx);
    }
    if (flags != 0 && flags != CU_GRAPH_COND_ASSIGN_DEFAULT) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphConditionalHandleCreate: flags %u (0 or CU_GRAPH_COND_ASSIGN_DEFAULT)",
                    flags);
    }
    auto c = std::make_shared<Conditional>();
    c->handle = emu.condCreate(defaultLaunchValue);
    c->defaultValue = defaultLaunchValue;
    c->flags = flags;
    c->graph = graph;
    graph->conditionals.push_back(c);
    conditionals[c->handle] = c.get();
    *pHandle_out = c->handle;
    return CUDA_SUCCESS;
}

CUresult cuGraphAddNode(CUgraphNode* phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
                        const CUgraphEdgeData* dependencyData, size_t numDependencies, CUgraphNodeParams* nodeParams) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    if (phGraphNode == nullptr || nodeParams == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: NULL");
    Graph* graph = reinterpret_cast<Graph*>(hGraph);
    if (!graphs.count(graph)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: unknown graph %p", (void*)hGraph);
    if (nodeParams->type != CU_GRAPH_NODE_TYPE_CONDITIONAL) {
        return fail((unsigned)nodeParams->type <= CU_GRAPH_NODE_TYPE_CONDITIONAL ? CUDA_ERROR_NOT_SUPPORTED
                                                                                 : CUDA_ERROR_INVALID_VALUE,
                    "cuGraphAddNode: node type %d (the fake models conditional nodes only)", (int)nodeParams->type);
    }
    // Unused bytes must be zero: reserved0, the union past the conditional member, reserved2.
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(nodeParams);
    size_t unionAt = offsetof(CUgraphNodeParams, conditional), used = sizeof(CUDA_CONDITIONAL_NODE_PARAMS);
    for (size_t i = offsetof(CUgraphNodeParams, reserved0); i < sizeof(CUgraphNodeParams); i++) {
        bool member = i >= unionAt && i < unionAt + used;
        if (!member && bytes[i] != 0) {
            return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: byte %zu of the params is not zero (reserved or "
                        "past the conditional member)", i);
        }
    }
    CUDA_CONDITIONAL_NODE_PARAMS& p = nodeParams->conditional;
    auto found = conditionals.find(p.handle);
    if (found == conditionals.end()) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: unknown conditional handle 0x%llx", p.handle);
    }
    Conditional* c = found->second;
    bool mine = false;  // made for this graph or one it is inside (a conditional body)
    for (Graph* at = graph; at != nullptr && !mine; at = at->parent ? at->parent->graph : nullptr) mine = at == c->graph;
    if (!mine) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: conditional handle 0x%llx belongs to graph %p, not to "
                    "graph %p or a graph it is inside", p.handle, (void*)c->graph, (void*)graph);
    }
    if (c->used) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: conditional handle 0x%llx already has its node", p.handle);
    // ctx "must match context used to create the handle" (the primary context here); NULL is taken as the current
    // one, as the runtime API's zeroed params leave it.
    if (p.ctx != nullptr && p.ctx != reinterpret_cast<CUcontext>(&primary)) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuGraphAddNode: ctx %p is not the handle's context", (void*)p.ctx);
    }
    if (p.type == CU_GRAPH_COND_TYPE_WHILE || p.type == CU_GRAPH_COND_TYPE_SWITCH) {
        return fail(CUDA_ERROR_NOT_SUPPORTED, "cuGraphAddNode: conditional type %d is not modelled by the fake (IF only)",
                    (int)p.type);
    }
    if (p.type != CU_GRAPH_COND_TYPE_IF || p.size < 1 || p.size > 2) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: conditional type %d, size %u (IF: size 1 or 2)",
                    (int)p.type, p.size);
    }
    std::vector<Node*> deps;
    std::vector<CUgraphEdgeData> edges;
    if (CUresult r = dependencyList(graph, dependencies, dependencyData, numDependencies, "cuGraphAddNode", &deps, &edges)) {
        return r;
    }
    for (const CUgraphEdgeData& e : edges) {  // programmatic edges lead to kernel nodes only (CUgraphEdgeData docs)
        if (e.type != CU_GRAPH_DEPENDENCY_TYPE_DEFAULT || e.from_port != CU_GRAPH_KERNEL_NODE_PORT_DEFAULT) {
            return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphAddNode: a programmatic edge into a conditional node (only "
                        "kernel nodes take them)");
        }
    }
    Node* n = newNode(graph, std::move(deps));
    for (auto& owned : c->graph->conditionals) {  // the handle's shared pointer, held by the graph that made it
        if (owned.get() == c) n->cond = owned;
    }
    c->used = true;
    for (unsigned i = 0; i < p.size; i++) {
        n->bodies.push_back(newGraph(n));
        n->bodyHandles.push_back(reinterpret_cast<CUgraph>(n->bodies.back()));
    }
    p.phGraph_out = n->bodyHandles.data();  // CUDA-owned, valid while the node lives
    *phGraphNode = reinterpret_cast<CUgraphNode>(n);
    return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec* phExec, CUgraph hg, unsigned long long flags) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* graph = reinterpret_cast<Graph*>(hg);
    if (phExec == nullptr || !graphs.count(graph)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate: NULL or unknown graph");
    if (flags != 0) return fail(CUDA_ERROR_NOT_SUPPORTED, "cuGraphInstantiate: flags %llu are not modelled", flags);
    if (graph->parent != nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate: graph %p is the body of a conditional node", (void*)hg);
    }
    if (Stream* s = capturedBy(graph)) {  // "not instantiable until cuStreamEndCapture"; the code is the fake's choice
        return fail(CUDA_ERROR_ILLEGAL_STATE, "cuGraphInstantiate: stream %p still captures into graph %p (end the "
                    "capture first)", (void*)s, (void*)hg);
    }
    auto* x = new Exec();
    bool hasConditionalNode = false;
    const Conditional* unused = nullptr;
    collectConditionals(graph, &x->conditionals, &hasConditionalNode, &unused);
    CUresult r = CUDA_SUCCESS;
    // cuda.h: an unused handle "may cause graph instantiation to fail", and a graph with conditional nodes may have
    // "only one instantiation ... at any point in time"; neither names a code (INVALID_VALUE is the fake's choice).
    if (unused != nullptr) {
        r = fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate: conditional handle 0x%llx guards no node", unused->handle);
    } else if (hasConditionalNode && graph->executables > 0) {
        r = fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate: a graph with conditional nodes may have one "
                 "instantiation at a time");
    }
    if (r != CUDA_SUCCESS) {
        delete x;
        return r;
    }
    compile(graph, x);  // independent of the graph from now on
    x->source = graph;
    graph->executables++;
    execs.insert(x);
    *phExec = reinterpret_cast<CUgraphExec>(x);
    return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec he, CUstream h) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Exec* x = reinterpret_cast<Exec*>(he);
    if (!execs.count(x)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphLaunch: unknown executable graph %p", (void*)he);
    Stream* s;
    if (CUresult r = stream(h, &s)) return r;
    if (s->capturing) return fail(CUDA_ERROR_NOT_SUPPORTED, "cuGraphLaunch into a capture is not modelled by the fake");
    return enqueueOn(h, [x] {
        // CU_GRAPH_COND_ASSIGN_DEFAULT: every launch starts from the defaults.
        for (const auto& c : x->conditionals) {
            if ((c->flags & CU_GRAPH_COND_ASSIGN_DEFAULT) && emu.condSet(c->handle, c->defaultValue) != 0) {
                return fail(CUDA_ERROR_INVALID_HANDLE, "conditional 0x%llx has no value", c->handle);
            }
        }
        return run(*x);
    });
}

CUresult cuGraphExecDestroy(CUgraphExec he) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Exec* x = reinterpret_cast<Exec*>(he);
    if (!execs.erase(x)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphExecDestroy: unknown %p", (void*)he);
    if (x->source != nullptr) x->source->executables--;
    delete x;
    return CUDA_SUCCESS;
}

CUresult cuGraphDestroy(CUgraph hg) {
    Guard g(lock);
    if (CUresult r = ready()) return r;
    Graph* graph = reinterpret_cast<Graph*>(hg);
    if (!graphs.count(graph)) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphDestroy: unknown %p", (void*)hg);
    if (graph->parent != nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphDestroy: graph %p is a conditional node's body (CUDA owns it)",
                    (void*)hg);
    }
    if (Stream* s = capturedBy(graph)) {
        // cuStreamGetCaptureInfo: "all operations other than destroy and node removal are permitted" during capture.
        return fail(CUDA_ERROR_ILLEGAL_STATE, "cuGraphDestroy: stream %p captures into graph %p", (void*)s, (void*)hg);
    }
    destroyGraph(graph);
    return CUDA_SUCCESS;
}

}  // extern "C"
