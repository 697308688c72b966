// cuda_emu.h: just enough of CUDA C++ for our kernels to compile with g++ and run on the host, one block at a time.
//
// What it emulates:
//   - a launch runs every block of the grid, one after another, in the schedule's order (below); each block's threads
//     are fibers (own context switch on x86-64, ucontext elsewhere) on the calling OS thread, switched cooperatively
//     at barriers, so kernels run deterministically for a given schedule;
//   - __syncthreads(): a barrier over the block's live threads; __syncwarp() and the warp primitives
//     (__shfl_sync, __shfl_xor_sync, __shfl_down_sync, __shfl_up_sync, __ballot_sync, __any_sync, __all_sync):
//     a barrier over the live lanes of the warp (32 consecutive linear thread ids), with a value exchange;
//   - __shared__ variables (static per OS thread, shared by the block's fibers) and dynamic shared memory
//     (TRM_DYNAMIC_SHARED, sized by the launch's sharedMemBytes);
//   - atomicAdd/atomicMax/atomicExch/atomicCAS on int and float (real atomics, though only one OS thread runs them);
//   - __nv_bfloat16 (round-to-nearest-even conversions, as __float2bfloat16) and the usual math intrinsics;
//   - the WMMA API (nvcuda::wmma, 16x16x16 tiles, bf16 inputs, fp32 accumulator): the per-lane fragment layout of
//     real hardware is opaque, so here every lane's fragment holds the WHOLE 16x16 tile (num_elements = 256) and
//     every lane computes the whole product; a store writes only the lane's share of the tile (elements e with
//     e % 32 == lane), so a read of other lanes' elements without the __syncwarp() the GPU needs sees stale data.
//     Each call is warp-collective (a warp barrier, so a lane that skips it deadlocks, reported as such) and checks
//     what the hardware requires: all 32 lanes live, ldm a multiple of 8 elements (16-bit types) or 4 (float), the
//     pointer 32-byte aligned; otherwise the launch fails with the reason (emu_fail). The accumulation order within
//     a tile differs from the tensor cores' (fp32 sums in k order here), so results can differ from the GPU in the
//     last bits;
//   - the launch checks of the GPU (the launch fails, naming the kernel and the limit): block at most 1024 x 1024 x 64
//     and 1024 threads, and no more threads than the kernel's __launch_bounds__ (TRM_EXPORT(name, bound) repeats
//     it); grid x at most 2^31-1, y and z at most 65535; dynamic shared memory at most 48 KiB (more needs an opt-in
//     CudaDriver never makes); every typed pointer argument aligned to its element type; and, through
//     emu_check_aligned in the emulated branch of each vector access, 16-byte alignment of float4/uint4 loads and
//     stores (misaligned accesses fault on the GPU and work on the host).
//
// Schedule modes (EmulatedSchedule in Java; or TRM_EMU_SCHEDULE=forward|reverse|shuffle:SEED, read when the library
// loads; emu_set_schedule): process-wide, taken by each launch when it starts. The order is the only freedom a
// correct kernel must not notice; a race (a missing __syncthreads()/__syncwarp(), a block reading another block's
// output in the same launch) passes in one order and breaks in another.
//   - forward (default): blocks in ascending linear index (x fastest); a block's threads round-robin in ascending
//     linear id, each until its next barrier (block or warp), the thread completing a barrier going on at once.
//   - reverse: blocks descending; a block runs warp by warp, the last warp first: each warp runs, in passes over its
//     lanes in descending order, until all of them wait at __syncthreads() or have returned, then the next warp;
//     every thread, the barrier's releaser included, resumes after a block barrier in that order again. So one
//     warp's whole stretch between block barriers runs before another's (a round-robin moves all warps in step, one
//     warp barrier at a time, and hides missing block barriers between warps).
//   - shuffle:SEED: as reverse, with seeded pseudo-random orders instead: of the blocks (per launch), of the warps
//     (per stretch between block barriers) and of each warp's lanes (per pass), from the seed, the kernel's name and
//     the block index; the same seed gives the same run.
// A returning thread still hands its stack to the next thread to start (within its warp, under reverse and shuffle).
//
// Its limits (a kernel outside them is a kernel bug here, not something to work around in the emulator):
//   - 64 KiB of stack per thread (no large local arrays); static shared memory is not counted (nvcc refuses more than
//     48 KiB of it), so the launch check above takes dynamic shared memory alone, while the GPU's 48 KiB (without
//     the opt-in) bounds static + dynamic: a kernel with both must keep the sum within it itself;
//   - blocks run one after another: a kernel that waits for another block (spin locks, grid sync) deadlocks;
//   - the mask argument of the warp primitives is ignored: every live lane of the warp must take part
//     (as our kernels do; a divergent shuffle is undefined behaviour on real hardware too);
//   - a thread that returns early leaves all later barriers (real GPUs make that undefined; ours never do it);
//   - no memory model: every write is visible at once; no texture, no cooperative groups, no clusters;
//   - fast-math intrinsics (__expf, rsqrtf) are the exact libm functions, so results can differ from the GPU
//     in the last bits; float atomics add in the schedule's order, deterministic for one schedule but not on the
//     GPU;
//   - the schedules explore orders at barrier granularity: between two barriers a thread runs alone, so races between
//     single instructions of two threads of the same stretch (both orders of a pair are covered by forward and
//     reverse) show, but interleavings finer than a barrier stretch do not.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__ inline
#define __host__
#define __forceinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define TRM_EMULATED 1

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

