// MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool.
#include <cfloat>
#include <cmath>

#include "kernels/registry.h"
#include "kernels/spatial.h"

namespace onnxc {
namespace kernels {
namespace {

enum class PoolKind { kMax, kAvg, kLp };

absl::Status Pool(OpContext& c, PoolKind kind) {
  KTensor x = ToFloat(c.input(0));
  if (x.rank() < 3) return c.Error("pooling needs rank >= 3");
  std::vector<int64_t> kernel = c.attr_ints("kernel_shape");
  std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end());
  if (kernel.size() != in.size()) return c.Error("kernel_shape rank does not match input");
  bool ceil_mode = c.attr_i("ceil_mode", 0) != 0;
  auto geo = ComputeGeometry(c, in, kernel, ceil_mode);
  if (!geo.ok()) return geo.status();
  const Geometry& g = *geo;
  bool include_pad = c.attr_i("count_include_pad", 0) != 0;
  float p = static_cast<float>(c.attr_i("p", 2));
  int64_t storage_order = c.attr_i("storage_order", 0);
  const int64_t N = x.dims[0], C = x.dims[1], nd = g.nd;
  std::vector<int64_t> odims = {N, C};
  odims.insert(odims.end(), g.out.begin(), g.out.end());
  KTensor y = KTensor::Alloc(TP::FLOAT, odims);
  bool want_idx = kind == PoolKind::kMax && c.out.size() > 1;
  KTensor idx;
  if (want_idx) idx = KTensor::Alloc(TP::INT64, odims);
  int64_t in_size = 1, out_size = 1;
  for (int64_t i = 0; i < nd; ++i) {
    in_size *= g.in[i];
    out_size *= g.out[i];
  }
  const float* px = x.ptr<float>();
  float* py = y.mut<float>();
  if (nd == 2 && kind == PoolKind::kMax && !want_idx) {
    // Fast 2-D max pool: clip the window to the input once per output.
    const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
    ParallelFor(c.threads, N * C, [&](int64_t s, int64_t e) {
      for (int64_t plane = s; plane < e; ++plane) {
        const float* xp = px + plane * in_size;
        float* yp = py + plane * out_size;
        for (int64_t oh = 0; oh < OH; ++oh) {
          int64_t h0 = oh * g.strides[0] - g.pad_begin[0];
          for (int64_t ow = 0; ow < OW; ++ow) {
            int64_t w0 = ow * g.strides[1] - g.pad_begin[1];
            float m = -INFINITY;
            for (int64_t kh = 0; kh < g.kernel[0]; ++kh) {
              int64_t h = h0 + kh * g.dilations[0];
              if (h < 0 || h >= H) continue;
              const float* row = xp + h * W;
              for (int64_t kw = 0; kw < g.kernel[1]; ++kw) {
                int64_t w = w0 + kw * g.dilations[1];
                if (w >= 0 && w < W) m = std::max(m, row[w]);
              }
            }
            yp[oh * OW + ow] = m;
          }
        }
      }
    });
    c.out[0] = std::move(y);
    return absl::OkStatus();
  }
  ParallelFor(c.threads, N * C, [&](int64_t s, int64_t e) {
    std::vector<int64_t> o(nd), start(nd), t(nd), cnt_full(nd);
    for (int64_t plane = s; plane < e; ++plane) {
      const float* xp = px + plane * in_size;
      std::fill(o.begin(), o.end(), 0);
      for (int64_t oi = 0; oi < out_size; ++oi) {
        int64_t include_count = 1;
        for (int64_t d = 0; d < nd; ++d) {
          start[d] = o[d] * g.strides[d] - g.pad_begin[d];
          int64_t end = std::min(start[d] + (g.kernel[d] - 1) * g.dilations[d] + 1,
                                 g.in[d] + g.pad_end[d]);
          include_count *= (end - start[d] + g.dilations[d] - 1) / g.dilations[d];
        }
        // Walk the taps.
        float acc = kind == PoolKind::kMax ? -INFINITY : 0.f;
        int64_t best = -1, valid = 0;
        std::fill(t.begin(), t.end(), 0);
        int64_t taps = 1;
        for (int64_t d = 0; d < nd; ++d) taps *= g.kernel[d];
        for (int64_t k = 0; k < taps; ++k) {
          int64_t off = 0;
          bool inside = true;
          for (int64_t d = 0; d < nd; ++d) {
            int64_t pos = start[d] + t[d] * g.dilations[d];
            if (pos < 0 || pos >= g.in[d]) {
              inside = false;
              break;
            }
            off = off * g.in[d] + pos;
          }
          if (inside) {
            float v = xp[off];
            ++valid;
            if (kind == PoolKind::kMax) {
              if (v > acc || best < 0) {
                acc = v > acc || best < 0 ? v : acc;
                best = off;
              }
            } else if (kind == PoolKind::kAvg) {
              acc += v;
            } else {
              acc += std::pow(std::fabs(v), p);
            }
          }
          for (int64_t d = nd - 1; d >= 0; --d) {
            if (++t[d] < g.kernel[d]) break;
            t[d] = 0;
          }
        }
        float r;
        if (kind == PoolKind::kMax) {
          r = acc;
        } else if (kind == PoolKind::kAvg) {
          int64_t div = include_pad ? include_count : valid;
          r = div > 0 ? acc / static_cast<float>(div) : 0.f;
        } else {
          r = std::pow(acc, 1.f / p);
        }
        py[plane * out_size + oi] = r;
        if (want_idx) {
          int64_t flat = best;
          if (storage_order == 1 && nd == 2 && best >= 0) {
            int64_t h = best / g.in[1], w = best % g.in[1];
            flat = w * g.in[0] + h;
          }
          idx.mut<int64_t>()[plane * out_size + oi] = plane * in_size + flat;
        }
        for (int64_t d = nd - 1; d >= 0; --d) {
          if (++o[d] < g.out[d]) break;
          o[d] = 0;
        }
      }
    }
  });
  c.out[0] = std::move(y);
  if (want_idx) c.out[1] = std::move(idx);
  return absl::OkStatus();
}

absl::Status MaxPoolKernel(OpContext& c) {
  if (c.input(0).type == TP::UINT8 || c.input(0).type == TP::INT8) {
    // Integer max pool: compute in float and convert back (exact).
    DataType t = c.input(0).type;
    auto st = Pool(c, PoolKind::kMax);
    if (st.ok()) c.out[0] = CastTo(c.out[0], t);
    return st;
  }
  return Pool(c, PoolKind::kMax);
}
absl::Status AveragePoolKernel(OpContext& c) { return Pool(c, PoolKind::kAvg); }
absl::Status LpPoolKernel(OpContext& c) { return Pool(c, PoolKind::kLp); }

enum class GlobalKind { kAvg, kMax, kLp };
absl::Status GlobalPool(OpContext& c, GlobalKind kind) {
  KTensor x = ToFloat(c.input(0));
  if (x.rank() < 2) return c.Error("global pooling needs rank >= 2");
  int64_t planes = x.dims[0] * x.dims[1];
  int64_t size = x.numel() / std::max<int64_t>(planes, 1);
  std::vector<int64_t> od = {x.dims[0], x.dims[1]};
  for (int64_t i = 2; i < x.rank(); ++i) od.push_back(1);
  KTensor y = KTensor::Alloc(TP::FLOAT, od);
  float p = static_cast<float>(c.attr_i("p", 2));
  const float* px = x.ptr<float>();
  float* py = y.mut<float>();
  for (int64_t i = 0; i < planes; ++i) {
    const float* r = px + i * size;
    if (kind == GlobalKind::kMax) {
      float m = -INFINITY;
      for (int64_t j = 0; j < size; ++j) m = std::max(m, r[j]);
      py[i] = m;
    } else if (kind == GlobalKind::kAvg) {
      float s = 0;
      for (int64_t j = 0; j < size; ++j) s += r[j];
      py[i] = s / static_cast<float>(size);
    } else {
      float s = 0;
      for (int64_t j = 0; j < size; ++j) s += std::pow(std::fabs(r[j]), p);
      py[i] = std::pow(s, 1.f / p);
    }
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}
absl::Status GlobalAveragePoolKernel(OpContext& c) { return GlobalPool(c, GlobalKind::kAvg); }
absl::Status GlobalMaxPoolKernel(OpContext& c) { return GlobalPool(c, GlobalKind::kMax); }
absl::Status GlobalLpPoolKernel(OpContext& c) { return GlobalPool(c, GlobalKind::kLp); }

bool PoolSupported(const Node& n, int) { return n.GetInts("kernel_shape").size() > 0; }

ONNXC_REGISTER_KERNEL("MaxPool", 1, 1000, MaxPoolKernel, PoolSupported);
ONNXC_REGISTER_KERNEL("AveragePool", 1, 1000, AveragePoolKernel, PoolSupported);
ONNXC_REGISTER_KERNEL("LpPool", 2, 1000, LpPoolKernel, PoolSupported);
ONNXC_REGISTER_KERNEL("GlobalAveragePool", 1, 1000, GlobalAveragePoolKernel);
ONNXC_REGISTER_KERNEL("GlobalMaxPool", 1, 1000, GlobalMaxPoolKernel);
ONNXC_REGISTER_KERNEL("GlobalLpPool", 2, 1000, GlobalLpPoolKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
