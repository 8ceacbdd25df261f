#include "kernels/ktensor.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onnxc {
namespace kernels {

namespace {
thread_local std::shared_ptr<BufferPool>* t_pool = nullptr;

size_t RoundUp64(size_t bytes) {
  size_t rounded = ((bytes + 63) / 64) * 64;
  return rounded == 0 ? 64 : rounded;
}
}  // namespace

BufferPool::~BufferPool() {
  for (auto& [cap, idle] : idle_) std::free(idle.p);
}

void* BufferPool::Acquire(size_t bytes, size_t* capacity) {
  size_t rounded = RoundUp64(bytes);
  {
    std::lock_guard<std::mutex> l(mu_);
    // Smallest idle buffer that fits, if it wastes at most a quarter.
    auto it = idle_.lower_bound(rounded);
    if (it != idle_.end() && it->first - rounded <= rounded / 4) {
      void* p = it->second.p;
      *capacity = it->first;
      idle_bytes_ -= it->first;
      idle_.erase(it);
      return p;
    }
  }
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  *capacity = rounded;
  return p;
}

void BufferPool::Release(void* p, size_t capacity) {
  std::lock_guard<std::mutex> l(mu_);
  idle_.emplace(capacity, Idle{p, true});
  idle_bytes_ += capacity;
}

void BufferPool::Trim() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (!it->second.used) {
      std::free(it->second.p);
      idle_bytes_ -= it->first;
      it = idle_.erase(it);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

size_t BufferPool::idle_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return idle_bytes_;
}

ScopedBufferPool::ScopedBufferPool(std::shared_ptr<BufferPool> pool) {
  if (t_pool != nullptr) prev_ = *t_pool;
  if (t_pool == nullptr) t_pool = new std::shared_ptr<BufferPool>();
  *t_pool = std::move(pool);
}

ScopedBufferPool::~ScopedBufferPool() { *t_pool = std::move(prev_); }

KTensor KTensor::Alloc(DataType type, std::vector<int64_t> dims, int layout) {
  KTensor t;
  t.type = type;
  t.dims = std::move(dims);
  t.layout = layout;
  size_t bytes = t.nbytes();
  if (t_pool != nullptr && *t_pool != nullptr && bytes >= 256) {
    std::shared_ptr<BufferPool> pool = *t_pool;
    size_t cap = 0;
    void* p = pool->Acquire(bytes, &cap);
    t.holder = std::shared_ptr<void>(p, [pool = std::move(pool), cap](void* q) {
      pool->Release(q, cap);
    });
    t.data = p;
    return t;
  }
  void* p = std::aligned_alloc(64, RoundUp64(bytes));
  if (p == nullptr) throw std::bad_alloc();
  t.holder = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  t.data = p;
  return t;
}

KTensor KTensor::Scalar(DataType type, double v) {
  KTensor t = Alloc(type, {});
  switch (type) {
    case TP::FLOAT: *t.mut<float>() = static_cast<float>(v); break;
    case TP::DOUBLE: *t.mut<double>() = v; break;
    case TP::INT64: *t.mut<int64_t>() = static_cast<int64_t>(v); break;
    case TP::INT32: *t.mut<int32_t>() = static_cast<int32_t>(v); break;
    case TP::INT8: *t.mut<int8_t>() = static_cast<int8_t>(v); break;
    case TP::UINT8: *t.mut<uint8_t>() = static_cast<uint8_t>(v); break;
    case TP::BOOL: *t.mut<bool>() = v != 0; break;
    default: std::memset(t.data, 0, ElementSize(type));
  }
  return t;
}

absl::StatusOr<KTensor> KTensor::FromTensor(const Tensor& src) {
  if (src.type() == TP::STRING || ElementSize(src.type()) == 0) {
    return absl::UnimplementedError(
        absl::StrCat("tensors of type ", DataTypeName(src.type()), " are not supported"));
  }
  absl::Status st = src.Load();
  if (!st.ok()) return st;
  if (src.type() == TP::FLOAT16 || src.type() == TP::BFLOAT16) {
    KTensor t = Alloc(TP::FLOAT, src.dims());
    const uint16_t* in = src.data<uint16_t>();
    float* out = t.mut<float>();
    int64_t n = t.numel();
    bool half = src.type() == TP::FLOAT16;
    for (int64_t i = 0; i < n; ++i) out[i] = half ? HalfToFloat(in[i]) : BFloat16ToFloat(in[i]);
    return t;
  }
  KTensor t;
  t.type = src.type();
  t.dims = src.dims();
  auto keep = std::make_shared<Tensor>(src);  // shares storage
  t.data = const_cast<char*>(keep->raw());
  if ((reinterpret_cast<uintptr_t>(t.data) % 16) != 0) {
    // Misaligned storage (rare): copy into an aligned buffer.
    KTensor c = Alloc(t.type, t.dims);
    std::memcpy(c.data, t.data, t.nbytes());
    return c;
  }
  t.holder = keep;
  return t;
}

Tensor KTensor::ToTensor() const {
  Tensor t(type, dims);
  if (nbytes() > 0) std::memcpy(t.mutable_raw(), data, nbytes());
  return t;
}

double KTensor::At(int64_t i) const {
  switch (type) {
    case TP::FLOAT: return ptr<float>()[i];
    case TP::DOUBLE: return ptr<double>()[i];
    case TP::INT64: return static_cast<double>(ptr<int64_t>()[i]);
    case TP::INT32: return ptr<int32_t>()[i];
    case TP::INT16: return ptr<int16_t>()[i];
    case TP::UINT16: return ptr<uint16_t>()[i];
    case TP::UINT32: return ptr<uint32_t>()[i];
    case TP::UINT64: return static_cast<double>(ptr<uint64_t>()[i]);
    case TP::INT8: return ptr<int8_t>()[i];
    case TP::UINT8: return ptr<uint8_t>()[i];
    case TP::BOOL: return ptr<bool>()[i] ? 1 : 0;
    default: return 0;
  }
}

int64_t KTensor::IntAt(int64_t i) const {
  switch (type) {
    case TP::INT64: return ptr<int64_t>()[i];
    case TP::INT32: return ptr<int32_t>()[i];
    case TP::UINT64: return static_cast<int64_t>(ptr<uint64_t>()[i]);
    default: return static_cast<int64_t>(At(i));
  }
}

std::vector<int64_t> KTensor::ToInt64Vector() const {
  std::vector<int64_t> v(numel());
  for (int64_t i = 0; i < numel(); ++i) v[i] = IntAt(i);
  return v;
}

std::vector<float> KTensor::ToFloatVector() const {
  std::vector<float> v(numel());
  if (type == TP::FLOAT) {
    if (!v.empty()) std::memcpy(v.data(), data, v.size() * 4);
  } else {
    for (int64_t i = 0; i < numel(); ++i) v[i] = static_cast<float>(At(i));
  }
  return v;
}

std::string ShapeString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

}  // namespace kernels
}  // namespace onnxc
