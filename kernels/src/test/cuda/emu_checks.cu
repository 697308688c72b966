// emu_checks.cu: kernels that exercise the emulation header itself (warp votes and shuffles, shared memory and
// barriers, 2-D blocks and grids, dynamic shared memory, atomics, deadlock reporting, WMMA and its argument checks,
// the schedules, launch bounds and vector alignment). Built only into the emulation library, never into the fatbin;
// native/'s EmulatorPrimitivesTest and EmulatorScheduleTest launch them and check the results against what CUDA
// specifies.
#include "common.cuh"

// Per thread, 7 ints at out[7 * t]: ballot(lane odd), any(lane == 5), all(lane < 31), shfl(lane * 10 from lane 3),
// shfl_up(lane, 1), shfl_down(lane, 2), shfl_xor(lane, 1). Launch with one block of 64 threads (two warps).
TRM_KERNEL void emu_check_warp(int* out) {
    trm_pdl_begin();
    int t = threadIdx.x, lane = t % 32;
    int* o = out + 7 * t;
    o[0] = (int)__ballot_sync(0xffffffffu, lane & 1);
    o[1] = __any_sync(0xffffffffu, lane == 5);
    o[2] = __all_sync(0xffffffffu, lane < 31);
    o[3] = __shfl_sync(0xffffffffu, lane * 10, 3);
    o[4] = __shfl_up_sync(0xffffffffu, lane, 1);
    o[5] = __shfl_down_sync(0xffffffffu, lane, 2);
    o[6] = __shfl_xor_sync(0xffffffffu, lane, 1);
}
TRM_EXPORT(emu_check_warp)

// Each block reverses its linear thread ids through dynamic shared memory across a barrier:
// out[block * n + t] = (n - 1 - t) + 1000 * block, block = blockIdx.x + gridDim.x * blockIdx.y, n threads per block.
TRM_KERNEL void emu_check_block(int* out) {
    trm_pdl_begin();
    TRM_DYNAMIC_SHARED(int, buf);
    int t = threadIdx.x + blockDim.x * threadIdx.y;
    int n = blockDim.x * blockDim.y;
    int block = blockIdx.x + gridDim.x * blockIdx.y;
    buf[t] = t + 1000 * block;
    __syncthreads();
    out[block * n + t] = buf[n - 1 - t];
}
TRM_EXPORT(emu_check_block)

// Every thread: counter += 1, fsum += 0.5, maxv = max(maxv, global thread id).
TRM_KERNEL void emu_check_atomics(int* counter, float* fsum, int* maxv) {
    trm_pdl_begin();
    atomicAdd(counter, 1);
    atomicAdd(fsum, 0.5f);
    atomicMax(maxv, (int)(threadIdx.x + blockIdx.x * blockDim.x));
}
TRM_EXPORT(emu_check_atomics)

