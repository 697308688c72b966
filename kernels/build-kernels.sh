#!/usr/bin/env bash
# Builds the kernels for the kernels module (Maven runs it in generate-resources; it also runs by hand):
#   - nvcc: src/main/cuda/trm_kernels.cu -> trm_kernels.fatbin (SASS sm_80, sm_86, sm_89, sm_90 + PTX compute_80
#     and compute_90),
#     with the ptxas resource report (registers, spills) kept in target/ptxas-report.txt;
#   - nvcc: src/main/cuda/graph_control.cu -> graph_control.fatbin (same architectures), the kernel that sets graph
#     conditional values; its own image because the driver must resolve cudaGraphSetConditional when it loads it
#     (see the top of graph_control.cu), and a driver that cannot must not cost us the main module;
#   - g++: the same sources against src/main/cuda/emu/cuda_emu.h -> the host emulation library;
#   - g++ -fsanitize=address: that library again, with AddressSanitizer, into target/emu-asan/ (tests only).
# A missing compiler is not an error: the build passes and the device then reports "kernels not built".
# Usage: build-kernels.sh <resource output dir> <target dir>
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC="$HERE/src/main/cuda"
RES="${1:?resource output dir}/dev/trm/kernels"
TARGET="${2:?target dir}"
mkdir -p "$RES" "$TARGET"
CHECKS="$HERE/src/test/cuda/emu_checks.cu"  # kernels that test the emulator itself: emulation library only
SOURCES=("$SRC"/*.cu "$SRC"/*.cuh "$SRC"/emu/* "$CHECKS" "$HERE/build-kernels.sh")

newer_than() {  # true when $1 exists and is newer than every source
  [ -f "$1" ] || return 1
  [ -z "$(find "${SOURCES[@]}" -newer "$1" -print -quit)" ]
}

# ---- nvcc: the fatbin -------------------------------------------------------------------------------------------
NVCC="${NVCC:-}"   # NVCC=none builds as a machine without nvcc would (to check that path)
if [ "$NVCC" = none ]; then
  NVCC=""
elif [ -z "$NVCC" ]; then
  for c in "$(command -v nvcc 2>/dev/null || true)" "${CUDA_HOME:-/nonexistent}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
    [ -n "$c" ] && [ -x "$c" ] && { NVCC="$c"; break; }
  done
fi
FATBIN="$RES/trm_kernels.fatbin"
GRAPH_FATBIN="$RES/graph_control.fatbin"
# SASS for sm_80, 86, 89, 90 and PTX for compute_80 and compute_90, for both images. The driver JIT-compiles the
# newest PTX a GPU without SASS here can take: compute_90 on 9.x and newer (so that they get the PDL instructions of
# trm_pdl_begin, common.cuh, which compute_80 PTX lacks), compute_80 on an 8.x without SASS (8.7), which the device
# probe accepts (compute capability 8.0 and newer) and compute_90 PTX alone would leave without a loadable image.
GENCODE=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86
         -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90
         -gencode arch=compute_80,code=compute_80 -gencode arch=compute_90,code=compute_90)
if [ -z "$NVCC" ]; then
  echo "[kernels] WARNING: nvcc not found (set NVCC or CUDA_HOME): the fatbin is not built; the CUDA device will report 'kernels not built'"
  rm -f "$FATBIN" "$GRAPH_FATBIN" "$RES/kernels.properties"
elif newer_than "$FATBIN" && [ -f "$RES/kernels.properties" ]; then
  echo "[kernels] fatbin up to date"
else
  RELEASE=$("$NVCC" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
  echo "[kernels] nvcc $RELEASE: trm_kernels.cu -> trm_kernels.fatbin (sm_80 sm_86 sm_89 sm_90 + compute_80 compute_90 PTX)"
  "$NVCC" -fatbin -O3 -std=c++17 -Xptxas -v "${GENCODE[@]}" \
    -I"$SRC" "$SRC/trm_kernels.cu" -o "$FATBIN.tmp" >"$TARGET/ptxas-report.txt" 2>&1 \
    || { cat "$TARGET/ptxas-report.txt"; rm -f "$FATBIN.tmp"; echo "[kernels] ERROR: nvcc failed"; exit 1; }
  mv "$FATBIN.tmp" "$FATBIN"
  MAJOR=${RELEASE%%.*}; MINOR=${RELEASE##*.}
  {
    echo "# written by build-kernels.sh"
    echo "nvcc.release=$RELEASE"
    # A fatbin from toolkit X.Y loads on a driver of the same major X (SASS, minor-version compatibility); the PTX
    # JIT needs a driver >= X.Y. We require the toolkit's version: the probe refuses older drivers in words.
    echo "driver.required=$((MAJOR * 1000 + MINOR * 10))"
    echo "sass=sm_80,sm_86,sm_89,sm_90"
    echo "ptx=compute_80,compute_90"
  } >"$RES/kernels.properties"
  # One summary line per kernel and arch, from the ptxas report: registers and spills.
  awk '/Compiling entry function/ {gsub(/\047/, "", $0); fn=$7; arch=$9}
       /spill stores/ {sp=$5" spill stores, "$9" spill loads"}
       /Used [0-9]+ registers/ {printf "[kernels]   %-22s %-7s %3d registers, %s\n", fn, arch, $5, sp}' \
    "$TARGET/ptxas-report.txt" | grep "sm_90" || true
  echo "[kernels] ptxas report: $TARGET/ptxas-report.txt"
fi
if [ -n "$NVCC" ] && ! newer_than "$GRAPH_FATBIN"; then
  # The graph-control image, checked on its own (a toolkit that cannot build it never rebuilds the main one).
  # cudaGraphSetConditional is an extern device function that the DRIVER resolves at module load (like vprintf):
  # a whole-program build leaves it undefined in each cubin, and so does -rdc=true plus
  # a device link against libcudadevrt.a (checked with nvlink -keep-system-libraries and readelf -s on the cubin:
  # libcudadevrt does not define it). So it is built like the main fatbin, whole-program, with the PTX as the
  # fallback the driver JIT-links. Unverified on hardware here (no GPU on the build machine): that the driver
  # resolves the symbol when loading this image is what GpuDevice.supportsConditionalGraphs() probes at run time.
  echo "[kernels] nvcc: graph_control.cu -> graph_control.fatbin (same architectures)"
  "$NVCC" -fatbin -O3 -std=c++17 "${GENCODE[@]}" \
    -I"$SRC" "$SRC/graph_control.cu" -o "$GRAPH_FATBIN.tmp" \
    && mv "$GRAPH_FATBIN.tmp" "$GRAPH_FATBIN" \
    || { rm -f "$GRAPH_FATBIN.tmp" "$GRAPH_FATBIN"
         # A toolkit older than 12.3 has no cudaGraphSetConditional: the main kernels are unaffected, and the CUDA
         # device then reports conditional graphs as unsupported (graph_control.fatbin not built); solves with
         # early halting capture a plain graph instead.
         echo "[kernels] WARNING: nvcc failed on graph_control.cu (CUDA >= 12.3 needed): no conditional graphs"; }
fi

# ---- g++: the emulation library ---------------------------------------------------------------------------------
CXX="${CXX:-g++}"
# What both emulation libraries (plain, and with AddressSanitizer below) compile: the kernels, graph_control and the
# emulator's own check kernels, as C++ against emu/cuda_emu.h.
EMU_SOURCES=(-std=c++17 -fPIC -shared -Wall -I"$SRC" -x c++ "$SRC/trm_kernels.cu" -x c++ "$SRC/graph_control.cu"
             -x c++ "$CHECKS" -x c++ "$SRC/emu/cuda_emu.cpp")
PLATFORM="$(uname -s | tr 'A-Z' 'a-z')-$(uname -m)"
EMU="$RES/$PLATFORM/libtrm_kernels_emu.so"
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "[kernels] WARNING: $CXX not found: the emulation library is not built; the emulated device is unavailable"
elif newer_than "$EMU"; then
  echo "[kernels] emulation library up to date"
else
  mkdir -p "$RES/$PLATFORM"
  echo "[kernels] $CXX: trm_kernels.cu + graph_control.cu + emu_checks.cu + cuda_emu.cpp -> $PLATFORM/libtrm_kernels_emu.so"
  "$CXX" -O2 -Werror "${EMU_SOURCES[@]}" -o "$EMU.tmp"
  mv "$EMU.tmp" "$EMU"
fi

# ---- g++ -fsanitize=address: the same library with AddressSanitizer, for tests only (never packaged) -------------
# target/emu-asan/: libtrm_kernels_emu_asan.so and libasan.path (the runtime a JVM must preload to load it).
# EmulatedAsanTest runs kernels under it in a child JVM, where every load and store of a kernel is checked. A g++
# without libasan, or a failed build (its log: target/emu-asan/build.log), just skips it (TRM_EMU_ASAN=none skips it
# by choice).
ASAN_DIR="$TARGET/emu-asan"
ASAN_LIB="$ASAN_DIR/libtrm_kernels_emu_asan.so"
if [ "${TRM_EMU_ASAN:-}" = none ] || ! command -v "$CXX" >/dev/null 2>&1; then
  :
elif newer_than "$ASAN_LIB" && [ -f "$ASAN_DIR/libasan.path" ]; then
  echo "[kernels] emulation library with AddressSanitizer up to date"
else
  LIBASAN=$("$CXX" -print-file-name=libasan.so)
  mkdir -p "$ASAN_DIR"
  echo "[kernels] $CXX -fsanitize=address: the emulation library -> target/emu-asan/ (tests only)"
  # --param asan-use-after-return=0: no fake stacks in the code at all. The fibers switch stacks without saving them
  # (cuda_emu.cpp), and GCC 13's libasan turns detect_stack_use_after_return on by default: with fake stacks compiled
  # in, the JVM crashed in fiberMain (SIGSEGV) with that option on, so a by-hand run that omits it would crash.
  # No -Werror here: the plain library above already holds these sources to it, and a warning only some g++ versions
  # give under ASan (at -O1) would otherwise drop this library, and EmulatedAsanTest with it, as a mere skip.
  if [ ! -f "$LIBASAN" ]; then
    rm -f "$ASAN_LIB" "$ASAN_DIR/libasan.path"
    echo "[kernels] WARNING: $CXX has no libasan: no AddressSanitizer build (EmulatedAsanTest skips)"
  elif "$CXX" -O1 -g -fno-omit-frame-pointer -fsanitize=address --param asan-use-after-return=0 \
       "${EMU_SOURCES[@]}" -o "$ASAN_LIB.tmp" 2>"$ASAN_DIR/build.log"; then
    mv "$ASAN_LIB.tmp" "$ASAN_LIB"
    readlink -f "$LIBASAN" > "$ASAN_DIR/libasan.path"
  else
    rm -f "$ASAN_LIB.tmp" "$ASAN_LIB" "$ASAN_DIR/libasan.path"
    tail -n 20 "$ASAN_DIR/build.log"
    echo "[kernels] WARNING: the AddressSanitizer build failed (target/emu-asan/build.log): EmulatedAsanTest skips"
  fi
fi

# ---- g++: a FAKE CUDA driver, cuBLAS and cuBLASLt, for tests only (never packaged) -------------------------------
# target/fake-cuda/: libcuda.so.1, libcublas.so.13, libcublasLt.so.13 from src/test/fake-cuda/ (see fake_cuda.cpp):
# the driver API that dev.trm.gpu.CudaDriver calls, over host memory, running kernels through the emulation library
# above (the env var TRM_FAKE_CUDA_EMU names it). FakeCudaDriverTest (native) runs the CUDA path on it in a child JVM.
# Needs cuda.h (the toolkit's headers; no nvcc): without it, or when the build fails (target/fake-cuda/build.log),
# the test skips. TRM_FAKE_CUDA=none skips it by choice.
FAKE_SRC="$HERE/src/test/fake-cuda"
FAKE_DIR="$TARGET/fake-cuda"
FAKE_INCLUDE=""
for d in "${CUDA_HOME:-/nonexistent}/include" /usr/local/cuda/include; do
  [ -f "$d/cuda.h" ] && { FAKE_INCLUDE="$d"; break; }
done
fake_current() {  # true when every fake library is newer than its sources and this script
  for f in libcuda.so.1 libcublas.so.13 libcublasLt.so.13; do
    [ -f "$FAKE_DIR/$f" ] && [ -z "$(find "$FAKE_SRC" "$HERE/build-kernels.sh" -newer "$FAKE_DIR/$f" -print -quit)" ] \
      || return 1
  done
}
if [ "${TRM_FAKE_CUDA:-}" = none ] || ! command -v "$CXX" >/dev/null 2>&1; then
  :
elif [ -z "$FAKE_INCLUDE" ]; then
  rm -rf "$FAKE_DIR"
  echo "[kernels] WARNING: no cuda.h (set CUDA_HOME): the fake CUDA driver is not built (FakeCudaDriverTest skips)"
elif fake_current; then
  echo "[kernels] fake CUDA driver up to date"
else
  mkdir -p "$FAKE_DIR"
  echo "[kernels] $CXX: src/test/fake-cuda -> target/fake-cuda/ (fake libcuda, cuBLAS, cuBLASLt; tests only)"
  # The fake cuBLAS libraries link against the fake libcuda by its soname (RUNPATH $ORIGIN): in the JVM that is the
  # copy TRM_LIBCUDA already loaded, so their GEMMs go into its streams and captures.
  FAKE_FLAGS=(-O2 -std=c++17 -fPIC -shared -Wall -Werror -I"$FAKE_INCLUDE" -I"$FAKE_SRC")
  if "$CXX" "${FAKE_FLAGS[@]}" -Wl,-soname,libcuda.so.1 "$FAKE_SRC/fake_cuda.cpp" -o "$FAKE_DIR/libcuda.so.1" -ldl \
       2>"$FAKE_DIR/build.log" \
     && "$CXX" "${FAKE_FLAGS[@]}" -Wl,-soname,libcublasLt.so.13 -DFAKE_CUBLASLT "$FAKE_SRC/fake_cublas.cpp" \
       -o "$FAKE_DIR/libcublasLt.so.13" -L"$FAKE_DIR" -l:libcuda.so.1 -Wl,-rpath,'$ORIGIN' 2>>"$FAKE_DIR/build.log" \
     && "$CXX" "${FAKE_FLAGS[@]}" -Wl,-soname,libcublas.so.13 "$FAKE_SRC/fake_cublas.cpp" \
       -o "$FAKE_DIR/libcublas.so.13" -L"$FAKE_DIR" -l:libcuda.so.1 -Wl,-rpath,'$ORIGIN' 2>>"$FAKE_DIR/build.log"; then
    :
  else
    rm -f "$FAKE_DIR"/lib*.so*
    tail -n 20 "$FAKE_DIR/build.log"
    echo "[kernels] WARNING: the fake CUDA driver build failed (target/fake-cuda/build.log): FakeCudaDriverTest skips"
  fi
fi
