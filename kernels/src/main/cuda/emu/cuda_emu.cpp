// cuda_emu.cpp: the host side of the emulation header: the kernel registry, the fiber scheduler that runs one block
// at a time, the barriers and warp exchange, and the C entry points the Java emulated device calls through FFM.
// Limits: see the top of cuda_emu.h.
#include "cuda_emu.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <ucontext.h>
#include <vector>

thread_local EmuThread* emu_current_thread = nullptr;
thread_local dim3 emu_block_idx, emu_block_dim, emu_grid_dim;
thread_local unsigned char* emu_dynamic_shared = nullptr;

namespace {

constexpr int kMaxThreads = 1024;
constexpr size_t kStackBytes = 64 * 1024;
constexpr size_t kMaxDynamicShared = 228 * 1024;

EmuKernelEntry* registry = nullptr;

struct Fiber {
    EmuThread thread;
    ucontext_t context;
    std::vector<unsigned char> stack;
    bool alive = false;
    bool waiting = false;  // inside a barrier, waiting for the others
};

// One barrier: how many live threads have arrived, and a generation bumped on every release.
struct Barrier {
    int arrived = 0;
    unsigned generation = 0;
};

// Everything about the launch in progress on this OS thread.
struct Launch {
    EmuTrampoline kernel = nullptr;
    void** args = nullptr;
    int threads = 0;
    int live = 0;
    Barrier block;
    std::vector<Barrier> warps;
    std::vector<int> warpLive;
    std::vector<uint64_t> slots;       // [warps * 32] values published by each lane
    std::vector<unsigned char> laneLive;  // [threads]
    bool progress = false;
    bool deadlock = false;
    bool failed = false;  // a thread called emu_fail
    std::string failure;
};

thread_local std::vector<Fiber>* fibers = nullptr;
thread_local ucontext_t scheduler;
thread_local Launch* launch = nullptr;
thread_local int currentFiber = -1;
thread_local std::string lastError;
thread_local std::vector<unsigned char>* dynamicShared = nullptr;

void yieldToScheduler() {
    Fiber& f = (*fibers)[currentFiber];
    swapcontext(&f.context, &scheduler);
}

// Waits until `participants` threads have arrived at barrier b (the last one releases everybody).
void barrierWait(Barrier& b, int participants) {
    unsigned gen = b.generation;
    if (++b.arrived >= participants) {
        b.arrived = 0;
        b.generation++;
        launch->progress = true;
        return;
    }
    Fiber& f = (*fibers)[currentFiber];
    f.waiting = true;
    while (b.generation == gen && !launch->deadlock) yieldToScheduler();
    f.waiting = false;
}

void fiberMain() {
    launch->kernel(launch->args);
    // The thread returned: it leaves every later barrier; release those the others are already waiting at.
    Fiber& f = (*fibers)[currentFiber];
    f.alive = false;
    int linear = f.thread.linear, w = linear / 32;
    launch->laneLive[linear] = 0;
    launch->live--;
    launch->warpLive[w]--;
    launch->progress = true;
    if (launch->block.arrived > 0 && launch->block.arrived >= launch->live) {
        launch->block.arrived = 0;
        launch->block.generation++;
    }
    Barrier& wb = launch->warps[w];
    if (wb.arrived > 0 && wb.arrived >= launch->warpLive[w]) {
        wb.arrived = 0;
        wb.generation++;
    }
}

// Runs the current block's fibers round-robin until all have returned; false on a deadlock.
bool runBlock(int threads) {
    for (;;) {
        bool anyAlive = false, allWaiting = true;
        launch->progress = false;
        for (int i = 0; i < threads; i++) {
            Fiber& f = (*fibers)[i];
            if (!f.alive) continue;
            anyAlive = true;
            currentFiber = i;
            emu_current_thread = &f.thread;
            swapcontext(&scheduler, &f.context);
            if (launch->failed) {  // abandon every fiber mid-kernel (their stacks are reset on the next launch)
                for (int k = 0; k < threads; k++) (*fibers)[k].alive = false;
                return false;
            }
            if (f.alive && !f.waiting) allWaiting = false;
        }
        if (!anyAlive) return true;
        if (allWaiting && !launch->progress) {
            // Every live thread is parked at a barrier that can never fill: a kernel bug (divergent barrier).
            launch->deadlock = true;
            for (int i = 0; i < threads; i++) {  // let the fibers fall out of their wait loops and finish
                Fiber& f = (*fibers)[i];
                f.alive = false;
            }
            return false;
        }
    }
}

}  // namespace

