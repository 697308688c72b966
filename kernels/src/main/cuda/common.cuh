// common.cuh: what every kernel file includes: the bf16 type and WMMA (from CUDA, or from our emulation header when g++
// compiles these sources for the host), TRM_EXPORT (names a kernel for the emulator; nothing under nvcc),
// dynamic shared memory, and the warp/block reductions.
#pragma once

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <mma.h>  // nvcuda::wmma (the emulator has its own, in cuda_emu.h)
#define TRM_EXPORT(...)
#define TRM_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#else
#include "emu/cuda_emu.h"
#define TRM_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(emu_dynamic_shared)
#endif

typedef __nv_bfloat16 bf16;

// "#pragma unroll" for nvcc (g++ would warn on it), and an alignment for shared tiles (WMMA wants 32 bytes).
#ifdef __CUDACC__
#define TRM_UNROLL _Pragma("unroll")
#else
#define TRM_UNROLL
#endif
#define TRM_ALIGN(bytes) __attribute__((aligned(bytes)))

// Kernels are extern "C" so that cuModuleGetFunction finds them by their plain name.
#define TRM_KERNEL extern "C" __global__

// Every kernel declares the block size its launches use (trm-java GpuKernels, and GraphBuilder for graph_control.cu)
// in __launch_bounds__, so that ptxas never gives it more registers per thread than a block of that size can have:
// a launch can then never fail with "too many resources requested" (registers) on any GPU. TRM_EXPORT repeats the
// bound for the emulator, which cannot read it from the declaration and refuses a bigger block, as the GPU does.
// TRM_BLOCK is GpuKernels.BLOCK, the block of its 1-D launches; change the two together.
#define TRM_BLOCK 256

// Programmatic dependent launch (PDL, sm_90 and newer). GpuDevice launches each of our kernels as a programmatic
// dependent of the work before it on the stream (cuLaunchKernelEx with PROGRAMMATIC_STREAM_SERIALIZATION; captured
// graphs keep it as a programmatic edge), so the GPU may start a kernel's blocks while the previous kernel still
// runs: the launch latency between two small kernels, most of a batch-1 solve's time, overlaps the previous one.
// The price is this call, first in every kernel, before any global memory is read or written:
//   launch_dependents: the next kernel may launch once every block of this one got here (all of ours are resident
//                      by then, so the next one's waiting blocks never take their place);
//   wait:              blocks until the previous grid has completed and its memory is visible (and so, by
//                      induction, everything before it on the stream).
// Launched without PDL (older GPUs, -Dtrm.pdl=false) both do nothing. The fatbin's newest PTX is compute_90, so a GPU
// newer than its SASS JIT-compiles this branch too (its compute_80 PTX is for an 8.x without SASS, e.g. 8.7). The emulated device runs kernels one after another, and fails a
// programmatic launch in which a thread returns without this call (a kernel that forgot it).
__device__ __forceinline__ void trm_pdl_begin() {
#ifdef __CUDACC__
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
#else
    emu_pdl_begin();
#endif
}

__device__ __forceinline__ float warpReduceSum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warpReduceMax(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` is 32 floats of shared memory; the trailing barrier lets the caller reuse it at once.
__device__ __forceinline__ float blockReduceSum(float v, float* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warpReduceSum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    v = warpReduceSum(v);
    __syncthreads();
    return v;
}
