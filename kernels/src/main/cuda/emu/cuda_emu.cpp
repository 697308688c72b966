// cuda_emu.cpp: the host side of the emulation header: the kernel registry, the fiber scheduler that runs one block
// at a time, the barriers and warp exchange, and the C entry points the Java emulated device calls through FFM.
// Limits: see the top of cuda_emu.h.
#include "cuda_emu.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// AddressSanitizer builds (build-kernels.sh, into target/emu-asan/; g++ -fsanitize=address defines
// __SANITIZE_ADDRESS__): every load and store of a kernel is checked against the shadow memory, so a kernel that
// reads or writes past a device buffer (whose red zones EmulatedMemory poisons through emu_asan_poison) stops with
// ASan's report, naming the kernel and the source line. The fibers tell ASan which stack they run on
// (start/finish_switch_fiber), and a stack handed to a new fiber is unpoisoned first (frames abandoned on it, by a
// thread that never returns to them, leave their poison behind).
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

// Fiber switching. glibc's swapcontext/getcontext save and restore the signal mask with a system call each, which
// made the switch (every barrier, every warp shuffle, every thread start) cost more than most kernels' work. On
// x86-64 we switch with a few instructions of our own instead (emu_switch below): the psABI's callee-saved state is
// all a cooperative switch between two C++ calls has to keep. (It does not switch CET shadow stacks: glibc enables
// those only on request, for programs built for them, which the JVM is not.) Elsewhere (or with -DEMU_PORTABLE_FIBERS, which
// checks that path on x86-64) the fibers stay on ucontext.
#if defined(__x86_64__) && !defined(EMU_PORTABLE_FIBERS)
#define EMU_FAST_FIBERS 1
#else
#include <ucontext.h>
#endif

thread_local EmuState emu_state{};

