// BatchNormalization (inference), LayerNormalization, InstanceNormalization,
// LRN, Softmax, LogSoftmax, Hardmax.
#include <cmath>
#include <cstring>

#include <Eigen/Core>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

absl::Status BatchNormKernel(OpContext& c) {
  if (c.attr_i("training_mode", 0) != 0) return c.Error("training_mode is not supported");
  KTensor x = ToFloat(c.input(0));
  KTensor scale = ToFloat(c.input(1)), bias = ToFloat(c.input(2)), mean = ToFloat(c.input(3)),
          var = ToFloat(c.input(4));
  float eps = c.attr_f("epsilon", 1e-5f);
  int64_t N = x.dims[0], C = x.rank() > 1 ? x.dims[1] : 1;
  int64_t inner = x.numel() / std::max<int64_t>(N * C, 1);
  if (scale.numel() != C || bias.numel() != C || mean.numel() != C || var.numel() != C) {
    return c.Error("BatchNormalization parameters must have C elements");
  }
  std::vector<float> a(C), b(C);
  for (int64_t i = 0; i < C; ++i) {
    a[i] = scale.ptr<float>()[i] / std::sqrt(var.ptr<float>()[i] + eps);
    b[i] = bias.ptr<float>()[i] - mean.ptr<float>()[i] * a[i];
  }
  KTensor y = KTensor::Alloc(TP::FLOAT, x.dims);
  const float* px = x.ptr<float>();
  float* py = y.mut<float>();
  ParallelFor(c.threads, N * C, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      float av = a[i % C], bv = b[i % C];
      const float* r = px + i * inner;
      float* o = py + i * inner;
      for (int64_t j = 0; j < inner; ++j) o[j] = r[j] * av + bv;
    }
  }, 8);
  c.out[0] = std::move(y);
  for (size_t i = 1; i < c.out.size(); ++i) {  // running stats pass through
    c.out[i] = i == 1 ? mean : var;
  }
  return absl::OkStatus();
}

absl::Status LayerNormKernel(OpContext& c) {
  KTensor x = ToFloat(c.input(0));
  int64_t axis = NormAxis(c.attr_i("axis", -1), x.rank());
  float eps = c.attr_f("epsilon", 1e-5f);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < x.rank(); ++i) (i < axis ? outer : inner) *= x.dims[i];
  KTensor scale = ToFloat(c.input(1));
  KTensor bias;
  if (c.has(2)) bias = ToFloat(c.input(2));
  std::vector<int64_t> pdims(x.dims.begin() + axis, x.dims.end());
  std::vector<int64_t> ss = BroadcastStrides(scale.dims, pdims);
  std::vector<int64_t> bs = bias.valid() ? BroadcastStrides(bias.dims, pdims) : std::vector<int64_t>();
  bool scale_full = scale.numel() == inner, bias_full = !bias.valid() || bias.numel() == inner;
  std::vector<float> sc(inner), bi(inner, 0.f);
  // Expand scale/bias to `inner` elements (they broadcast to x.shape[axis:]).
  {
    std::vector<int64_t> idx(pdims.size(), 0);
    for (int64_t j = 0; j < inner; ++j) {
      int64_t os = 0, ob = 0;
      for (size_t d = 0; d < pdims.size(); ++d) {
        os += idx[d] * ss[d];
        if (bias.valid()) ob += idx[d] * bs[d];
      }
      sc[j] = scale_full ? scale.ptr<float>()[j] : scale.ptr<float>()[os];
      if (bias.valid()) bi[j] = bias_full ? bias.ptr<float>()[j] : bias.ptr<float>()[ob];
      for (int64_t d = static_cast<int64_t>(pdims.size()) - 1; d >= 0; --d) {
        if (++idx[d] < pdims[d]) break;
        idx[d] = 0;
      }
    }
  }
  KTensor y = KTensor::Alloc(TP::FLOAT, x.dims);
  std::vector<int64_t> sdims = x.dims;
  for (int64_t i = axis; i < x.rank(); ++i) sdims[i] = 1;
  KTensor mean_t = KTensor::Alloc(TP::FLOAT, sdims), inv_t = KTensor::Alloc(TP::FLOAT, sdims);
  const float* px = x.ptr<float>();
  float* py = y.mut<float>();
  float* pm = mean_t.mut<float>();
  float* pi = inv_t.mut<float>();
  Eigen::Map<const Eigen::ArrayXf> scv(sc.data(), inner), biv(bi.data(), inner);
  // Rows are independent: vectorised along the row (Eigen), split over
  // threads across rows. Two passes (mean, then the centred squares): the
  // one-pass E[x^2] - E[x]^2 cancels badly when the mean is large. Eigen's
  // sums keep one accumulator per SIMD lane, so float is accurate enough.
  ParallelFor(c.threads, outer, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      Eigen::Map<const Eigen::ArrayXf> r(px + i * inner, inner);
      Eigen::Map<Eigen::ArrayXf> o(py + i * inner, inner);
      const float m = r.sum() / static_cast<float>(inner);
      o = r - m;  // centred row, reused for the variance and the output
      const float var = o.square().sum() / static_cast<float>(inner);
      const float inv = 1.f / std::sqrt(var + eps);
      o = o * inv * scv + biv;
      pm[i] = m;
      pi[i] = inv;
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1)));
  c.out[0] = std::move(y);
  if (c.out.size() > 1) c.out[1] = mean_t;
  if (c.out.size() > 2) c.out[2] = inv_t;
  return absl::OkStatus();
}

