// Kernel registry: kernels register themselves statically (one file per op
// family, linked with alwayslink) under (domain, op_type) and an opset range.
#ifndef ONNXC_KERNELS_REGISTRY_H_
#define ONNXC_KERNELS_REGISTRY_H_

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ir/graph.h"
#include "ir/node.h"
#include "kernels/kernel_options.h"
#include "kernels/ktensor.h"

namespace onnxc {
namespace kernels {

// Runs a subgraph (If/Loop bodies) with the current frame as outer scope.
class SubgraphRunner {
 public:
  virtual ~SubgraphRunner() = default;
  virtual absl::StatusOr<std::vector<KTensor>> RunSubgraph(const Graph& g,
                                                           std::vector<KTensor> inputs) = 0;
};

inline const KernelOptions kDefaultKernelOptions{};

struct OpContext {
  const Node& node;
  int opset;
  std::vector<const KTensor*> in;  // nullptr: omitted optional input
  std::vector<KTensor> out;        // one per node output, filled by the kernel
  int threads = 1;
  SubgraphRunner* sub = nullptr;
  const KernelOptions* options = &kDefaultKernelOptions;

  int num_inputs() const { return static_cast<int>(in.size()); }
  bool has(int i) const { return i < num_inputs() && in[i] != nullptr; }
  const KTensor& input(int i) const { return *in[i]; }
  int64_t attr_i(const char* n, int64_t def) const { return node.GetInt(n, def); }
  float attr_f(const char* n, float def) const { return node.GetFloat(n, def); }
  std::string attr_s(const char* n, const std::string& def) const { return node.GetString(n, def); }
  std::vector<int64_t> attr_ints(const char* n) const { return node.GetInts(n); }
  bool has_attr(const char* n) const { return node.attr(n) != nullptr; }
  absl::Status Error(absl::string_view msg) const {
    return absl::InvalidArgumentError(msg);
  }
};

using KernelFn = absl::Status (*)(OpContext&);
// Optional static check (attributes, known types); nullptr: always fine.
using SupportFn = bool (*)(const Node&, int opset);

struct KernelDef {
  std::string domain;
  std::string op_type;
  int since = 1;
  int until = 1000;  // inclusive
  KernelFn fn = nullptr;
  SupportFn supports = nullptr;
};

bool RegisterKernel(KernelDef def);
// "" and "ai.onnx" are the same domain.
const KernelDef* FindKernel(const std::string& domain, const std::string& op_type, int opset);
std::vector<const KernelDef*> AllKernels();

#define ONNXC_CAT2(a, b) a##b
#define ONNXC_CAT(a, b) ONNXC_CAT2(a, b)
// ONNXC_REGISTER_KERNEL("Relu", 1, 1000, ReluKernel[, SupportFn])
#define ONNXC_REGISTER_KERNEL(op, since, until, ...)                                     \
  static const bool ONNXC_CAT(onnxc_kernel_reg_, __COUNTER__) =                           \
      ::onnxc::kernels::RegisterKernel(::onnxc::kernels::MakeDef("", op, since, until, __VA_ARGS__))

inline KernelDef MakeDef(const char* domain, const char* op, int since, int until, KernelFn fn,
                         SupportFn s = nullptr) {
  KernelDef d;
  d.domain = domain;
  d.op_type = op;
  d.since = since;
  d.until = until;
  d.fn = fn;
  d.supports = s;
  return d;
}

// ---- Helpers shared by kernels.

// Calls f(begin, end) over [0, n) split across up to `threads` workers of a
// process-wide pool (the caller runs one share). Small n runs inline.
void ParallelFor(int threads, int64_t n, const std::function<void(int64_t, int64_t)>& f,
                 int64_t min_per_task = 1);

// Row-major C = alpha * op(A) * op(B) + beta * C.
void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);
// Same on the calling thread only (for kernels that parallelise themselves).
void SgemmSerial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc);
void SetBlasThreads(int n);

