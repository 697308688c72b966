// FAKE cuBLAS (libcublas.so.13) and cuBLASLt (libcublasLt.so.13, built from this file with -DFAKE_CUBLASLT) for
// tests without a GPU: the entry points dev.trm.gpu's CudaDriver and CudaLtPlans call, over the emulation library's
// reference GEMM (emu_gemm: column-major, cublasGemmStridedBatchedEx semantics, fp32 accumulation, fp32 and bf16).
// GEMMs go into the stream through the fake libcuda (fake_cuda.h), so a capture records them like kernel launches.
// The signatures are cublas_api.h's and cublasLt.h's (as the jextract bindings show them; the headers are not
// installed here). Arguments are checked as cuBLAS documents (leading dimensions, operation and type codes, sizes
// of attribute values); operands must lie inside device allocations (a GPU would fault on anything else). It knows
// nothing of cuBLAS's real kernels: rounding order, split-K, workspace use.
#include "fake_cuda.h"

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>

#ifdef FAKE_CUBLASLT
#define FAKE_LIBRARY "cuBLASLt"
#else
#define FAKE_LIBRARY "cuBLAS"
#endif

namespace {

// cublas_api.h / library_types.h values (checked against the bindings by BindingsAndStatusTest where they matter).
enum Status { kSuccess = 0, kNotInitialized = 1, kInvalidValue = 7, kExecutionFailed = 13, kNotSupported = 15 };
constexpr int kOpN = 0, kOpT = 1;
constexpr int kR32F = 0, kR16BF = 14;
constexpr int kCompute32F = 68;

int fail(int status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
int fail(int status, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "[fake %s] ", FAKE_LIBRARY);
    std::vfprintf(stderr, fmt, ap);
    std::fprintf(stderr, "\n");
    va_end(ap);
    return status;
}

using EmuGemm = int (*)(int, int, int, int, int, float, const void*, int, int, long, const void*, int, int, long,
                        float, void*, int, int, long, int);

int emuType(int cudaType) {
    return cudaType == kR32F ? 0 : cudaType == kR16BF ? 1 : -1;
}

// The extent (in elements) of a column-major rows x cols operand with leading dimension ld, batch after batch.
size_t extent(long rows, long cols, long ld, long stride, int batch) {
    if (rows == 0 || cols == 0 || batch == 0) return 0;
    return (size_t)((batch - 1) * stride + (cols - 1) * ld + rows);
}

// One strided-batched GEMM, checked and enqueued: C = alpha op(A) op(B) + beta C, column-major, op(A) m x k.
int gemm(CUstream stream, int transA, int transB, int m, int n, int k, float alpha, const void* A, int aType, long lda,
         long strideA, const void* B, int bType, long ldb, long strideB, float beta, void* C, int cType, long ldc,
         long strideC, int batch, const char* what) {
    if (!fakecuda::ready()) return fail(kNotInitialized, "%s: the CUDA context is not usable", what);
    if ((transA != kOpN && transA != kOpT) || (transB != kOpN && transB != kOpT)) {
        return fail(kInvalidValue, "%s: operations %d, %d (N = 0, T = 1)", what, transA, transB);
    }
    if (m < 0 || n < 0 || k < 0 || batch < 0) return fail(kInvalidValue, "%s: m %d n %d k %d batch %d", what, m, n, k, batch);
    long aRows = transA == kOpN ? m : k, aCols = transA == kOpN ? k : m;
    long bRows = transB == kOpN ? k : n, bCols = transB == kOpN ? n : k;
    if (lda < (aRows > 1 ? aRows : 1) || ldb < (bRows > 1 ? bRows : 1) || ldc < (m > 1 ? m : 1)) {
        return fail(kInvalidValue, "%s: lda %ld (A has %ld rows), ldb %ld (B %ld rows), ldc %ld (C %d rows)", what, lda,
                    aRows, ldb, bRows, ldc, m);
    }
    // fp32 compute: A and B of one type, C fp32 or that type (cublasGemmEx's table for CUBLAS_COMPUTE_32F).
    if (emuType(aType) < 0 || aType != bType || emuType(cType) < 0 || (cType != aType && cType != kR32F)) {
        return fail(kNotSupported, "%s: types A %d B %d C %d", what, aType, bType, cType);
    }
    size_t ea = aType == kR32F ? 4 : 2, ec = cType == kR32F ? 4 : 2;
    if (m > 0 && n > 0 && batch > 0) {
        if (!fakecuda::deviceRange(C, extent(m, n, ldc, strideC, batch) * ec) ||
            (k > 0 && (!fakecuda::deviceRange(A, extent(aRows, aCols, lda, strideA, batch) * ea) ||
                       !fakecuda::deviceRange(B, extent(bRows, bCols, ldb, strideB, batch) * ea)))) {
            // On a GPU: an illegal address, the context lost.
            return fail(kExecutionFailed, "%s: an operand reaches outside its device allocation (m %d n %d k %d, "
                        "lda %ld ldb %ld ldc %ld, strides %ld %ld %ld, batch %d)", what, m, n, k, lda, ldb, ldc,
                        strideA, strideB, strideC, batch);
        }
    }
    EmuGemm run = reinterpret_cast<EmuGemm>(fakecuda::emuSymbol("emu_gemm"));
    if (run == nullptr) return fail(kNotInitialized, "%s: no emu_gemm", what);
    int ta = transA == kOpT, tb = transB == kOpT, at = emuType(aType), bt = emuType(bType), ct = emuType(cType);
    CUresult r = fakecuda::enqueue(stream, [=] {
        int rc = run(ta, tb, m, n, k, alpha, A, at, (int)lda, strideA, B, bt, (int)ldb, strideB, beta, C, ct, (int)ldc,
                     strideC, batch);
        return rc == 0 ? CUDA_SUCCESS : CUDA_ERROR_LAUNCH_FAILED;
    });
    return r == CUDA_SUCCESS ? kSuccess : fail(kExecutionFailed, "%s: enqueue failed with CUresult %d", what, (int)r);
}

}  // namespace

