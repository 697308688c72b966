// graph_control.cu: the kernel that sets a CUDA graph conditional node's value from device data, so a captured graph
// can skip work without a round trip to the host (e.g. the remaining supervision steps once every puzzle halted).
//
// graph_set_if_any_zero: one block; value = 1 if some of flags[0, n) is 0, else 0, written with
//                        cudaGraphSetConditional(handle, value) by thread 0 only (concurrent calls on one handle are
//                        undefined behaviour). Launch it with <<<1, 256>>>; n is the batch (B <= a few thousand).
//
// Why a translation unit and a fatbin of its own (graph_control.fatbin), not part of trm_kernels.cu: the PTX of
// cudaGraphSetConditional is an `.extern .func`, which stays an undefined symbol in the linked image and is resolved
// by the driver when it loads the module (CUDA 12.3+ drivers). A driver that cannot resolve it refuses the whole
// module: kept apart, that costs the conditional graphs only (GpuDevice.supportsConditionalGraphs() is then false),
// never the main kernels. Under g++ (the emulated device) cuda_emu.h declares the function and cuda_emu.cpp keeps
// the values in a table the Java emulated driver reads.
#include "common.cuh"

#define GRAPH_CONTROL_THREADS 256  // GraphBuilder.setIfAnyZero's block

TRM_KERNEL void __launch_bounds__(GRAPH_CONTROL_THREADS)
    graph_set_if_any_zero(cudaGraphConditionalHandle handle, const int* flags, int n) {
    trm_pdl_begin();
    __shared__ int anyZero;
    if (threadIdx.x == 0) anyZero = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        if (flags[i] == 0) atomicExch(&anyZero, 1);
    __syncthreads();
    if (threadIdx.x == 0) cudaGraphSetConditional(handle, anyZero ? 1u : 0u);
}
TRM_EXPORT(graph_set_if_any_zero, GRAPH_CONTROL_THREADS)
