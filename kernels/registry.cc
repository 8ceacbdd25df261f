#include "kernels/registry.h"

#include <algorithm>
#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#ifndef ONNXC_GEMM_OPENBLAS
#include <Eigen/Core>
#endif

extern "C" {
// OpenBLAS's CBLAS (declared here so no extra include path is needed).
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
void openblas_set_num_threads(int n);
#ifdef ONNXC_GEMM_DNNL
// oneDNN's C API (libdnnl2; dnnl_dim_t is int64_t, row-major, returns dnnl_status_t).
int dnnl_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);
void omp_set_num_threads(int n);
#endif
}

namespace onnxc {
namespace kernels {
namespace {

struct Registry {
  absl::flat_hash_map<std::string, std::vector<KernelDef>> by_key;  // "domain/op"
};
Registry& GetRegistry() {
  static Registry* r = new Registry;
  return *r;
}
std::string NormDomain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

// Bounded busy-wait before blocking: during a model run jobs follow each
// other every few microseconds, and waking a thread blocked on a condition
// variable takes ~50 us, more than many steps of a batch-1 CNN take. After
// ~50 us of spinning the waiter blocks, so an idle or oversubscribed machine
// loses little (libgomp's unbounded spinning made 2-thread runs 5-60x slower
// under load, see kernels/BENCHMARK.md).
template <typename Ready>
void SpinFor(Ready ready) {
  using Clock = std::chrono::steady_clock;
  const auto until = Clock::now() + std::chrono::microseconds(50);
  for (int i = 0; !ready(); ++i) {
    _mm_pause();
    if ((i & 63) == 63 && Clock::now() > until) return;
  }
}

// A tiny persistent pool: one job at a time, chunks handed out atomically.
class Pool {
 public:
  static Pool& Get() {
    static Pool* p = new Pool;
    return *p;
  }
  void Run(int threads, int64_t chunks, const std::function<void(int64_t)>& f) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    EnsureWorkers(threads - 1);
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = &f;
      chunks_ = chunks;
      next_.store(0);
      finished_ = 0;
      wanted_ = threads - 1;
      ++gen_;
    }
    cv_.notify_all();
    in_pool_ = true;
    Work(f, chunks);
    in_pool_ = false;
    SpinFor([&] { return finished_.load() == chunks && in_job_.load() == 0; });
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [&] { return finished_ == chunks_ && in_job_ == 0; });
    job_ = nullptr;
  }
  static thread_local bool in_pool_;

 private:
  void Work(const std::function<void(int64_t)>& f, int64_t chunks) {
    int64_t local = 0;
    for (int64_t i; (i = next_.fetch_add(1)) < chunks;) {
      f(i);
      ++local;
    }
    std::lock_guard<std::mutex> l(mu_);
    finished_ += local;
    if (finished_ == chunks_) done_cv_.notify_all();
  }
  void EnsureWorkers(int n) {
    while (static_cast<int>(workers_) < n) {
      int id = workers_++;
      std::thread([this, id] { Loop(id); }).detach();
    }
  }
  void Loop(int id) {
    in_pool_ = true;
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int64_t)>* f;
      int64_t chunks;
      SpinFor([&] { return gen_.load() != seen; });
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return gen_ != seen && job_ != nullptr; });
        seen = gen_;
        if (id >= wanted_) continue;
        f = job_;
        chunks = chunks_;
        ++in_job_;
      }
      Work(*f, chunks);
      std::lock_guard<std::mutex> l(mu_);
      --in_job_;
      if (in_job_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex run_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  int workers_ = 0;
  const std::function<void(int64_t)>* job_ = nullptr;
  // Written under mu_; atomic so SpinFor may read them without it.
  int64_t chunks_ = 0;
  std::atomic<int64_t> finished_{0};
  std::atomic<int> in_job_{0};
  std::atomic<uint64_t> gen_{0};
  int wanted_ = 0;
  std::atomic<int64_t> next_{0};
};
thread_local bool Pool::in_pool_ = false;

}  // namespace

bool RegisterKernel(KernelDef def) {
  def.domain = NormDomain(def.domain);
  std::string key = absl::StrCat(def.domain, "/", def.op_type);
  GetRegistry().by_key[key].push_back(std::move(def));
  return true;
}