void emu_register(EmuKernelEntry* entry) {
    entry->next = registry;
    registry = entry;
}

void emu_fail(const char* what) {
    if (!launch->failed) {
        const EmuThread& t = *emu_current_thread;
        launch->failure = std::string(what) + " (block (" + std::to_string(emu_block_idx.x) + "," +
                          std::to_string(emu_block_idx.y) + "," + std::to_string(emu_block_idx.z) + "), thread (" +
                          std::to_string(t.index.x) + "," + std::to_string(t.index.y) + "," +
                          std::to_string(t.index.z) + "))";
    }
    launch->failed = true;
    yieldToScheduler();  // the scheduler never resumes this fiber
    std::abort();
}

void emu_syncthreads() { barrierWait(launch->block, launch->live); }

void emu_warp_exchange(uint64_t value, uint64_t* out) {
    int linear = emu_current_thread->linear, w = linear / 32;
    launch->slots[w * 32 + (linear & 31)] = value;
    barrierWait(launch->warps[w], launch->warpLive[w]);
    for (int l = 0; l < 32; l++) {
        int t = w * 32 + l;
        out[l] = (t < launch->threads && launch->laneLive[t]) ? launch->slots[w * 32 + l] : 0;
    }
    barrierWait(launch->warps[w], launch->warpLive[w]);  // nobody overwrites a slot before all have read it
}

unsigned emu_ballot(int predicate) {
    uint64_t all[32];
    emu_warp_exchange(predicate ? 1 : 0, all);
    unsigned mask = 0;
    for (int l = 0; l < 32; l++)
        if (all[l]) mask |= 1u << l;
    return mask;
}

extern "C" {

// Returns 0 on success; otherwise a non-zero code and the reason in emu_last_error().
int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned sharedBytes, void** args) {
    EmuKernelEntry* e = registry;
    while (e != nullptr && std::string(e->name) != name) e = e->next;
    if (e == nullptr) {
        lastError = std::string("no kernel named ") + name + " in the emulation library";
        return 1;
    }
    long threads = (long)bx * by * bz;
    if (threads < 1 || threads > kMaxThreads || gx < 1 || gy < 1 || gz < 1) {
        lastError = "invalid launch configuration for " + std::string(name) + ": block " + std::to_string(bx) + "x" +
                    std::to_string(by) + "x" + std::to_string(bz) + " (1..1024 threads), grid " + std::to_string(gx) +
                    "x" + std::to_string(gy) + "x" + std::to_string(gz);
        return 2;
    }
    if (sharedBytes > kMaxDynamicShared) {
        lastError = "dynamic shared memory " + std::to_string(sharedBytes) + " bytes exceeds " +
                    std::to_string(kMaxDynamicShared) + " for " + std::string(name);
        return 2;
    }
    if (fibers == nullptr) fibers = new std::vector<Fiber>(kMaxThreads);
    if (dynamicShared == nullptr) dynamicShared = new std::vector<unsigned char>(kMaxDynamicShared);
    Launch l;
    l.kernel = e->call;
    l.args = args;
    l.threads = (int)threads;
    int nw = (int)((threads + 31) / 32);
    l.warps.assign(nw, Barrier{});
    l.slots.assign((size_t)nw * 32, 0);
    launch = &l;
    emu_block_dim = dim3{bx, by, bz};
    emu_grid_dim = dim3{gx, gy, gz};
    emu_dynamic_shared = dynamicShared->data();
    int rc = 0;
    for (unsigned z = 0; z < gz && rc == 0; z++)
        for (unsigned y = 0; y < gy && rc == 0; y++)
            for (unsigned x = 0; x < gx && rc == 0; x++) {
                emu_block_idx = dim3{x, y, z};
                l.live = l.threads;
                l.block = Barrier{};
                l.warpLive.assign(nw, 0);
                l.laneLive.assign(l.threads, 1);
                for (int t = 0; t < l.threads; t++) {
                    Fiber& f = (*fibers)[t];
                    if (f.stack.empty()) f.stack.resize(kStackBytes);
                    f.thread.linear = t;
                    f.thread.index = dim3{(unsigned)(t % bx), (unsigned)((t / bx) % by), (unsigned)(t / (bx * by))};
                    f.alive = true;
                    f.waiting = false;
                    l.warpLive[t / 32]++;
                    getcontext(&f.context);
                    f.context.uc_stack.ss_sp = f.stack.data();
                    f.context.uc_stack.ss_size = f.stack.size();
                    f.context.uc_link = &scheduler;
                    makecontext(&f.context, fiberMain, 0);
                }
                if (!runBlock(l.threads) && l.failed) {
                    lastError = "kernel error in " + std::string(name) + ": " + l.failure;
                    rc = 4;
                } else if (l.deadlock) {
                    lastError = std::string("deadlock in ") + name + ": every live thread of block (" +
                                std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) +
                                ") waits at a barrier the others never reach";
                    rc = 3;
                }
            }
    launch = nullptr;
    emu_current_thread = nullptr;
    return rc;
}

