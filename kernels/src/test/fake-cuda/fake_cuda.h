// What the fake libcuda.so.1 (fake_cuda.cpp) offers the fake cuBLAS and cuBLASLt libraries built next to it
// (fake_cublas.cpp): they link against it (soname libcuda.so.1, the copy the JVM already loaded) so that their GEMMs
// go into the same streams and captures as kernel launches. C++ linkage: nothing here is part of any CUDA API.
#pragma once
#include <cuda.h>
#include <cstddef>
#include <functional>

namespace fakecuda {
// Runs op now, or appends it to the stream's capture (a graph replays it). CUDA_ERROR_INVALID_HANDLE for an unknown
// stream; the capture's error when it was invalidated; the context's sticky error after a failed kernel.
CUresult enqueue(CUstream stream, std::function<CUresult()> op);
// Whether [p, p + bytes) lies inside one live device allocation (bytes 0: p itself must).
bool deviceRange(const void* p, size_t bytes);
// A symbol of the emulation library (emu_gemm, ...), which the fake libcuda loaded at cuInit; null if none.
void* emuSymbol(const char* name);
// Whether cuInit ran and a context is current on this thread.
bool ready();
}  // namespace fakecuda