#ifndef FAKE_CUBLASLT
// ---- cuBLAS ------------------------------------------------------------------------------------------------------
namespace {
struct Handle {
    CUstream stream = nullptr;
    void* workspace = nullptr;
    size_t workspaceBytes = 0;
};
std::set<Handle*> handles;

Handle* handle(void* h) {
    Handle* p = static_cast<Handle*>(h);
    return handles.count(p) ? p : nullptr;
}
}  // namespace

extern "C" {
int cublasCreate_v2(void** out) {
    if (out == nullptr) return fail(kInvalidValue, "cublasCreate: NULL");
    if (!fakecuda::ready()) return fail(kNotInitialized, "cublasCreate: no current CUDA context");
    Handle* h = new Handle();
    handles.insert(h);
    *out = h;
    return kSuccess;
}

int cublasDestroy_v2(void* h) {
    Handle* p = handle(h);
    if (p == nullptr) return fail(kNotInitialized, "cublasDestroy: unknown handle %p", h);
    handles.erase(p);
    delete p;
    return kSuccess;
}

int cublasSetStream_v2(void* h, CUstream stream) {
    Handle* p = handle(h);
    if (p == nullptr) return fail(kNotInitialized, "cublasSetStream: unknown handle %p", h);
    p->stream = stream;
    // "unconditionally resets the cuBLAS library workspace back to the default workspace pool" (cuBLAS guide)
    p->workspace = nullptr;
    p->workspaceBytes = 0;
    return kSuccess;
}

int cublasSetWorkspace_v2(void* h, void* workspace, size_t bytes) {
    Handle* p = handle(h);
    if (p == nullptr) return fail(kNotInitialized, "cublasSetWorkspace: unknown handle %p", h);
    if (bytes > 0 && (workspace == nullptr || (uintptr_t)workspace % 256 != 0 ||
                      !fakecuda::deviceRange(workspace, bytes))) {
        return fail(kInvalidValue, "cublasSetWorkspace: %zu bytes at %p are not a 256-byte aligned device range", bytes,
                    workspace);
    }
    p->workspace = workspace;
    p->workspaceBytes = bytes;
    return kSuccess;
}

int cublasGemmStridedBatchedEx(void* h, int transa, int transb, int m, int n, int k, const void* alpha, const void* A,
                               int Atype, int lda, long long strideA, const void* B, int Btype, int ldb,
                               long long strideB, const void* beta, void* C, int Ctype, int ldc, long long strideC,
                               int batchCount, int computeType, int algo) {
    Handle* p = handle(h);
    if (p == nullptr) return fail(kNotInitialized, "cublasGemmStridedBatchedEx: unknown handle %p", h);
    if (alpha == nullptr || beta == nullptr) return fail(kInvalidValue, "cublasGemmStridedBatchedEx: NULL alpha or beta");
    if (computeType != kCompute32F) return fail(kNotSupported, "cublasGemmStridedBatchedEx: compute type %d", computeType);
    if (algo < -1 || algo > 23) return fail(kInvalidValue, "cublasGemmStridedBatchedEx: algo %d", algo);
    // Host pointer mode (the default): alpha and beta are read now, so a captured GEMM keeps these values.
    float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
    return gemm(p->stream, transa, transb, m, n, k, a, A, Atype, lda, strideA, B, Btype, ldb, strideB, b, C, Ctype, ldc,
                strideC, batchCount, "cublasGemmStridedBatchedEx");
}
}  // extern "C"