const KernelDef* FindKernel(const std::string& domain, const std::string& op_type, int opset) {
  auto& m = GetRegistry().by_key;
  auto it = m.find(absl::StrCat(NormDomain(domain), "/", op_type));
  if (it == m.end()) return nullptr;
  for (const KernelDef& d : it->second) {
    if (opset >= d.since && opset <= d.until) return &d;
  }
  return nullptr;
}

std::vector<const KernelDef*> AllKernels() {
  std::vector<const KernelDef*> out;
  for (auto& [k, v] : GetRegistry().by_key)
    for (auto& d : v) out.push_back(&d);
  return out;
}

void ParallelFor(int threads, int64_t n, const std::function<void(int64_t, int64_t)>& f,
                 int64_t min_per_task) {
  if (n <= 0) return;
  int64_t tasks = std::min<int64_t>(threads, n / std::max<int64_t>(min_per_task, 1));
  if (threads <= 1 || tasks <= 1 || Pool::in_pool_) {
    f(0, n);
    return;
  }
  int64_t per = (n + tasks - 1) / tasks;
  std::function<void(int64_t)> chunk = [&](int64_t i) {
    int64_t b = i * per, e = std::min(n, b + per);
    if (b < e) f(b, e);
  };
  Pool::Get().Run(static_cast<int>(tasks), tasks, chunk);
}

namespace {
int g_gemm_threads = 1;

#ifndef ONNXC_GEMM_OPENBLAS
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
using OutMap = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;

// Columns [n0, n0 + nn) of C, single-threaded Eigen.
void EigenGemmCols(bool ta, bool tb, int64_t m, int64_t n0, int64_t nn, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                   int64_t ldc) {
  OutMap C(c + n0, m, nn, Eigen::OuterStride<>(ldc));
  auto run = [&](const auto& A) {
    if (!tb) {
      ConstMap B(b + n0, k, nn, Eigen::OuterStride<>(ldb));
      if (beta == 0.f) C.noalias() = alpha * (A * B);
      else { if (beta != 1.f) C *= beta; C.noalias() += alpha * (A * B); }
    } else {
      ConstMap Bt(b + n0 * ldb, nn, k, Eigen::OuterStride<>(ldb));
      if (beta == 0.f) C.noalias() = alpha * (A * Bt.transpose());
      else { if (beta != 1.f) C *= beta; C.noalias() += alpha * (A * Bt.transpose()); }
    }
  };
  if (!ta) run(ConstMap(a, m, k, Eigen::OuterStride<>(lda)));
  else run(ConstMap(a, k, m, Eigen::OuterStride<>(lda)).transpose());
}
#endif
}  // namespace

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0 ? 0.f : beta * c[i * ldc + j];
    return;
  }
#ifdef ONNXC_GEMM_OPENBLAS
  cblas_sgemm(101, trans_a ? 112 : 111, trans_b ? 112 : 111, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
#else
  // Eigen (measured faster than OpenBLAS here, see gemm_bench.cc), split by
  // columns of C over the executor's own pool: one single-threaded Eigen
  // product per thread, so no OpenMP spinning against the other core.
  int64_t flops = m * n * k;
  int threads = g_gemm_threads;
  if (threads > 1 && flops >= (int64_t{1} << 18) && n >= 32) {
    int64_t per = ((n + threads - 1) / threads + 15) / 16 * 16;
    ParallelFor(threads, (n + per - 1) / per, [&](int64_t s, int64_t e) {
      for (int64_t t = s; t < e; ++t) {
        int64_t n0 = t * per, nn = std::min(n, n0 + per) - n0;
        if (nn > 0) EigenGemmCols(trans_a, trans_b, m, n0, nn, k, alpha, a, lda, b, ldb, beta, c, ldc);
      }
    });
  } else if (threads > 1 && flops >= (int64_t{1} << 18) && m >= 32 && !trans_a) {
    // Few columns (late layers, batch 1): split rows instead.
    int64_t per = (m + threads - 1) / threads;
    ParallelFor(threads, threads, [&](int64_t s, int64_t e) {
      for (int64_t t = s; t < e; ++t) {
        int64_t m0 = t * per, mm = std::min(m, m0 + per) - m0;
        if (mm > 0) EigenGemmCols(false, trans_b, mm, 0, n, k, alpha, a + m0 * lda, lda, b, ldb, beta, c + m0 * ldc, ldc);
      }
    });
  } else {
    EigenGemmCols(trans_a, trans_b, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
#endif
}

void SgemmSerial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef ONNXC_GEMM_OPENBLAS
  Sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  if (k == 0) {
    Sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#ifdef ONNXC_GEMM_DNNL
  // One OpenMP thread per calling thread: the executor's pool parallelises.
  thread_local bool omp_set = false;
  if (!omp_set) {
    omp_set_num_threads(1);
    omp_set = true;
  }
  if (dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta,
                 c, ldc) == 0) {
    return;
  }
#endif
  EigenGemmCols(trans_a, trans_b, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

void SetBlasThreads(int n) {
  g_gemm_threads = n;
#ifdef ONNXC_GEMM_OPENBLAS
  static int current = -1;
  if (n != current) {
    openblas_set_num_threads(n);
    current = n;
  }
#endif
}

absl::StatusOr<std::vector<int64_t>> BroadcastShapes(const std::vector<int64_t>& a,
                                                     const std::vector<int64_t>& b) {
  size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeString(a), " and ",
                                                     ShapeString(b), " do not broadcast"));
    }
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& dims,
                                      const std::vector<int64_t>& out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(dims.size()) - 1; i >= 0; --i) {
    size_t o = out.size() - dims.size() + i;
    s[o] = dims[i] == 1 ? 0 : stride;
    stride *= dims[i];
  }
  return s;
}