#if EMU_FAST_FIBERS
// emu_switch(save, load): pushes the callee-saved registers (rbp, rbx, r12-r15) and the control words (x87 CW,
// MXCSR: callee-saved too) on the current stack, stores the stack pointer in *save, switches to the stack `load`
// (one saved by emu_switch, or a fresh frame from startFrame) and pops the same state from it. The signal mask is
// not touched: fibers never change it. Frame at the saved sp, 8-byte words: [0] x87 CW, [1] MXCSR, [2] r15,
// [3] r14, [4] r13, [5] r12, [6] rbx, [7] rbp, [8] return address.
//
// emu_fiber_entry: where a fresh fiber's first switch "returns" to, with rsp 16-byte aligned (see startFrame) and
// the fiber's body in r12: calls it (the call makes the body's frame as aligned as the ABI wants) and never
// returns, since a body ends by switching away for good.
extern "C" void emu_switch(void** save, void* load);
extern "C" void emu_fiber_entry();
asm(R"(
    .text
    .p2align 4
    .hidden emu_switch
    .globl emu_switch
    .type emu_switch, @function
emu_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $16, %rsp
    fnstcw (%rsp)
    stmxcsr 8(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    fldcw (%rsp)
    ldmxcsr 8(%rsp)
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size emu_switch, .-emu_switch

    .p2align 4
    .hidden emu_fiber_entry
    .globl emu_fiber_entry
    .type emu_fiber_entry, @function
emu_fiber_entry:
    .cfi_startproc
    .cfi_undefined rip
    call *%r12
    ud2
    .cfi_endproc
    .size emu_fiber_entry, .-emu_fiber_entry
)");
#endif

namespace {

constexpr int kMaxThreads = 1024;
constexpr size_t kStackBytes = 64 * 1024;
// The hardware limits a launch is checked against (CUDA's, for every GPU we target: sm_80 .. sm_90).
constexpr unsigned kMaxBlockX = 1024, kMaxBlockY = 1024, kMaxBlockZ = 64;
constexpr unsigned long kMaxGridX = 2147483647ul;  // 2^31 - 1
constexpr unsigned kMaxGridYZ = 65535;
// Dynamic shared memory beyond 48 KiB needs the kernel's opt-in (cuFuncSetAttribute with
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), which CudaDriver never makes: without it the launch fails.
constexpr size_t kMaxDynamicShared = 48 * 1024;

// ---- The schedule: in which order the threads of a block and the blocks of a grid run -------------------------
// Process-wide (every OS thread's launches), read once at the start of each launch; the modes are described at the
// top of cuda_emu.h ("Schedule modes"), the block order in BlockOrder, the threads' in runBlock. Shuffle draws from
// the seed, the kernel's name and the block index only, so a launch's order does not depend on what ran before it:
// a failure reproduces with the same seed.
enum ScheduleMode { kForward = 0, kReverse = 1, kShuffle = 2 };
std::atomic<int> scheduleMode{kForward};
std::atomic<unsigned long long> scheduleSeed{0};
std::string scheduleEnvError;  // set at load when TRM_EMU_SCHEDULE is not understood: every launch then fails

// TRM_EMU_SCHEDULE = forward | reverse | shuffle:SEED (SEED a decimal unsigned 64-bit integer), read once, when the
// library is loaded (before any launch). Unset or empty: forward.
bool readScheduleEnv() {
    const char* v = std::getenv("TRM_EMU_SCHEDULE");
    if (v == nullptr || *v == 0 || std::strcmp(v, "forward") == 0) return true;
    if (std::strcmp(v, "reverse") == 0) {
        scheduleMode = kReverse;
        return true;
    }
    if (std::strncmp(v, "shuffle:", 8) == 0 && v[8] >= '0' && v[8] <= '9') {
        char* end = nullptr;
        unsigned long long seed = std::strtoull(v + 8, &end, 10);
        if (*end == 0) {
            scheduleMode = kShuffle;
            scheduleSeed = seed;
            return true;
        }
    }
    scheduleEnvError = std::string("TRM_EMU_SCHEDULE=") + v + " is not forward, reverse or shuffle:SEED";
    return false;
}
const bool scheduleEnvRead = readScheduleEnv();

// splitmix64: the seed mixer and the generator of the shuffles (one 64-bit state, statistically fine for this).
inline unsigned long long splitmix(unsigned long long& state) {
    unsigned long long z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
// A uniform draw from [0, bound) (bound >= 1), by the multiply-shift reduction.
inline unsigned long long below(unsigned long long& state, unsigned long long bound) {
    return (unsigned long long)(((unsigned __int128)splitmix(state) * bound) >> 64);
}
// Fisher-Yates over order[0, n).
template <typename T>
void shuffle(T* order, long n, unsigned long long& state) {
    for (long i = n - 1; i > 0; i--) {
        long j = (long)below(state, (unsigned long long)i + 1);
        T t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
unsigned long long nameHash(const char* name) {  // FNV-1a
    unsigned long long h = 0xcbf29ce484222325ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
    return h;
}

EmuKernelEntry* registry = nullptr;

// A suspended execution: the scheduler's, or a fiber's.
#if EMU_FAST_FIBERS
struct Context {
    void* sp = nullptr;  // the frame emu_switch left (or startFrame built) on its stack
    const void* stackBottom = nullptr;  // EMU_ASAN: the stack this context runs on (the scheduler's: learnt)
    size_t stackSize = 0;
};
void switchStack(Context& save, Context& load) { emu_switch(&save.sp, load.sp); }

// The control words a fresh fiber starts with: the scheduler's, read once per launch.
thread_local uint64_t startCw, startMxcsr;
void captureControlWords() {
    uint16_t cw;
    uint32_t mxcsr;
    asm volatile("fnstcw %0" : "=m"(cw));
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    startCw = cw;
    startMxcsr = mxcsr;
}
// Prepares c so that switching to it runs body() on the given stack from the start: a frame as emu_switch leaves
// it, returning into emu_fiber_entry with rsp = top (16-byte aligned) and body in r12. Nine stores, no syscall.
void startFrame(Context& c, unsigned char* stack, size_t size, void (*body)()) {
#if EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(stack, size);
#endif
    c.stackBottom = stack;
    c.stackSize = size;
    uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + size - 64) & ~uintptr_t(15);  // 64 bytes of headroom
    uint64_t* frame = reinterpret_cast<uint64_t*>(top) - 9;
    frame[0] = startCw;
    frame[1] = startMxcsr;
    frame[2] = frame[3] = frame[4] = 0;                  // r15, r14, r13
    frame[5] = reinterpret_cast<uint64_t>(body);         // r12: what emu_fiber_entry calls
    frame[6] = frame[7] = 0;                             // rbx, rbp
    frame[8] = reinterpret_cast<uint64_t>(&emu_fiber_entry);
    c.sp = frame;
}
#else
struct Context {
    ucontext_t uc;
    const void* stackBottom = nullptr;  // as above
    size_t stackSize = 0;
};
void switchStack(Context& save, Context& load) { swapcontext(&save.uc, &load.uc); }
void captureControlWords() {}
void startFrame(Context& c, unsigned char* stack, size_t size, void (*body)()) {
#if EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(stack, size);
#endif
    c.stackBottom = stack;
    c.stackSize = size;
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;  // body never returns: it switches away for good
    makecontext(&c.uc, body, 0);
}
#endif

// One barrier: how many live threads have arrived, and a generation bumped on every release.
struct Barrier {
    int arrived = 0;
    unsigned generation = 0;
};

// One CUDA thread of the block. It runs on a stack of the pool from its start to its return; a thread that returns
// without ever waiting hands its stack straight to the next thread (see fiberMain), so a kernel without barriers
// runs all its threads on one stack, one after another, with no switch in between.
struct Fiber {
    EmuThread thread;
    Context context;  // while it waits at a barrier (or, at its start, the frame that starts it)
    unsigned char* stack = nullptr;
    bool alive = false;  // started and not yet returned
    const Barrier* waitOn = nullptr;  // inside a barrier: resumable once waitOn->generation != waitGeneration
    unsigned waitGeneration = 0;
};

// A warp's barrier and value exchange. Values go into slots[generation & 1], so one barrier per exchange suffices:
// a lane can write the same half again only after the next exchange's barrier, which every live lane reaches only
// after reading this one. published[half] has a bit per lane that wrote in this exchange (the lanes live at its
// release; one that returned earlier reads as 0).
struct Warp {
    Barrier barrier;
    int live = 0;
    uint32_t published[2] = {0, 0};
    uint64_t slots[2][32] = {};
};

// Everything about the launch in progress on this OS thread.
struct Launch {
    EmuTrampoline kernel = nullptr;
    void** args = nullptr;
    int threads = 0;
    int live = 0;
    Barrier block;
    std::vector<Warp> warps;
    bool deadlock = false;
    bool failed = false;  // a thread called emu_fail
    bool programmatic = false;           // launched as a programmatic dependent (PDL): every thread must call
    std::vector<unsigned char> pdlBegun; // trm_pdl_begin; per thread of the current block, whether it did
    std::string failure;
    int mode = kForward;           // the schedule, fixed for the launch
    unsigned long long rng = 0;    // shuffle: the current block's generator
    unsigned long long seed = 0;   // shuffle: the schedule's seed mixed with the kernel's name
    // reverse and shuffle run a block warp by warp (see runBlock): warp k of the run holds the positions
    // [segment[k], segment[k + 1]) of sched.order; a round visits them in the order of `visit`
    std::vector<int> segment, visit;
};

// The scheduler's state on this OS thread, in one thread_local object (one __tls_get_addr per function that reads
// it, see EmuState). Constant-initialised, so its accesses need no initialisation guard either.
struct Scheduler {
    std::vector<Fiber>* fibers;  // kMaxThreads, created on the first launch, kept
    std::vector<unsigned char*>* stacks;  // kStackBytes each, allocated as needed (at most one per thread), kept
    std::vector<unsigned char*>* freeStacks;  // of those, the ones no thread of the current block holds
    std::vector<unsigned char>* dynamicShared;
    Context context;  // the scheduler's own, while a fiber runs
    Launch* launch;
    Fiber* current;
    int* order;      // kMaxThreads: the block's threads (linear ids) in the order a pass runs them
    int nextStart;   // the threads at order[nextStart..] have not started yet
    int startLimit;  // a returning thread starts the next one itself only below this position (see pass)
};
thread_local Scheduler sched{};
thread_local std::string lastError;

// A fiber that has just been switched to records where it came from: always the scheduler, whose stack (the OS
// thread's) ASan must be told of when the fiber switches back.
inline void arrivedInFiber() {
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &sched.context.stackBottom, &sched.context.stackSize);
#endif
}

// Switches from the context `save` (the one running) to `load`, telling ASan of the stack change (EMU_ASAN). No
// fake stacks are kept across switches: build-kernels.sh compiles with --param asan-use-after-return=0 (with fake
// stacks on, a resumed fiber's frames pointed into a fake stack ASan had dropped, and the JVM crashed).
inline void switchTo(Context& save, Context& load) {
#if EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, load.stackBottom, load.stackSize);
#endif
    switchStack(save, load);
#if EMU_ASAN
    if (&save == &sched.context) {
        __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);  // back in the scheduler
    } else {
        arrivedInFiber();  // a fiber resumed after a barrier
    }
#endif
}

void yieldToScheduler() { switchTo(sched.current->context, sched.context); }

unsigned char* takeStack() {
    if (sched.freeStacks->empty()) {
        sched.stacks->push_back(new unsigned char[kStackBytes]);
        return sched.stacks->back();
    }
    unsigned char* s = sched.freeStacks->back();
    sched.freeStacks->pop_back();
    return s;
}

// Makes f the running thread, from its start, on the given stack.
void enter(Fiber& f, unsigned char* stack) {
    f.alive = true;
    f.stack = stack;
    f.context.stackBottom = stack;  // where it runs: a thread started by a returning one has no startFrame of its own
    f.context.stackSize = kStackBytes;
    sched.current = &f;
    emu_state.thread = &f.thread;
}

void release(Barrier& b) {
    b.arrived = 0;
    b.generation++;
}

// Waits until `participants` threads have arrived at barrier b (the last one releases everybody). The scheduler
// resumes a waiting fiber only after the release, so a wait costs one switch out and one back in. Under the forward
// schedule the releasing thread goes on at once (as it always has: it saves a switch); under the others it too waits
// for the next pass, so that every thread resumes in the schedule's order (in reverse, the releaser is thread 0,
// and a thread 0 that went first after every barrier would hide the commonest missing barrier of all: thread 0
// writes a value after a barrier, the others read it).
void barrierWait(Barrier& b, int participants) {
    if (++b.arrived >= participants) {
        release(b);
        if (sched.launch->mode != kForward) yieldToScheduler();  // runnable at once: waitOn stays null
        return;
    }
    Fiber* f = sched.current;
    f->waitOn = &b;
    f->waitGeneration = b.generation;
    yieldToScheduler();
    f->waitOn = nullptr;
}

// The body of every fiber: runs the kernel for the current thread; when that returns, starts the next thread that
// has not started yet on the same stack (in the scheduler's first pass, which starts the threads in the order of
// sched.order, this is exactly the thread it would have started next), until a thread waits at a barrier or none is
// left.
[[noreturn]] void fiberMain() {
    arrivedInFiber();  // a fresh fiber starts here, not after a switchTo
    Launch& l = *sched.launch;
    for (;;) {
        l.kernel(l.args);
        // The thread returned: it leaves every later barrier; release those the others are already waiting at.
        Fiber* f = sched.current;
        f->alive = false;
        Warp& w = l.warps[f->thread.linear / 32];
        l.live--;
        w.live--;
        if (l.block.arrived > 0 && l.block.arrived >= l.live) release(l.block);
        if (w.barrier.arrived > 0 && w.barrier.arrived >= w.live) release(w.barrier);
        unsigned char* stack = f->stack;
        f->stack = nullptr;
        if (sched.nextStart < sched.startLimit) {
            enter((*sched.fibers)[sched.order[sched.nextStart++]], stack);
            continue;
        }
        sched.freeStacks->push_back(stack);  // free once we have switched away: nothing runs on it meanwhile
        yieldToScheduler();  // never resumed
        std::abort();
    }
}

// One pass over the positions [from, to) of sched.order: starts the threads there that have not started yet (a
// thread that returns starts the next one on its own stack, up to position `to`) and resumes those that can run,
// each until its next barrier or its return. A fiber parked at a barrier that is not yet released is skipped
// (resuming it would only see the barrier closed and yield again). Returns whether any fiber ran; anyAlive |=
// whether any fiber of the range is alive. Stops at once when a thread fails (the caller checks l.failed).
// Positions are visited in increasing order and the first pass over a range starts all its threads, so the order of
// a range may change between passes once one has gone over it.
bool pass(int from, int to, bool& anyAlive) {
    std::vector<Fiber>& fs = *sched.fibers;
    Launch& l = *sched.launch;
    bool ran = false;
    sched.startLimit = to;
    for (int i = from; i < to; i++) {
        Fiber& f = fs[sched.order[i]];
        bool start = i >= sched.nextStart;
        if (start) {  // start the thread at position i on a free stack (it may run on to the threads after it)
            sched.nextStart = i + 1;
            enter(f, takeStack());
            startFrame(f.context, f.stack, kStackBytes, fiberMain);
        } else if (!f.alive || (f.waitOn != nullptr && f.waitOn->generation == f.waitGeneration)) {
            anyAlive |= f.alive;
            continue;
        } else {
            sched.current = &f;
            emu_state.thread = &f.thread;
        }
        anyAlive = ran = true;
        switchTo(sched.context, f.context);
        if (l.failed) return ran;  // abandon every fiber mid-kernel
        // The fiber may have run the threads after it to their return and left the last it started waiting: the
        // pass goes on after those.
        if (start) i = sched.nextStart - 1;
    }
    return ran;
}

// Runs the current block until all its threads have returned; false on a deadlock or a failure. A round in which no
// fiber can run means every live thread waits at a barrier the others never reach: a kernel bug (divergent barrier),
// reported.
//   forward: passes over the whole block in linear order, each thread until its next barrier (block or warp);
//   reverse, shuffle: warp by warp, in the order sched.order lays them out (reverse: descending; shuffle: random):
//     each warp runs, in passes over its lanes, until every lane waits at __syncthreads() or has returned, before
//     the next warp starts; then the next round, after the block barrier. So one warp's whole stretch between two
//     block barriers runs before or after another's, which is what shows a missing __syncthreads() between warps (a
//     thread-by-thread round-robin advances all warps in step, one warp barrier each per pass, and hides it); the
//     lanes' order in each pass shows a missing __syncwarp(). A round ends when the block barrier is released.
//     Shuffle draws the lanes' order afresh for each pass and the warps' for each round after the first.
bool runBlock(int threads) {
    Launch& l = *sched.launch;
    if (l.mode == kForward) {
        for (;;) {
            bool anyAlive = false;
            bool ran = pass(0, threads, anyAlive);
            if (l.failed) return false;
            if (!anyAlive) return true;
            if (!ran) {
                l.deadlock = true;  // abandoned, as on a failure
                return false;
            }
        }
    }
    const int warps = (int)l.visit.size();
    for (int round = 0;; round++) {
        if (l.mode == kShuffle && round > 0) shuffle(l.visit.data(), warps, l.rng);
        bool anyAlive = false, ran = false;
        const unsigned generation = l.block.generation;
        for (int k : l.visit) {
            const int from = l.segment[k], to = l.segment[k + 1];
            for (int p = 0;; p++) {
                if (l.mode == kShuffle && (round > 0 || p > 0)) shuffle(sched.order + from, to - from, l.rng);
                bool r = pass(from, to, anyAlive);
                if (l.failed) return false;
                ran |= r;
                if (!r || l.block.generation != generation) break;
            }
            // This warp completed the block barrier (or its last thread returned and released it): a new stretch
            // begins, in a new round, for every warp in the run's order (this one would otherwise run it first).
            if (l.block.generation != generation) {
                anyAlive = true;
                break;
            }
        }
        if (!anyAlive) return true;
        if (!ran) {
            l.deadlock = true;
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
    Launch& l = *sched.launch;
    if (!l.failed) {
        const EmuThread& t = *emu_state.thread;
        const dim3& b = emu_state.blockIndex;
        l.failure = std::string(what) + " (block (" + std::to_string(b.x) + "," + std::to_string(b.y) + "," +
                    std::to_string(b.z) + "), thread (" + std::to_string(t.index.x) + "," +
                    std::to_string(t.index.y) + "," + std::to_string(t.index.z) + "))";
    }
    l.failed = true;
    yieldToScheduler();  // the scheduler never resumes this fiber
    std::abort();
}

void emu_pdl_begin() { sched.launch->pdlBegun[emu_state.thread->linear] = 1; }

void emu_syncthreads() { barrierWait(sched.launch->block, sched.launch->live); }

int emu_warp_live_mask_size() { return sched.launch->warps[emu_state.thread->linear / 32].live; }

void emu_warp_exchange(uint64_t value, uint64_t* out) {
    int linear = emu_state.thread->linear, lane = linear & 31;
    Warp& w = sched.launch->warps[linear / 32];
    int half = w.barrier.generation & 1;
    if (w.barrier.arrived == 0) w.published[half] = 0;  // the first lane of this exchange: nobody reads it any more
    w.slots[half][lane] = value;
    w.published[half] |= 1u << lane;
    barrierWait(w.barrier, w.live);
    uint32_t published = w.published[half];
    for (int l = 0; l < 32; l++) out[l] = (published >> l) & 1u ? w.slots[half][l] : 0;
}

unsigned emu_ballot(int predicate) {
    uint64_t all[32];
    emu_warp_exchange(predicate ? 1 : 0, all);
    unsigned mask = 0;
    for (int l = 0; l < 32; l++)
        if (all[l]) mask |= 1u << l;
    return mask;
}

namespace {

// Why the GPU would refuse this launch (CUDA_ERROR_INVALID_VALUE), or "" when it would not.
std::string invalidLaunch(const EmuKernelEntry& e, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, unsigned sharedBytes) {
    auto dims = [](unsigned x, unsigned y, unsigned z) {
        return std::to_string(x) + "x" + std::to_string(y) + "x" + std::to_string(z);
    };
    long threads = (long)bx * by * bz;
    if (bx < 1 || by < 1 || bz < 1 || bx > kMaxBlockX || by > kMaxBlockY || bz > kMaxBlockZ || threads > kMaxThreads)
        return "block " + dims(bx, by, bz) + " (each of x, y at most 1024, z at most 64, at most 1024 threads)";
    if (threads > e.maxThreads)
        return "block " + dims(bx, by, bz) + " has " + std::to_string(threads) + " threads, over the kernel's " +
               "__launch_bounds__ of " + std::to_string(e.maxThreads);
    if (gx < 1 || gy < 1 || gz < 1 || gx > kMaxGridX || gy > kMaxGridYZ || gz > kMaxGridYZ)
        return "grid " + dims(gx, gy, gz) + " (x at most 2^31-1, y and z at most 65535, none 0)";
    if (sharedBytes > kMaxDynamicShared)
        return "dynamic shared memory " + std::to_string(sharedBytes) + " bytes exceeds " +
               std::to_string(kMaxDynamicShared) + " (the limit without the kernel's opt-in, which we never make)";
    return "";
}

// The order of a launch's blocks, as linear indices (x fastest): position p runs block at(p).
struct BlockOrder {
    static constexpr unsigned long long kTable = 1ull << 22;  // shuffle: a full permutation up to 4M blocks
    int mode;
    unsigned long long count;
    std::vector<uint32_t> table;             // shuffle, count <= kTable
    unsigned long long mul = 1, add = 0;     // shuffle, more blocks: (mul p + add) mod count, mul coprime to count

    BlockOrder(int mode, unsigned long long count, unsigned long long seed) : mode(mode), count(count) {
        if (mode != kShuffle) return;
        unsigned long long state = seed;
        if (count <= kTable) {
            table.resize(count);
            for (unsigned long long i = 0; i < count; i++) table[i] = (uint32_t)i;
            shuffle(table.data(), (long)count, state);
            return;
        }
        // Too many blocks to list: a random affine bijection of [0, count) instead (much less random, but grids
        // this size do not run on the emulator in any test).
        auto gcd = [](unsigned long long a, unsigned long long b) {
            while (b != 0) {
                unsigned long long t = a % b;
                a = b;
                b = t;
            }
            return a;
        };
        do mul = 1 + below(state, count - 1);
        while (gcd(mul, count) != 1);
        add = below(state, count);
    }
    unsigned long long at(unsigned long long p) const {
        if (mode == kForward) return p;
        if (mode == kReverse) return count - 1 - p;
        if (!table.empty()) return table[p];
        return (unsigned long long)(((unsigned __int128)mul * p + add) % count);
    }
};

// Reverse and shuffle: the block's warps as segments of sched.order (see runBlock). Reverse: sched.order is already
// descending, so the segments are the warps from the last down (the last may be partial). Shuffle: the warps in a
// random order, each one's lanes in a random order, from this block's generator (seeded from the launch's seed and
// the block index b).
void layOutWarps(Launch& l, unsigned long long b) {
    const int warps = (l.threads + 31) / 32;
    std::vector<int> order(warps);  // the warps, in the order of the run
    for (int w = 0; w < warps; w++) order[w] = l.mode == kReverse ? warps - 1 - w : w;
    if (l.mode == kShuffle) {
        l.rng = l.seed ^ (b + 1) * 0xd6e8feb86659fd93ull;
        shuffle(order.data(), warps, l.rng);
    }
    l.segment.assign(1, 0);
    l.visit.resize(warps);
    int at = 0;
    for (int k = 0; k < warps; k++) {
        const int w = order[k], lanes = w < warps - 1 ? 32 : l.threads - 32 * w;
        if (l.mode == kShuffle) {
            for (int i = 0; i < lanes; i++) sched.order[at + i] = 32 * w + i;
            shuffle(sched.order + at, lanes, l.rng);
        }
        at += lanes;
        l.segment.push_back(at);
        l.visit[k] = k;
    }
}

std::string scheduleName(int mode, unsigned long long seed) {
    return mode == kForward ? "forward" : mode == kReverse ? "reverse" : "shuffle:" + std::to_string(seed);
}

}  // namespace

extern "C" {

// AddressSanitizer builds only: marks [p, p + bytes) as not to be touched (poison != 0; a kernel's load or store
// there stops the process with ASan's report) or as usable again (poison == 0). EmulatedMemory poisons the red zones
// of every device allocation this way. Returns 1 where ASan is built in, 0 (and does nothing) otherwise.
int emu_asan_poison(void* p, unsigned long long bytes, int poison) {
#if EMU_ASAN
    if (poison) ASAN_POISON_MEMORY_REGION(p, bytes);
    else ASAN_UNPOISON_MEMORY_REGION(p, bytes);
    return 1;
#else
    (void)p, (void)bytes, (void)poison;
    return 0;
#endif
}

// Returns 0 on success; otherwise a non-zero code and the reason in emu_last_error(): 1 no such kernel, 2 a launch
// configuration the GPU refuses (CUDA_ERROR_INVALID_VALUE there), 3 a deadlock, 4 a kernel error (emu_fail, a
// misaligned pointer argument, or, when programmatic != 0, a thread that returned without trm_pdl_begin: on a GPU
// that thread could read its inputs before the previous kernel wrote them).
int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned sharedBytes, void** args, int programmatic) {
    EmuKernelEntry* e = registry;
    while (e != nullptr && std::strcmp(e->name, name) != 0) e = e->next;
    if (e == nullptr) {
        lastError = std::string("no kernel named ") + name + " in the emulation library";
        return 1;
    }
    if (!scheduleEnvError.empty()) {
        lastError = "cannot launch " + std::string(name) + ": " + scheduleEnvError;
        return 2;
    }
    std::string invalid = invalidLaunch(*e, gx, gy, gz, bx, by, bz, sharedBytes);
    if (!invalid.empty()) {
        lastError = "invalid launch configuration for " + std::string(name) + ": " + invalid;
        return 2;
    }
    char argError[160];
    if (!e->checkArgs(args, argError, sizeof argError)) {
        lastError = "kernel error in " + std::string(name) + ": " + argError;
        return 4;
    }
    long threads = (long)bx * by * bz;
    if (sched.fibers == nullptr) {
        sched.fibers = new std::vector<Fiber>(kMaxThreads);
        sched.stacks = new std::vector<unsigned char*>();
        sched.freeStacks = new std::vector<unsigned char*>();
        sched.order = new int[kMaxThreads];
    }
    if (sched.dynamicShared == nullptr) sched.dynamicShared = new std::vector<unsigned char>(kMaxDynamicShared);
    std::vector<Fiber>& fs = *sched.fibers;
    Launch l;
    l.kernel = e->call;
    l.args = args;
    l.threads = (int)threads;
    l.programmatic = programmatic != 0;
    l.pdlBegun.assign(l.threads, 0);
    l.mode = scheduleMode.load();
    const unsigned long long scheduleSeedNow = scheduleSeed.load();
    l.seed = scheduleSeedNow ^ nameHash(name);
    int nw = (int)((threads + 31) / 32);
    l.warps.resize(nw);
    sched.launch = &l;
    emu_state.blockDims = dim3{bx, by, bz};
    emu_state.gridDims = dim3{gx, gy, gz};
    emu_state.dynamicShared = sched.dynamicShared->data();
    captureControlWords();
    for (int t = 0; t < l.threads; t++) {  // the thread indices are the same in every block
        Fiber& f = fs[t];
        f.thread.linear = t;
        f.thread.index = dim3{(unsigned)(t % bx), (unsigned)((t / bx) % by), (unsigned)(t / (bx * by))};
    }
    BlockOrder blocks(l.mode, (unsigned long long)gx * gy * gz, l.seed);
    int rc = 0;
    for (unsigned long long p = 0; p < blocks.count && rc == 0; p++) {
        const unsigned long long b = blocks.at(p);  // x fastest, then y, then z
        const unsigned x = (unsigned)(b % gx), y = (unsigned)(b / gx % gy), z = (unsigned)(b / gx / gy);
        emu_state.blockIndex = dim3{x, y, z};
        l.live = l.threads;
        l.block = Barrier{};
        for (int w = 0; w < nw; w++) {  // the slots need no clearing: published says which are valid
            Warp& warp = l.warps[w];
            warp.barrier = Barrier{};
            warp.live = w < nw - 1 ? 32 : l.threads - 32 * w;
            warp.published[0] = warp.published[1] = 0;
        }
        for (int t = 0; t < l.threads; t++) {  // none started; those of a failed block are abandoned
            Fiber& f = fs[t];
            f.alive = false;
            f.waitOn = nullptr;
            f.stack = nullptr;
            sched.order[t] = l.mode == kReverse ? l.threads - 1 - t : t;  // reverse: warps and lanes descending
        }
        if (l.mode != kForward) layOutWarps(l, b);
        sched.nextStart = 0;
        *sched.freeStacks = *sched.stacks;
        std::fill(l.pdlBegun.begin(), l.pdlBegun.end(), 0);
        if (!runBlock(l.threads) && l.failed) {
            lastError = "kernel error in " + std::string(name) + ": " + l.failure;
            rc = 4;
        } else if (l.deadlock) {
            lastError = std::string("deadlock in ") + name + ": every live thread of block (" + std::to_string(x) +
                        "," + std::to_string(y) + "," + std::to_string(z) + ") waits at a barrier the others never reach";
            rc = 3;
        } else if (l.programmatic) {
            for (int t = 0; t < l.threads; t++) {
                if (l.pdlBegun[t]) continue;
                const dim3& ti = fs[t].thread.index;
                lastError = "kernel error in " + std::string(name) + ": launched as a programmatic dependent, but " +
                            "thread (" + std::to_string(ti.x) + "," + std::to_string(ti.y) + "," +
                            std::to_string(ti.z) + ") of block (" + std::to_string(x) + "," + std::to_string(y) +
                            "," + std::to_string(z) + ") returned without calling trm_pdl_begin() (common.cuh): on " +
                            "a GPU it could read its inputs before the previous kernel wrote them";
                rc = 4;
                break;
            }
        }
    }
    if (rc != 0 && l.mode != kForward) lastError += " (schedule " + scheduleName(l.mode, scheduleSeedNow) + ")";
    sched.launch = nullptr;
    emu_state.thread = nullptr;
    sched.current = nullptr;
    return rc;
}

// The schedule (see "The schedule" above): mode 0 forward, 1 reverse, 2 shuffle with the seed. 0 on success, 1 for
// an unknown mode. It overrides TRM_EMU_SCHEDULE (and clears a bad value's error). Set it between launches: a launch
// in progress on another thread keeps the schedule it started with.
int emu_set_schedule(int mode, unsigned long long seed) {
    if (mode < kForward || mode > kShuffle) return 1;
    scheduleMode = mode;
    scheduleSeed = seed;
    scheduleEnvError.clear();
    return 0;
}
int emu_schedule_mode() { return scheduleMode.load(); }
unsigned long long emu_schedule_seed() { return scheduleSeed.load(); }

const char* emu_last_error() { return lastError.c_str(); }

// Whether a kernel of this name exists (the Java side resolves "functions" of the module through it).
int emu_has_kernel(const char* name) {
    for (EmuKernelEntry* e = registry; e != nullptr; e = e->next)
        if (std::strcmp(e->name, name) == 0) return 1;
    return 0;
}

// The number of parameters of a kernel, with the size in bytes of each in sizes[0 .. min(count, max) - 1]; -1 when
// there is no such kernel. A CUDA driver knows these from the module (it copies each kernelParams[i] at launch); the
// fake libcuda (src/test/fake-cuda) has no module metadata and asks here, to copy the arguments of captured launches.
int emu_kernel_params(const char* name, unsigned* sizes, int max) {
    for (EmuKernelEntry* e = registry; e != nullptr; e = e->next) {
        if (std::strcmp(e->name, name) != 0) continue;
        for (int i = 0; i < e->paramCount && i < max; i++) sizes[i] = e->paramSizes[i];
        return e->paramCount;
    }
    return -1;
}

// The plain reference GEMM behind the emulated cuBLAS: column-major, cublasGemmStridedBatchedEx semantics with
// fp32 accumulation. Types: 0 = fp32, 1 = bf16. C = alpha * op(A) op(B) + beta * C, per batch.
//
// Every C element is the fp32 sum over l = 0, 1, ..., k-1 of op(A)(i, l) * op(B)(l, j), added in that order
// (as the first, scalar version of this function did; the results are bit for bit the same). For speed, op(A) and
// op(B) are first unpacked to fp32 so that the loops read memory in order: op(A) in chunks of kChunk rows,
// ap[chunk][l][kChunk] (the last chunk zero-padded), op(B) as bp[j][l]; then kChunk rows of one C column are summed
// side by side in SIMD lanes, each lane still in l order.
static float load(const void* p, int type, long i) {
    return type == 0 ? static_cast<const float*>(p)[i] : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}
namespace {
constexpr int kChunk = 32;
typedef float Float4 __attribute__((vector_size(16)));  // 4 lanes: plain SSE2, the x86-64 baseline
constexpr int kVecs = kChunk / 4;
}  // namespace
int emu_gemm(int transA, int transB, int m, int n, int k, float alpha, const void* A, int aType, int lda,
             long strideA, const void* B, int bType, int ldb, long strideB, float beta, void* C, int cType, int ldc,
             long strideC, int batch) {
    if (m < 0 || n < 0 || k < 0 || batch < 0 || aType < 0 || aType > 1 || bType < 0 || bType > 1 || cType < 0 ||
        cType > 1) {
        lastError = "invalid GEMM arguments";
        return 7;  // CUBLAS_STATUS_INVALID_VALUE
    }
    if (m == 0 || n == 0) return 0;
    const long chunks = (m + kChunk - 1) / kChunk;
    std::vector<Float4> ap((size_t)chunks * k * kVecs);
    std::vector<float> bp((size_t)n * k);
    for (int p = 0; p < batch; p++) {
        const long ao = p * strideA, bo = p * strideB, co = p * strideC;
        float* apf = reinterpret_cast<float*>(ap.data());
        for (long c = 0; c < chunks; c++)
            for (int l = 0; l < k; l++)
                for (int ii = 0; ii < kChunk; ii++) {
                    long i = c * kChunk + ii;
                    apf[(c * k + l) * kChunk + ii] =
                        i < m ? load(A, aType, ao + (transA ? i * lda + l : (long)l * lda + i)) : 0.0f;
                }
        for (int j = 0; j < n; j++)
            for (int l = 0; l < k; l++)
                bp[(size_t)j * k + l] = load(B, bType, bo + (transB ? (long)l * ldb + j : (long)j * ldb + l));
        for (long c = 0; c < chunks; c++) {
            const Float4* a = ap.data() + c * k * kVecs;
            for (int j = 0; j < n; j++) {
                const float* b = bp.data() + (size_t)j * k;
                Float4 acc[kVecs] = {};
                for (int l = 0; l < k; l++) {
                    const Float4 bl = {b[l], b[l], b[l], b[l]};
                    for (int v = 0; v < kVecs; v++) acc[v] += a[l * kVecs + v] * bl;
                }
                for (int ii = 0; ii < kChunk && c * kChunk + ii < m; ii++) {
                    long ci = co + (long)j * ldc + c * kChunk + ii;
                    float sum = acc[ii / 4][ii % 4];
                    float out = alpha * sum + (beta != 0.0f ? beta * load(C, cType, ci) : 0.0f);
                    if (cType == 0)
                        static_cast<float*>(C)[ci] = out;
                    else
                        static_cast<__nv_bfloat16*>(C)[ci] = __float2bfloat16(out);
                }
            }
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

extern "C" int emu_conditional_set(unsigned long long handle, unsigned int value);

void cudaGraphSetConditional(cudaGraphConditionalHandle handle, unsigned int value) {
    // emu_fail never returns (it leaves the fiber): it runs after emu_conditional_set has released the lock.
    if (emu_conditional_set(handle, value) != 0) emu_fail("cudaGraphSetConditional: unknown conditional handle");
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