// The per-thread (fiber) and per-launch state the index variables read.
struct EmuThread {
    dim3 index;
    int linear;  // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
};
// One thread_local object for all of it: in a shared library every thread_local variable costs its own call to
// __tls_get_addr, so a kernel reading threadIdx, blockIdx and blockDim makes one call instead of three.
struct EmuState {
    EmuThread* thread;  // the fiber running now
    dim3 blockIndex, blockDims, gridDims;
    unsigned char* dynamicShared;
};
extern thread_local EmuState emu_state __attribute__((visibility("hidden")));  // inside the library only

#define threadIdx (emu_state.thread->index)
#define blockIdx (emu_state.blockIndex)
#define blockDim (emu_state.blockDims)
#define gridDim (emu_state.gridDims)
#define emu_dynamic_shared (emu_state.dynamicShared)
#define warpSize 32

// Barriers and the warp exchange, implemented in cuda_emu.cpp.
void emu_syncthreads();
void emu_warp_exchange(uint64_t value, uint64_t* lanes_out);  // every lane publishes value, reads all 32
int emu_warp_live_mask_size();
// trm_pdl_begin (common.cuh) of the calling thread: counted, so a programmatic launch can require it of every thread.
void emu_pdl_begin();

// A kernel bug the emulator detected (e.g. a misaligned WMMA load): ends the launch, which then fails with `what`.
[[noreturn]] void emu_fail(const char* what);

// What a kernel's emulated branch of a vector access (float4, uint4 through reinterpret_cast on the GPU; element by
// element here) calls first: the GPU needs the address aligned to the vector's size and faults otherwise
// (misaligned address); plain host loads would not notice. `what` names the access in the failure.
inline void emu_check_aligned(const void* p, unsigned bytes, const char* what) {
    if (reinterpret_cast<uintptr_t>(p) % bytes != 0) {
        static thread_local char msg[160];
        std::snprintf(msg, sizeof msg, "%s: address %p is not %u-byte aligned, as a %u-byte vector access needs",
                      what, p, bytes, bytes);
        emu_fail(msg);
    }
}

inline void __syncthreads() { emu_syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { uint64_t all[32]; emu_warp_exchange(0, all); }

template <typename T>
inline uint64_t emu_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp exchange carries at most 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <typename T>
inline T emu_from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
inline int emu_lane() { return emu_state.thread->linear & 31; }

template <typename T>
inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    uint64_t all[32];
    emu_warp_exchange(emu_bits(v), all);
    int lane = emu_lane();
    int s = (lane & ~(width - 1)) + (src & (width - 1));
    return emu_from_bits<T>(all[s]);
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    uint64_t all[32];
    emu_warp_exchange(emu_bits(v), all);
    int lane = emu_lane();
    int s = lane ^ mask;
    if ((s & ~(width - 1)) != (lane & ~(width - 1))) s = lane;
    return emu_from_bits<T>(all[s]);
}
template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    uint64_t all[32];
    emu_warp_exchange(emu_bits(v), all);
    int lane = emu_lane();
    int s = lane + (int)delta;
    if ((s & ~(width - 1)) != (lane & ~(width - 1))) s = lane;  // out of the segment: own value, as on the GPU
    return emu_from_bits<T>(all[s]);
}
template <typename T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
    uint64_t all[32];
    emu_warp_exchange(emu_bits(v), all);
    int lane = emu_lane();
    int s = lane - (int)delta;
    if (s < (lane & ~(width - 1))) s = lane;
    return emu_from_bits<T>(all[s]);
}
unsigned emu_ballot(int predicate);
inline unsigned __ballot_sync(unsigned, int p) { return emu_ballot(p); }
inline int __any_sync(unsigned, int p) { return emu_ballot(p) != 0; }
inline int __all_sync(unsigned, int p) {
    unsigned b = emu_ballot(p), live = emu_ballot(1);
    return b == live;
}