int64_t NormAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

template <typename From, typename To>
static void ConvertLoop(const From* in, To* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<To>(in[i]);
}

KTensor CastTo(const KTensor& t, DataType to) {
  if (t.type == to) return t;
  KTensor o = KTensor::Alloc(to, t.dims);
  int64_t n = t.numel();
#define ONNXC_CAST_TO(FROM_T)                                                         \
  switch (to) {                                                                        \
    case TP::FLOAT: ConvertLoop(t.ptr<FROM_T>(), o.mut<float>(), n); break;            \
    case TP::DOUBLE: ConvertLoop(t.ptr<FROM_T>(), o.mut<double>(), n); break;          \
    case TP::INT64: ConvertLoop(t.ptr<FROM_T>(), o.mut<int64_t>(), n); break;          \
    case TP::INT32: ConvertLoop(t.ptr<FROM_T>(), o.mut<int32_t>(), n); break;          \
    case TP::INT16: ConvertLoop(t.ptr<FROM_T>(), o.mut<int16_t>(), n); break;          \
    case TP::INT8: ConvertLoop(t.ptr<FROM_T>(), o.mut<int8_t>(), n); break;            \
    case TP::UINT8: ConvertLoop(t.ptr<FROM_T>(), o.mut<uint8_t>(), n); break;          \
    case TP::UINT16: ConvertLoop(t.ptr<FROM_T>(), o.mut<uint16_t>(), n); break;        \
    case TP::UINT32: ConvertLoop(t.ptr<FROM_T>(), o.mut<uint32_t>(), n); break;        \
    case TP::UINT64: ConvertLoop(t.ptr<FROM_T>(), o.mut<uint64_t>(), n); break;        \
    case TP::BOOL: {                                                                   \
      const FROM_T* in = t.ptr<FROM_T>();                                              \
      bool* out = o.mut<bool>();                                                       \
      for (int64_t i = 0; i < n; ++i) out[i] = in[i] != FROM_T(0);                     \
      break;                                                                           \
    }                                                                                  \
    default: std::memset(o.data, 0, o.nbytes());                                       \
  }
  switch (t.type) {
    case TP::FLOAT: ONNXC_CAST_TO(float) break;
    case TP::DOUBLE: ONNXC_CAST_TO(double) break;
    case TP::INT64: ONNXC_CAST_TO(int64_t) break;
    case TP::INT32: ONNXC_CAST_TO(int32_t) break;
    case TP::INT16: ONNXC_CAST_TO(int16_t) break;
    case TP::INT8: ONNXC_CAST_TO(int8_t) break;
    case TP::UINT8: ONNXC_CAST_TO(uint8_t) break;
    case TP::UINT16: ONNXC_CAST_TO(uint16_t) break;
    case TP::UINT32: ONNXC_CAST_TO(uint32_t) break;
    case TP::UINT64: ONNXC_CAST_TO(uint64_t) break;
    case TP::BOOL: ONNXC_CAST_TO(bool) break;
    default: std::memset(o.data, 0, o.nbytes());
  }
#undef ONNXC_CAST_TO
  return o;
}

KTensor ToFloat(const KTensor& t) { return CastTo(t, TP::FLOAT); }

}  // namespace kernels
}  // namespace onnxc