// Conv with its weights given explicitly (the executor folds
// BatchNormalization into them) and an activation applied in cache:
// y = clamp(conv(x) + b [+ residual], lo, hi) (Relu: [0, inf), Clip:
// [min, max]; residual: a following Add folded in).
struct Epilogue {
  // kClamp: min(hi, max(lo, y)) (Relu, Clip). kSwish: y * sigmoid(y) (SiLU,
  // written in ONNX as Sigmoid and Mul).
  enum Kind { kNone, kClamp, kSwish } kind = kNone;
  float lo = -INFINITY, hi = INFINITY;
};
// The other input of an Add folded into a Conv. Must be FLOAT with the
// conv's output dims (the executor checks, see ConvOutputDims).
struct ConvResidual {
  const KTensor* t = nullptr;
  // Its last use and nothing else shares the buffer: the result may be
  // written over it.
  bool writable = false;
};
absl::Status ConvWithEpilogue(OpContext& c, const KTensor& w, const KTensor* b,
                              const Epilogue& epi, const ConvResidual& res = {});
// Output dims of Conv(x, w) with the node's attributes.
absl::StatusOr<std::vector<int64_t>> ConvOutputDims(const OpContext& c, const KTensor& x,
                                                    const KTensor& w);

// ---- oneDNN (only in a -DONNXC_CONV_DNNL build; otherwise the functions
// below report "not handled" and every tensor stays plain).

// Same as ConvWithEpilogue through oneDNN's convolution primitive
// (conv_dnnl.cc). The input and residual may be in a oneDNN layout
// (KTensor::layout); with `blocked_out` the result stays in the layout the
// primitive produces. *cache keeps the primitives and reordered weights
// per input shape and layout. *done = false: not handled (use
// ConvWithEpilogue on plain inputs).
bool DnnlConvAvailable(const KernelOptions& options);
absl::Status DnnlConv(OpContext& c, const KTensor& w, const KTensor* b, const Epilogue& epi,
                      const ConvResidual& res, bool blocked_out, std::shared_ptr<void>* cache,
                      bool* done);
// 2-D MaxPool / AveragePool through oneDNN in the input's layout
// (pool_dnnl.cc). *done = false: not handled.
absl::Status DnnlPool(OpContext& c, std::shared_ptr<void>* cache, bool* done);
// A tensor in a oneDNN layout reordered to plain NCHW (dnnl_layout.cc);
// plain ones are returned as they are.
KTensor ToPlainLayout(const KTensor& t);

// Numpy broadcast of two shapes; error if incompatible.
absl::StatusOr<std::vector<int64_t>> BroadcastShapes(const std::vector<int64_t>& a,
                                                     const std::vector<int64_t>& b);
// Strides (in elements) of `dims` aligned to `out` rank, 0 on broadcast axes.
std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& dims,
                                      const std::vector<int64_t>& out);
int64_t NormAxis(int64_t axis, int64_t rank);
// Converts any numeric tensor to float32 (shares if already float).
KTensor ToFloat(const KTensor& t);
// Converts into a given type.
KTensor CastTo(const KTensor& t, DataType to);

// Type dispatch over the numeric types the executor computes in.
#define ONNXC_DISPATCH_CASE(TYPE_ENUM, CTYPE, ...) \
  case TYPE_ENUM: {                                \
    using T = CTYPE;                               \
    __VA_ARGS__;                                   \
    break;                                         \
  }
#define ONNXC_DISPATCH_ALL(type, ctx, ...)                                                  \
  switch (type) {                                                                          \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::FLOAT, float, __VA_ARGS__)                    \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::DOUBLE, double, __VA_ARGS__)                  \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::INT64, int64_t, __VA_ARGS__)                  \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::INT32, int32_t, __VA_ARGS__)                  \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::INT16, int16_t, __VA_ARGS__)                  \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::INT8, int8_t, __VA_ARGS__)                    \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::UINT8, uint8_t, __VA_ARGS__)                  \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::UINT16, uint16_t, __VA_ARGS__)                \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::UINT32, uint32_t, __VA_ARGS__)                \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::UINT64, uint64_t, __VA_ARGS__)                \
    ONNXC_DISPATCH_CASE(::onnx::TensorProto::BOOL, bool, __VA_ARGS__)                      \
    default:                                                                               \
      return (ctx).Error(absl::StrCat("unsupported element type ", DataTypeName(type)));   \
  }

}  // namespace kernels
}  // namespace onnxc

#endif  // ONNXC_KERNELS_REGISTRY_H_