// Atomics: real ones (GCC builtins), so the semantics hold even if blocks ever run on several OS threads.
inline float atomicAdd(float* a, float v) {
    float old = *a;
    float want;
    do {
        want = old + v;
    } while (!__atomic_compare_exchange(a, &old, &want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return old;
}
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline int atomicMax(int* a, int v) {
    int old = *a;
    while (old < v && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    return old;
}
inline int atomicExch(int* a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline int atomicCAS(int* a, int cmp, int v) {
    __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}

// bf16: the top 16 bits of an IEEE float; conversions round to nearest even, NaN stays NaN.
struct __nv_bfloat16 {
    uint16_t x;
};
inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        r.x = (uint16_t)((u >> 16) | 0x40);
    } else {
        r.x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return r;
}
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.x; }
inline float __bfloat162float(__nv_bfloat16 b) {
    uint32_t u = (uint32_t)b.x << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// WMMA (see the top of this file): 16x16x16 tiles only, fragments hold the whole tile in row-major order.
namespace nvcuda {
namespace wmma {
inline float emu_wmma_float(__nv_bfloat16 v) { return __bfloat162float(v); }
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "the emulator has 16x16x16 WMMA tiles only");
    enum { num_elements = 256 };
    T x[256];  // element (row, col) of the tile at x[row * 16 + col], identical in every lane
};

template <typename T>
inline void emu_wmma_check(const T* p, unsigned ldm, const char* op) {
    static_assert(sizeof(T) == 2 || sizeof(T) == 4, "WMMA element types: 16-bit or float");
    if (emu_warp_live_mask_size() != 32) {  // the lanes' stores (see store_matrix_sync) would leave gaps
        static thread_local char msg[160];
        std::snprintf(msg, sizeof msg, "%s with %d live lanes: WMMA needs the whole warp", op,
                      emu_warp_live_mask_size());
        emu_fail(msg);
    }
    unsigned multiple = sizeof(T) == 2 ? 8 : 4;  // 16 bytes either way
    if (ldm % multiple != 0) {
        static thread_local char msg[160];
        std::snprintf(msg, sizeof msg, "%s: ldm %u is not a multiple of %u elements for %d-byte elements",
                      op, ldm, multiple, (int)sizeof(T));
        emu_fail(msg);
    }
    if (reinterpret_cast<uintptr_t>(p) % 32 != 0) {
        static thread_local char msg[160];
        std::snprintf(msg, sizeof msg, "%s: pointer %p is not 256-bit (32-byte) aligned", op, (const void*)p);
        emu_fail(msg);
    }
}

template <typename Use, typename T, typename Layout>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, T v) {
    for (int i = 0; i < 256; i++) f.x[i] = v;
}

// matrix_a is M x K (row i, col k), matrix_b is K x N (row k, col j); row_major: element (r, c) at p[r * ldm + c],
// col_major: at p[c * ldm + r].
template <typename Use, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm) {
    static_assert(sizeof(T) == 2, "matrix_a / matrix_b fragments: 16-bit elements");
    emu_wmma_check(p, ldm, "wmma::load_matrix_sync");
    __syncwarp();
    constexpr bool row = std::is_same<Layout, row_major>::value;
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = row ? p[r * ldm + c] : p[c * ldm + r];
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm,
                             layout_t layout) {
    emu_wmma_check(p, ldm, "wmma::load_matrix_sync");
    __syncwarp();
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
}
// Each lane stores only its share of the tile (elements e with e % 32 == lane; the hardware's split is another, but
// it is one too): on the GPU a lane reading what another lane stored needs a __syncwarp() after the store, and
// with every lane storing the whole tile that missing barrier could never show here.
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
    emu_wmma_check(p, ldm, "wmma::store_matrix_sync");
    __syncwarp();
    for (int e = emu_lane(); e < 256; e += 32) {
        int r = e / 16, c = e % 16;
        (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[e];
    }
}
// d = a b + c, products and sums in fp32 (bf16 products are exact in fp32), each element summed from c in k order.
// The operands are widened to fp32 once and the j loop is innermost (the same sums, in the same order), so that g++
// can vectorise it: every lane computes the whole tile, and the tensor-core attention backward makes many of them.
template <typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, T, LB>& b,
                     const fragment<accumulator, 16, 16, 16, float>& c) {
    __syncwarp();
    float af[256], bf[256], out[256];
    for (int i = 0; i < 256; i++) {
        af[i] = emu_wmma_float(a.x[i]);
        bf[i] = emu_wmma_float(b.x[i]);
        out[i] = c.x[i];
    }
    for (int i = 0; i < 16; i++)
        for (int k = 0; k < 16; k++)
            for (int j = 0; j < 16; j++) out[i * 16 + j] += af[i * 16 + k] * bf[k * 16 + j];
    for (int i = 0; i < 256; i++) d.x[i] = out[i];
}
}  // namespace wmma
}  // namespace nvcuda