#else
// ---- cuBLASLt ----------------------------------------------------------------------------------------------------
namespace {
// cublasLt.h attribute numbers (BindingsAndStatusTest checks the ones the Java side uses).
constexpr int kDescTransA = 3, kDescTransB = 4;
constexpr int kLayoutBatchCount = 5, kLayoutStridedBatchOffset = 6;
constexpr int kPrefMaxWorkspaceBytes = 1, kPrefMinAlignA = 5, kPrefMinAlignD = 8;

struct LtHandle {};
struct Desc {
    int compute, scale, transA = kOpN, transB = kOpN;
};
struct Layout {
    int type;
    uint64_t rows, cols;
    int64_t ld;
    int32_t batch = 1;
    int64_t stride = 0;
};
struct Pref {
    uint64_t maxWorkspace = 0;
    uint32_t align[4] = {256, 256, 256, 256};  // A, B, C, D: the heuristic's default assumption
};
// What our algorithm "structure" (cublasLtMatmulAlgo_t, 64 opaque bytes) holds: a mark and the alignments it assumed.
struct Algo {
    uint64_t magic;
    uint32_t align[4];
};
constexpr uint64_t kAlgoMagic = 0x46414b45414c474full;  // "FAKEALGO"

std::set<LtHandle*> lts;
std::set<Desc*> descs;
std::set<Layout*> layouts;
std::set<Pref*> prefs;

template <typename T>
bool setValue(T& field, const void* buf, size_t size) {  // cuBLASLt wants exactly the attribute's size
    if (buf == nullptr || size != sizeof(T)) return false;
    std::memcpy(&field, buf, sizeof(T));
    return true;
}

// The m, n, k, batch of op(A) op(B) -> C from the layouts, or an error.
int shape(const Desc* d, const Layout* a, const Layout* b, const Layout* c, long* m, long* n, long* k) {
    *m = d->transA == kOpN ? a->rows : a->cols;
    *k = d->transA == kOpN ? a->cols : a->rows;
    long bk = d->transB == kOpN ? b->rows : b->cols;
    *n = d->transB == kOpN ? b->cols : b->rows;
    if (bk != *k || (long)c->rows != *m || (long)c->cols != *n) {
        return fail(kInvalidValue, "op(A) %ld x %ld, op(B) %ld x %ld and C %lu x %lu do not chain", *m, *k, bk, *n,
                    (unsigned long)c->rows, (unsigned long)c->cols);
    }
    if (a->batch != c->batch || b->batch != c->batch) {
        return fail(kInvalidValue, "batch counts A %d B %d C %d differ", a->batch, b->batch, c->batch);
    }
    return kSuccess;
}
}  // namespace