// A kernel bug: half the warp shuffles while the other half waits at __syncthreads. Neither can complete; the
// emulator must report a deadlock instead of hanging.
TRM_KERNEL void emu_check_deadlock(int* out) {
    trm_pdl_begin();
    int lane = threadIdx.x % 32;
    int v = lane;
    if (lane < 16) {
        v = __shfl_xor_sync(0xffffffffu, v, 1);
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = v;
}
TRM_EXPORT(emu_check_deadlock)

// WMMA on one warp (launch 1 block of 32 threads): out (16x16 fp32, row-major) = A B + C, A [16][16] bf16 row-major,
// B given column-major (element (k, j) at b[j * 16 + k]), C [16][16] fp32 row-major. mode 0: valid arguments;
// the others break one rule of the hardware, so the launch must fail: 1: A loaded with ldm 20 (not a multiple of 8
// bf16), 2: A loaded 16 bytes past a 32-byte boundary, 3: D stored with ldm 18 (not a multiple of 4 floats).
TRM_KERNEL void emu_check_wmma(int mode, const bf16* a, const bf16* b, const float* c, float* out) {
    trm_pdl_begin();
    using namespace nvcuda;
    __shared__ __attribute__((aligned(32))) bf16 as[16 * 16 + 16];
    for (int t = threadIdx.x; t < 256; t += 32) as[t] = a[t];
    __syncwarp();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::load_matrix_sync(fa, mode == 2 ? as + 8 : as, mode == 1 ? 20 : 16);
    wmma::load_matrix_sync(fb, b, 16);
    wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
    wmma::mma_sync(acc, fa, fb, acc);
    wmma::store_matrix_sync(out, acc, mode == 3 ? 18 : 16, wmma::mem_row_major);
}
TRM_EXPORT(emu_check_wmma)

// The scheduler under load: blocks of 1024 threads (32 warps) where lanes 24..31 of every warp return at once,
// never reaching a barrier, while the other lanes run `rounds` rounds of two block barriers around a shared-memory
// exchange and two warp collectives (mask 0x00ffffff: the live lanes). Per round, with v unsigned:
//   v = 3 v + v[thread t + 32 mod 1024] + v[lane 0 of the warp] + popcount(ballot(v odd)).
// Start v = t + 7 block; out[block * 1024 + t] = v at the end, -1 for the returned lanes, -2 if the thread's stack
// was not 16-byte aligned (the ABI's alignment at a call, which a fiber's start must establish).
__device__ __attribute__((noinline)) int emu_check_stack_aligned() {
    alignas(16) volatile float probe[4] = {0, 0, 0, 0};
    return (reinterpret_cast<uintptr_t>(&probe[0]) & 15) == 0;
}
TRM_KERNEL void emu_check_stress(int* out, int rounds) {
    trm_pdl_begin();
    __shared__ unsigned buf[1024];
    int t = threadIdx.x, n = blockDim.x, lane = t % 32;
    int* o = out + (long)blockIdx.x * n + t;
    if (lane >= 24) {
        *o = -1;
        return;
    }
    unsigned v = t + 7 * blockIdx.x;
    for (int r = 0; r < rounds; r++) {
        buf[t] = v;
        __syncthreads();
        unsigned next = buf[(t + 32) % n];
        __syncthreads();
        unsigned first = __shfl_sync(0x00ffffffu, v, 0);
        unsigned odd = __ballot_sync(0x00ffffffu, v & 1);
        unsigned bits = 0;
        for (; odd != 0; odd &= odd - 1) bits++;
        v = 3 * v + next + first + bits;
    }
    *o = emu_check_stack_aligned() ? (int)v : -2;
}
TRM_EXPORT(emu_check_stress)

// ---- Schedules (EmulatedSchedule) and the launch checks --------------------------------------------------------

// The order the emulator ran things in: each thread takes a ticket from *counter when it starts and (unless it
// returns first) another after a __syncthreads(), at out[2 * (block * n + t)] and the next int (-1 for a thread that
// returned before the barrier). barrier: 0 every thread returns at once (each hands its stack to the next); 1 every
// thread waits at the barrier; 2 odd threads return at once and even ones wait, so that returning threads hand their
// stacks on to threads that then wait, and (forward, n even) the return of the last thread, an odd one, is what
// releases the barrier. block = the linear block index (x fastest), n threads per block, t the linear thread id.
TRM_KERNEL void emu_check_order(int* counter, int* out, int barrier) {
    trm_pdl_begin();
    int n = blockDim.x * blockDim.y * blockDim.z;
    int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    long block = blockIdx.x + (long)gridDim.x * (blockIdx.y + (long)gridDim.y * blockIdx.z);
    int* o = out + 2 * (block * n + t);
    o[0] = atomicAdd(counter, 1);
    o[1] = -1;
    if (barrier == 0 || (barrier == 2 && (t & 1))) return;
    __syncthreads();
    o[1] = atomicAdd(counter, 1);
}
TRM_EXPORT(emu_check_order)

// A race a forward schedule hides: thread t reads what thread t - 1 wrote in the same launch, with the __syncthreads()
// between the write and the read left out (and no barrier anywhere). out[t] = stamp + t - 1 (t >= 1) when the writer
// ran first, what an earlier launch left otherwise; out[0] = -1.
TRM_KERNEL void emu_check_race(int* out, int stamp) {
    trm_pdl_begin();
    __shared__ int buf[1024];
    int t = threadIdx.x;
    buf[t] = stamp + t;
    // (the missing __syncthreads())
    out[t] = t > 0 ? buf[t - 1] : -1;
}
TRM_EXPORT(emu_check_race)

// One warp (32 threads): an accumulator fragment of 1s stored to a zeroed shared tile, then every lane reads the
// whole tile and writes its sum to out[lane] (256 when it sees every store). sync = 0 leaves out the __syncwarp()
// the GPU needs between the store and the reads of other lanes' elements.
TRM_KERNEL void emu_check_wmma_store(int sync, float* out) {
    trm_pdl_begin();
    using namespace nvcuda;
    __shared__ __attribute__((aligned(32))) float tile[256];
    for (int e = threadIdx.x; e < 256; e += 32) tile[e] = 0.0f;
    __syncwarp();
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> ones;
    wmma::fill_fragment(ones, 1.0f);
    wmma::store_matrix_sync(tile, ones, 16, wmma::mem_row_major);
    if (sync) __syncwarp();
    float sum = 0.0f;
    for (int e = 0; e < 256; e++) sum += tile[e];
    out[threadIdx.x] = sum;
    __syncwarp();  // nobody zeroes the tile again before every lane has read it (the next block)
}
TRM_EXPORT(emu_check_wmma_store)

// A kernel with __launch_bounds__(64): out[t] = t. The emulator must refuse a launch of more than 64 threads.
TRM_KERNEL void __launch_bounds__(64) emu_check_bounded(int* out) { trm_pdl_begin(); out[threadIdx.x] = threadIdx.x; }
TRM_EXPORT(emu_check_bounded, 64)

// A float4-style load as the kernels write them (emulated branch: element by element after emu_check_aligned):
// out[0..3] = p[0..3]; p must be 16-byte aligned.
TRM_KERNEL void emu_check_vector(const float* p, float* out) {
    trm_pdl_begin();
    emu_check_aligned(p, 16, "emu_check_vector (a float4 load)");
    for (int i = 0; i < 4; i++) out[i] = p[i];
}
TRM_EXPORT(emu_check_vector)

// A store at any offset, in bounds or not, for the emulated device's memory checks (EmulatedMemoryTest): thread t of
// one block writes out[offset + t] = t + 1 for t < n. With offset + n past the buffer's end, or offset < 0, it is the
// out-of-bounds store a missing guard in a real kernel makes. src, when not null, is read as the kernel's input (a
// pointer argument the memory check examines before the launch); *src is added to each stored value.
TRM_KERNEL void emu_check_store(int* out, int offset, int n, const int* src) {
    trm_pdl_begin();
    int t = threadIdx.x;
    if (t < n) out[offset + t] = t + 1 + (src != nullptr ? src[0] : 0);
}
TRM_EXPORT(emu_check_store)

// A kernel bug under programmatic dependent launch: thread `skip` returns before trm_pdl_begin (as a kernel would
// whose bounds check came first). Launched as a programmatic dependent, the emulated device must fail it, naming the
// thread; skip < 0: every thread calls it. out[t] = t for each thread that got past the call.
TRM_KERNEL void emu_check_pdl(int* out, int skip) {
    if ((int)threadIdx.x == skip) return;
    trm_pdl_begin();
    out[threadIdx.x] = threadIdx.x;
}
TRM_EXPORT(emu_check_pdl)