absl::Status InstanceNormKernel(OpContext& c) {
  KTensor x = ToFloat(c.input(0));
  KTensor scale = ToFloat(c.input(1)), bias = ToFloat(c.input(2));
  float eps = c.attr_f("epsilon", 1e-5f);
  int64_t N = x.dims[0], C = x.dims[1];
  int64_t inner = x.numel() / std::max<int64_t>(N * C, 1);
  KTensor y = KTensor::Alloc(TP::FLOAT, x.dims);
  const float* px = x.ptr<float>();
  float* py = y.mut<float>();
  for (int64_t i = 0; i < N * C; ++i) {
    const float* r = px + i * inner;
    double sum = 0, sq = 0;
    for (int64_t j = 0; j < inner; ++j) sum += r[j];
    double mean = sum / inner;
    for (int64_t j = 0; j < inner; ++j) sq += (r[j] - mean) * (r[j] - mean);
    float inv = static_cast<float>(1.0 / std::sqrt(sq / inner + eps));
    float a = scale.ptr<float>()[i % C] * inv;
    float b = bias.ptr<float>()[i % C] - static_cast<float>(mean) * a;
    for (int64_t j = 0; j < inner; ++j) py[i * inner + j] = r[j] * a + b;
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status LRNKernel(OpContext& c) {
  KTensor x = ToFloat(c.input(0));
  float alpha = c.attr_f("alpha", 1e-4f), beta = c.attr_f("beta", 0.75f), bias = c.attr_f("bias", 1.f);
  int64_t size = c.attr_i("size", 1);
  int64_t N = x.dims[0], C = x.dims[1];
  int64_t inner = x.numel() / std::max<int64_t>(N * C, 1);
  KTensor y = KTensor::Alloc(TP::FLOAT, x.dims);
  const float* px = x.ptr<float>();
  int64_t lo_off = (size - 1) / 2, hi_off = size / 2 + (size % 2 == 0 ? 0 : 0);
  hi_off = static_cast<int64_t>(std::ceil((size - 1) / 2.0));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t j = 0; j < inner; ++j) {
        float sq = 0;
        for (int64_t k = std::max<int64_t>(0, ch - lo_off); k <= std::min(C - 1, ch + hi_off); ++k) {
          float v = px[(n * C + k) * inner + j];
          sq += v * v;
        }
        float v = px[(n * C + ch) * inner + j];
        y.mut<float>()[(n * C + ch) * inner + j] = v / std::pow(bias + alpha / size * sq, beta);
      }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

enum class SoftKind { kSoftmax, kLogSoftmax, kHardmax };

absl::Status SoftmaxFamily(OpContext& c, SoftKind kind) {
  KTensor x = ToFloat(c.input(0));
  int64_t r = x.rank();
  int64_t axis = NormAxis(c.attr_i("axis", c.opset >= 13 ? -1 : 1), r);
  if (r == 0) axis = 0;
  if (axis < 0 || (r > 0 && axis >= r)) return c.Error("axis out of range");
  // opset < 13: coerce to 2-D [prod(:axis), prod(axis:)] and normalise rows.
  // opset >= 13: normalise along `axis` alone.
  int64_t outer = 1, len = 1, inner = 1;
  if (c.opset < 13) {
    for (int64_t i = 0; i < r; ++i) (i < axis ? outer : len) *= x.dims[i];
  } else {
    for (int64_t i = 0; i < r; ++i) {
      if (i < axis) outer *= x.dims[i];
      else if (i == axis) len = x.dims[i];
      else inner *= x.dims[i];
    }
  }
  KTensor y = KTensor::Alloc(TP::FLOAT, x.dims);
  const float* px = x.ptr<float>();
  float* py = y.mut<float>();
  using Row = Eigen::Map<const Eigen::ArrayXf>;
  using OutRow = Eigen::Map<Eigen::ArrayXf>;
  if (x.numel() == 0) {
    c.out[0] = std::move(y);
    return absl::OkStatus();
  }
  if (inner > 1 && kind != SoftKind::kHardmax) {
    // The axis is not the innermost (e.g. softmax over the channels of an
    // NCHW map): the `len` values of one output are `inner` apart, so walk
    // them as `len` contiguous rows of a chunk of `inner`, vectorised across
    // the chunk, instead of one strided scalar pass per output.
    constexpr int64_t kChunk = 256;
    const int64_t chunks = (inner + kChunk - 1) / kChunk;
    ParallelFor(c.threads, outer * chunks, [&](int64_t s, int64_t e) {
      Eigen::ArrayXf mx(kChunk), sum(kChunk);
      for (int64_t t = s; t < e; ++t) {
        const int64_t o = t / chunks, c0 = (t % chunks) * kChunk, w = std::min(kChunk, inner - c0);
        const float* xb = px + o * len * inner + c0;
        float* yb = py + o * len * inner + c0;
        auto m = mx.head(w);
        auto sm = sum.head(w);
        m = Row(xb, w);
        for (int64_t j = 1; j < len; ++j) m = m.max(Row(xb + j * inner, w));
        sm.setZero();
        for (int64_t j = 0; j < len; ++j) {
          if (kind == SoftKind::kSoftmax) {
            OutRow yr(yb + j * inner, w);
            yr = (Row(xb + j * inner, w) - m).exp();
            sm += yr;
          } else {
            sm += (Row(xb + j * inner, w) - m).exp();
          }
        }
        if (kind == SoftKind::kSoftmax) {
          sm = sm.inverse();
          for (int64_t j = 0; j < len; ++j) OutRow(yb + j * inner, w) *= sm;
        } else {
          m += sm.log();  // log-softmax = x - (max + log(sum))
          for (int64_t j = 0; j < len; ++j) OutRow(yb + j * inner, w) = Row(xb + j * inner, w) - m;
        }
      }
    }, std::max<int64_t>(1, 4096 / std::max<int64_t>(len * kChunk, 1)));
    c.out[0] = std::move(y);
    return absl::OkStatus();
  }
  ParallelFor(c.threads, outer * inner, [&](int64_t s, int64_t e) {
    for (int64_t oi = s; oi < e; ++oi) {
      int64_t o = oi / inner, in = oi % inner;
      const float* xr = px + o * len * inner + in;
      float* yr = py + o * len * inner + in;
      if (inner == 1 && kind != SoftKind::kHardmax) {
        // Softmax over the last axis (attention rows, classifier outputs):
        // Eigen's vectorised max and exp over the row.
        Row xrow(xr, len);
        OutRow row(yr, len);
        const float mx = xrow.maxCoeff();
        if (kind == SoftKind::kSoftmax) {
          row = (xrow - mx).exp();
          row *= static_cast<float>(1.0 / row.template cast<double>().sum());
        } else {
          const double sum = (xrow - mx).exp().template cast<double>().sum();
          row = xrow - (mx + static_cast<float>(std::log(sum)));
        }
        continue;
      }
      // Hardmax: the first maximum along the axis.
      float mx = -INFINITY;
      int64_t arg = 0;
      for (int64_t j = 0; j < len; ++j) {
        if (xr[j * inner] > mx) {
          mx = xr[j * inner];
          arg = j;
        }
      }
      for (int64_t j = 0; j < len; ++j) yr[j * inner] = j == arg ? 1.f : 0.f;
    }
  }, 16);
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status SoftmaxKernel(OpContext& c) { return SoftmaxFamily(c, SoftKind::kSoftmax); }
absl::Status LogSoftmaxKernel(OpContext& c) { return SoftmaxFamily(c, SoftKind::kLogSoftmax); }
absl::Status HardmaxKernel(OpContext& c) { return SoftmaxFamily(c, SoftKind::kHardmax); }

bool BatchNormSupported(const Node& n, int) { return n.GetInt("training_mode", 0) == 0; }

ONNXC_REGISTER_KERNEL("BatchNormalization", 1, 1000, BatchNormKernel, BatchNormSupported);
ONNXC_REGISTER_KERNEL("LayerNormalization", 17, 1000, LayerNormKernel);
ONNXC_REGISTER_KERNEL("InstanceNormalization", 1, 1000, InstanceNormKernel);
ONNXC_REGISTER_KERNEL("LRN", 1, 1000, LRNKernel);
ONNXC_REGISTER_KERNEL("Softmax", 1, 1000, SoftmaxKernel);
ONNXC_REGISTER_KERNEL("LogSoftmax", 1, 1000, LogSoftmaxKernel);
ONNXC_REGISTER_KERNEL("Hardmax", 1, 1000, HardmaxKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