extern "C" {
int cublasLtCreate(void** out) {
    if (out == nullptr) return fail(kInvalidValue, "cublasLtCreate: NULL");
    LtHandle* h = new LtHandle();
    lts.insert(h);
    *out = h;
    return kSuccess;
}

int cublasLtDestroy(void* h) {
    if (!lts.erase(static_cast<LtHandle*>(h))) return fail(kNotInitialized, "cublasLtDestroy: unknown handle %p", h);
    delete static_cast<LtHandle*>(h);
    return kSuccess;
}

int cublasLtMatmulDescCreate(void** out, int computeType, int scaleType) {
    if (out == nullptr) return fail(kInvalidValue, "cublasLtMatmulDescCreate: NULL");
    if (computeType != kCompute32F || scaleType != kR32F) {
        return fail(kNotSupported, "cublasLtMatmulDescCreate: compute %d scale %d (the fake has fp32 only)", computeType,
                    scaleType);
    }
    Desc* d = new Desc{computeType, scaleType};
    descs.insert(d);
    *out = d;
    return kSuccess;
}

int cublasLtMatmulDescDestroy(void* d) {
    if (!descs.erase(static_cast<Desc*>(d))) return fail(kInvalidValue, "cublasLtMatmulDescDestroy: unknown %p", d);
    delete static_cast<Desc*>(d);
    return kSuccess;
}

int cublasLtMatmulDescSetAttribute(void* hd, int attr, const void* buf, size_t size) {
    Desc* d = static_cast<Desc*>(hd);
    if (!descs.count(d)) return fail(kInvalidValue, "cublasLtMatmulDescSetAttribute: unknown descriptor %p", hd);
    int32_t v = -1;
    if (attr != kDescTransA && attr != kDescTransB) {
        return fail(kNotSupported, "cublasLtMatmulDescSetAttribute(%d) is not modelled by the fake", attr);
    }
    if (!setValue(v, buf, size) || (v != kOpN && v != kOpT)) {
        return fail(kInvalidValue, "cublasLtMatmulDescSetAttribute(%d): %zu bytes, value %d", attr, size,
                    v);
    }
    (attr == kDescTransA ? d->transA : d->transB) = v;
    return kSuccess;
}

int cublasLtMatrixLayoutCreate(void** out, int type, uint64_t rows, uint64_t cols, int64_t ld) {
    if (out == nullptr) return fail(kInvalidValue, "cublasLtMatrixLayoutCreate: NULL");
    if (emuType(type) < 0) return fail(kNotSupported, "cublasLtMatrixLayoutCreate: type %d", type);
    if (ld < (int64_t)(rows > 1 ? rows : 1)) {
        return fail(kInvalidValue, "cublasLtMatrixLayoutCreate: ld %lld < %llu rows (column-major)", (long long)ld,
                    (unsigned long long)rows);
    }
    Layout* l = new Layout{type, rows, cols, ld};
    layouts.insert(l);
    *out = l;
    return kSuccess;
}

int cublasLtMatrixLayoutDestroy(void* l) {
    if (!layouts.erase(static_cast<Layout*>(l))) return fail(kInvalidValue, "cublasLtMatrixLayoutDestroy: unknown %p", l);
    delete static_cast<Layout*>(l);
    return kSuccess;
}

int cublasLtMatrixLayoutSetAttribute(void* hl, int attr, const void* buf, size_t size) {
    Layout* l = static_cast<Layout*>(hl);
    if (!layouts.count(l)) return fail(kInvalidValue, "cublasLtMatrixLayoutSetAttribute: unknown layout %p", hl);
    bool ok = attr == kLayoutBatchCount           ? setValue(l->batch, buf, size) && l->batch >= 1
              : attr == kLayoutStridedBatchOffset ? setValue(l->stride, buf, size)
                                                  : false;
    if (attr != kLayoutBatchCount && attr != kLayoutStridedBatchOffset) {
        return fail(kNotSupported, "cublasLtMatrixLayoutSetAttribute(%d) is not modelled by the fake", attr);
    }
    return ok ? kSuccess : fail(kInvalidValue, "cublasLtMatrixLayoutSetAttribute(%d): %zu bytes", attr, size);
}

int cublasLtMatmulPreferenceCreate(void** out) {
    if (out == nullptr) return fail(kInvalidValue, "cublasLtMatmulPreferenceCreate: NULL");
    Pref* p = new Pref();
    prefs.insert(p);
    *out = p;
    return kSuccess;
}

int cublasLtMatmulPreferenceDestroy(void* p) {
    if (!prefs.erase(static_cast<Pref*>(p))) return fail(kInvalidValue, "cublasLtMatmulPreferenceDestroy: unknown %p", p);
    delete static_cast<Pref*>(p);
    return kSuccess;
}

int cublasLtMatmulPreferenceSetAttribute(void* hp, int attr, const void* buf, size_t size) {
    Pref* p = static_cast<Pref*>(hp);
    if (!prefs.count(p)) return fail(kInvalidValue, "cublasLtMatmulPreferenceSetAttribute: unknown preference %p", hp);
    bool ok;
    if (attr == kPrefMaxWorkspaceBytes) {
        ok = setValue(p->maxWorkspace, buf, size);
    } else if (attr >= kPrefMinAlignA && attr <= kPrefMinAlignD) {
        uint32_t& a = p->align[attr - kPrefMinAlignA];
        ok = setValue(a, buf, size) && a > 0 && (a & (a - 1)) == 0;
    } else {
        return fail(kNotSupported, "cublasLtMatmulPreferenceSetAttribute(%d) is not modelled by the fake", attr);
    }
    return ok ? kSuccess : fail(kInvalidValue, "cublasLtMatmulPreferenceSetAttribute(%d): %zu bytes", attr, size);
}

// The heuristic result struct of cublasLt.h: the algorithm (64 bytes), workspaceSize, state, wavesCount, reserved[4].
struct HeuristicResult {
    uint64_t algo[8];
    size_t workspaceSize;
    int state;
    float wavesCount;
    int reserved[4];
};

int cublasLtMatmulAlgoGetHeuristic(void* h, void* hd, void* ha, void* hb, void* hc, void* hdd, void* hp,
                                   int requested, HeuristicResult* results, int* returned) {
    Desc* d = static_cast<Desc*>(hd);
    Layout *a = static_cast<Layout*>(ha), *b = static_cast<Layout*>(hb), *c = static_cast<Layout*>(hc),
           *dd = static_cast<Layout*>(hdd);
    Pref* p = static_cast<Pref*>(hp);
    if (!lts.count(static_cast<LtHandle*>(h))) return fail(kNotInitialized, "cublasLtMatmulAlgoGetHeuristic: unknown handle");
    if (!descs.count(d) || !layouts.count(a) || !layouts.count(b) || !layouts.count(c) || !layouts.count(dd) ||
        !prefs.count(p) || requested < 1 || results == nullptr || returned == nullptr) {
        return fail(kInvalidValue, "cublasLtMatmulAlgoGetHeuristic: an unknown descriptor or NULL output");
    }
    long m, n, k;
    if (int st = shape(d, a, b, c, &m, &n, &k)) return st;
    std::memset(results, 0, sizeof(HeuristicResult));
    Algo algo{kAlgoMagic, {p->align[0], p->align[1], p->align[2], p->align[3]}};
    std::memcpy(results[0].algo, &algo, sizeof algo);
    results[0].workspaceSize = 0;
    results[0].state = kSuccess;
    results[0].wavesCount = 1;
    *returned = 1;
    return kSuccess;
}

int cublasLtMatmul(void* h, void* hd, const void* alpha, const void* A, void* ha, const void* B, void* hb,
                   const void* beta, const void* C, void* hc, void* D, void* hdd, const uint64_t* halgo,
                   void* workspace, size_t workspaceBytes, CUstream stream) {
    Desc* d = static_cast<Desc*>(hd);
    Layout *a = static_cast<Layout*>(ha), *b = static_cast<Layout*>(hb), *c = static_cast<Layout*>(hc),
           *dd = static_cast<Layout*>(hdd);
    if (!lts.count(static_cast<LtHandle*>(h))) return fail(kNotInitialized, "cublasLtMatmul: unknown handle");
    if (!descs.count(d) || !layouts.count(a) || !layouts.count(b) || !layouts.count(c) || !layouts.count(dd) ||
        alpha == nullptr || beta == nullptr) {
        return fail(kInvalidValue, "cublasLtMatmul: an unknown descriptor, or NULL alpha or beta");
    }
    if (C != D || c->type != dd->type || c->rows != dd->rows || c->cols != dd->cols || c->ld != dd->ld) {
        return fail(kNotSupported, "cublasLtMatmul: the fake computes in place only (C = D, same layout)");
    }
    long m, n, k;
    if (int st = shape(d, a, b, c, &m, &n, &k)) return st;
    if (halgo != nullptr) {  // NULL: cuBLASLt runs its own heuristic
        Algo algo;
        std::memcpy(&algo, halgo, sizeof algo);
        if (algo.magic != kAlgoMagic) return fail(kInvalidValue, "cublasLtMatmul: not an algorithm of the heuristic");
        const void* ptrs[4] = {A, B, C, D};
        for (int i = 0; i < 4; i++) {
            // The algorithm was picked for operands aligned to what the preference promised: others are refused.
            if ((uintptr_t)ptrs[i] % algo.align[i] != 0) {
                return fail(kNotSupported, "cublasLtMatmul: operand %c at %p is not aligned to the %u bytes the "
                            "algorithm was chosen for", "ABCD"[i], ptrs[i], algo.align[i]);
            }
        }
    }
    if (workspaceBytes > 0 && !fakecuda::deviceRange(workspace, workspaceBytes)) {
        return fail(kInvalidValue, "cublasLtMatmul: the workspace (%zu bytes at %p) is not device memory",
                    workspaceBytes, workspace);
    }
    float fa = *static_cast<const float*>(alpha), fb = *static_cast<const float*>(beta);
    return gemm(stream, d->transA, d->transB, (int)m, (int)n, (int)k, fa, A, a->type, a->ld, a->stride, B, b->type,
                b->ld, b->stride, fb, D, c->type, c->ld, c->stride, c->batch, "cublasLtMatmul");
}
}  // extern "C"
#endif