// Math intrinsics, as the exact libm functions.
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
using std::atan2;
using std::exp;
using std::fabs;
using std::fmax;
using std::fmin;
using std::log;
using std::log1p;
using std::sqrt;

// Kernel registration: each kernel file ends its kernels with TRM_EXPORT(name); the emulator looks them up by name
// and unpacks cuLaunchKernel-style argument arrays (void** of pointers to each argument) with the kernel's own types.
#include <tuple>
#include <utility>
typedef void (*EmuTrampoline)(void** args);
typedef bool (*EmuArgCheck)(void** args, char* msg, std::size_t size);
struct EmuKernelEntry {
    const char* name;
    EmuTrampoline call;
    EmuArgCheck checkArgs;  // the pointer arguments' alignment, once per launch
    long maxThreads;        // the kernel's __launch_bounds__ (1024 without)
    const unsigned* paramSizes;  // sizeof each parameter, in order (what a CUDA driver reads from the module's
    int paramCount;              // metadata to copy kernelParams at launch: the fake libcuda's captures need it)
    EmuKernelEntry* next;
};
void emu_register(EmuKernelEntry* entry);

template <typename... A, std::size_t... I>
inline void emu_invoke(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(args[I])...);
}
template <typename... A>
inline void emu_call(void (*f)(A...), void** args) {
    emu_invoke(f, args, std::index_sequence_for<A...>{});
}
// A pointer argument must be aligned to its element type (a float* to 4 bytes, ...): on the GPU any access through
// a misaligned one faults (CUDA_ERROR_MISALIGNED_ADDRESS, which also ruins the context), on the host it just works.
// Untyped (void*) and non-pointer arguments pass.
template <typename T>
inline bool emu_arg_aligned(const T&, int, char*, std::size_t) {
    return true;
}
template <typename T>
inline bool emu_arg_aligned(T* const& p, int index, char* msg, std::size_t size) {
    if constexpr (!std::is_void<std::remove_cv_t<T>>::value) {
        if (reinterpret_cast<uintptr_t>(p) % alignof(T) != 0) {
            std::snprintf(msg, size, "pointer argument %d (%p) is not aligned to its %d-byte elements", index,
                          (const void*)p, (int)alignof(T));
            return false;
        }
    }
    return true;
}
template <typename... A, std::size_t... I>
inline bool emu_args_aligned(void (*)(A...), void** args, char* msg, std::size_t size, std::index_sequence<I...>) {
    return (emu_arg_aligned(*static_cast<std::remove_reference_t<A>*>(args[I]), (int)I, msg, size) && ...);
}
template <typename... A>
inline bool emu_check_args(void (*f)(A...), void** args, char* msg, std::size_t size) {
    return emu_args_aligned(f, args, msg, size, std::index_sequence_for<A...>{});
}
constexpr long emu_max_threads(long bound = 1024) { return bound; }
template <typename... A>
struct EmuParamSizes {
    static constexpr unsigned sizes[sizeof...(A) + 1] = {(unsigned)sizeof(A)..., 0u};  // + 1: no empty array
    static constexpr int count = (int)sizeof...(A);
};
template <typename... A>
constexpr EmuParamSizes<A...> emu_param_sizes(void (*)(A...)) { return {}; }
// TRM_EXPORT(name) or TRM_EXPORT(name, maxThreads): maxThreads repeats the kernel's __launch_bounds__ (which the
// emulator cannot read from the declaration), so that a launch with a bigger block fails here as on the GPU.
#define TRM_EXPORT(name, ...)                                                                                \
    static void emu_trampoline_##name(void** args) { emu_call(&name, args); }                               \
    static bool emu_check_##name(void** args, char* msg, std::size_t size) {                                \
        return emu_check_args(&name, args, msg, size);                                                      \
    }                                                                                                       \
    static EmuKernelEntry emu_entry_##name{#name, &emu_trampoline_##name, &emu_check_##name,                \
                                           emu_max_threads(__VA_ARGS__),                                    \
                                           decltype(emu_param_sizes(&name))::sizes,                         \
                                           decltype(emu_param_sizes(&name))::count, nullptr};               \
    static struct EmuRegister_##name {                                                                      \
        EmuRegister_##name() { emu_register(&emu_entry_##name); }                                           \
    } emu_register_##name;

// ---- Graph conditional nodes (graph_control.cu) -------------------------------------------------------------------
// A conditional handle is a key into the emulation library's table of values (cuda_emu.cpp, "Graph conditional
// values"); the Java emulated driver creates the keys, re-applies the defaults at each graph launch and reads a value
// when its IF node runs, through the emu_conditional_* C entry points.
typedef unsigned long long cudaGraphConditionalHandle;
void cudaGraphSetConditional(cudaGraphConditionalHandle handle, unsigned int value);
