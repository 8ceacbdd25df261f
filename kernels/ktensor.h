// KTensor: the executor's internal tensor. A typed, shaped view of a shared,
// 64-byte aligned buffer. Unlike ir::Tensor it can be reshaped without a copy,
// its buffers are not zero-filled, and weights are shared with the IR's
// initializers (no copy). FLOAT16/BFLOAT16 data is converted to FLOAT on entry.
#ifndef ONNXC_KERNELS_KTENSOR_H_
#define ONNXC_KERNELS_KTENSOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/data_type.h"
#include "ir/tensor.h"

namespace onnxc {
namespace kernels {

using TP = onnx::TensorProto;

struct KTensor {
  DataType type = TP::UNDEFINED;
  std::vector<int64_t> dims;
  std::shared_ptr<void> holder;  // keeps `data` alive
  void* data = nullptr;
  // Memory layout of a 3-5-D activation; dims always stay the logical NCHW
  // dims. 0: plain; 1: channels last (nhwc); 8, 16: oneDNN's blocked
  // nC..hw{8,16}c (channels padded to a multiple of 8 or 16). Only the fused
  // plan's oneDNN steps produce and read non-plain tensors; the executor
  // reorders them to plain before any other kernel, an observer or a graph
  // output sees them.
  int layout = 0;

  bool valid() const { return type != TP::UNDEFINED; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  size_t nbytes() const {
    int64_t n = numel();
    if (layout > 1 && rank() >= 2 && dims[1] > 0) {
      n = n / dims[1] * ((dims[1] + layout - 1) / layout * layout);
    }
    return static_cast<size_t>(n) * ElementSize(type);
  }
  template <typename T> const T* ptr() const { return static_cast<const T*>(data); }
  template <typename T> T* mut() { return static_cast<T*>(data); }
  // Same buffer, other dims (element count must match).
  KTensor Reshaped(std::vector<int64_t> new_dims) const {
    KTensor t = *this;
    t.dims = std::move(new_dims);
    return t;
  }

  // Uninitialised aligned buffer (`layout`: see above).
  static KTensor Alloc(DataType type, std::vector<int64_t> dims, int layout = 0);
  static KTensor Scalar(DataType type, double v);
  // Shares the tensor's bytes (no copy) unless conversion is needed
  // (FLOAT16/BFLOAT16 -> FLOAT). STRING is refused.
  static absl::StatusOr<KTensor> FromTensor(const Tensor& t);
  // Copies into an IR tensor.
  Tensor ToTensor() const;
  // Element i as double / int64 (slow path, for small shape tensors).
  double At(int64_t i) const;
  int64_t IntAt(int64_t i) const;
  std::vector<int64_t> ToInt64Vector() const;
  std::vector<float> ToFloatVector() const;
};

std::string ShapeString(const std::vector<int64_t>& dims);

// Size-keyed free list of aligned buffers. While a ScopedBufferPool is active
// on a thread, KTensor::Alloc on that thread takes buffers from the pool and
// they return to it when their last KTensor goes away (on any thread), so
// repeated runs of the same shapes allocate (and page-fault) nothing.
class BufferPool {
 public:
  BufferPool() = default;
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  // A buffer of at least `bytes` (64-byte aligned); *capacity gets its size.
  void* Acquire(size_t bytes, size_t* capacity);
  void Release(void* p, size_t capacity);
  // Frees idle buffers that were not handed out since the previous Trim
  // (shapes that stopped occurring).
  void Trim();
  size_t idle_bytes() const;

 private:
  struct Idle {
    void* p;
    bool used;  // in use since the last Trim
  };
  mutable std::mutex mu_;
  std::multimap<size_t, Idle> idle_;  // capacity -> buffer
  size_t idle_bytes_ = 0;
};

class ScopedBufferPool {
 public:
  explicit ScopedBufferPool(std::shared_ptr<BufferPool> pool);
  ~ScopedBufferPool();
  ScopedBufferPool(const ScopedBufferPool&) = delete;
  ScopedBufferPool& operator=(const ScopedBufferPool&) = delete;

 private:
  std::shared_ptr<BufferPool> prev_;
};

}  // namespace kernels
}  // namespace onnxc

#endif  // ONNXC_KERNELS_KTENSOR_H_