const char* emu_last_error() { return lastError.c_str(); }

// Whether a kernel of this name exists (the Java side resolves "functions" of the module through it).
int emu_has_kernel(const char* name) {
    for (EmuKernelEntry* e = registry; e != nullptr; e = e->next)
        if (std::string(e->name) == name) return 1;
    return 0;
}

// The plain reference GEMM behind the emulated cuBLAS: column-major, cublasGemmStridedBatchedEx semantics with
// fp32 accumulation. Types: 0 = fp32, 1 = bf16. C = alpha * op(A) op(B) + beta * C, per batch.
static float load(const void* p, int type, long i) {
    return type == 0 ? static_cast<const float*>(p)[i] : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}
int emu_gemm(int transA, int transB, int m, int n, int k, float alpha, const void* A, int aType, int lda,
             long strideA, const void* B, int bType, int ldb, long strideB, float beta, void* C, int cType, int ldc,
             long strideC, int batch) {
    if (m < 0 || n < 0 || k < 0 || batch < 0 || aType < 0 || aType > 1 || bType < 0 || bType > 1 || cType < 0 ||
        cType > 1) {
        lastError = "invalid GEMM arguments";
        return 7;  // CUBLAS_STATUS_INVALID_VALUE
    }
    for (int p = 0; p < batch; p++) {
        const long ao = p * strideA, bo = p * strideB, co = p * strideC;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                float acc = 0.0f;
                for (int l = 0; l < k; l++) {
                    float a = load(A, aType, ao + (transA ? (long)i * lda + l : (long)l * lda + i));
                    float b = load(B, bType, bo + (transB ? (long)l * ldb + j : (long)j * ldb + l));
                    acc += a * b;
                }
                long ci = co + (long)j * ldc + i;
                float c = alpha * acc + (beta != 0.0f ? beta * load(C, cType, ci) : 0.0f);
                if (cType == 0)
                    static_cast<float*>(C)[ci] = c;
                else
                    static_cast<__nv_bfloat16*>(C)[ci] = __float2bfloat16(c);
            }
    }
    return 0;
}

}  // extern "C"

// ---- Graph conditional values (cudaGraphSetConditional, graph_control.cu) -----------------------------------------
// One table for the whole library (every emulated device in the process): handle -> value. Handles come from a
// counter, so two devices never share one. A mutex, because kernels of different devices may run on different
// threads.
#include <map>
#include <mutex>

namespace {
std::mutex conditionalLock;
std::map<unsigned long long, unsigned int> conditionalValues;
unsigned long long nextConditional = 1;
}  // namespace

void cudaGraphSetConditional(cudaGraphConditionalHandle handle, unsigned int value) {
    bool known;
    {
        std::lock_guard<std::mutex> guard(conditionalLock);
        auto it = conditionalValues.find(handle);
        known = it != conditionalValues.end();
        if (known) it->second = value;
    }
    // emu_fail never returns (it leaves the fiber): call it with the lock released.
    if (!known) emu_fail("cudaGraphSetConditional: unknown conditional handle");
}

extern "C" {

// A new handle whose value is `value`.
unsigned long long emu_conditional_create(unsigned int value) {
    std::lock_guard<std::mutex> guard(conditionalLock);
    conditionalValues[nextConditional] = value;
    return nextConditional++;
}

// Sets the value (the Java side re-applies defaults at each launch); 0 on success, 1 for an unknown handle.
int emu_conditional_set(unsigned long long handle, unsigned int value) {
    std::lock_guard<std::mutex> guard(conditionalLock);
    auto it = conditionalValues.find(handle);
    if (it == conditionalValues.end()) return 1;
    it->second = value;
    return 0;
}

// The value, or -1 for an unknown handle.
long long emu_conditional_get(unsigned long long handle) {
    std::lock_guard<std::mutex> guard(conditionalLock);
    auto it = conditionalValues.find(handle);
    return it == conditionalValues.end() ? -1 : (long long)it->second;
}

void emu_conditional_destroy(unsigned long long handle) {
    std::lock_guard<std::mutex> guard(conditionalLock);
    conditionalValues.erase(handle);
}

}  // extern "C"
