// QLinearConv and ConvInteger, computed as ONNX Runtime's CPU kernels do:
// im2col rows in (kernel tap, input channel) order with the channels
// fastest (its NHWC reduction order), padding filled with the input zero
// point, an integer GEMM per group (int8_gemm.h: exact, or x86 int16 pairs
// under KernelOptions::int8_dot), then for QLinearConv int32 bias and
// requantisation with scale (x_scale * w_scale[m]) / y_scale. Depthwise
// convs (one input and one output channel per group) are exact in every
// mode, as ORT's dedicated depthwise kernels are.
#include <vector>

#include "kernels/int8_gemm.h"
#include "kernels/registry.h"
#include "kernels/spatial.h"

namespace onnxc {
namespace kernels {
namespace {

bool IsSigned8(DataType t) { return t == TP::INT8; }
bool Is8Bit(DataType t) { return t == TP::INT8 || t == TP::UINT8; }

int32_t ZeroPoint(const OpContext& c, int i) { return c.has(i) ? static_cast<int32_t>(c.input(i).IntAt(0)) : 0; }

// Depthwise 2-D convolution accumulators, directly: each output channel
// correlates one input plane with one kernel. A tap outside the image adds
// (zx - zx) * w = 0, as the zero-point-padded im2col does, so it is skipped.
// Exact int32, as ORT's depthwise kernels; an im2col and a one-column GEMM
// per channel cost mobilenet_v2 ~20x more.
template <typename XT, typename WT>
void DepthwiseAccumulators2D(const XT* x, int32_t zx, const WT* w, const std::vector<int32_t>& zw, const Geometry& geo,
                             int64_t n, int64_t channels, int32_t* y, int threads) {
  const int64_t H = geo.in[0], W = geo.in[1], KH = geo.kernel[0], KW = geo.kernel[1];
  const int64_t OH = geo.out[0], OW = geo.out[1];
  const int64_t sh = geo.strides[0], sw = geo.strides[1], dh = geo.dilations[0], dw = geo.dilations[1];
  const int64_t ph = geo.pad_begin[0], pw = geo.pad_begin[1];
  ParallelFor(threads, n * channels, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> wk(static_cast<size_t>(KH * KW));
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t ch = plane % channels;
      const int32_t z = zw.size() == 1 ? zw[0] : zw[ch];
      for (int64_t t = 0; t < KH * KW; ++t) wk[t] = static_cast<int32_t>(w[ch * KH * KW + t]) - z;
      const XT* xp = x + plane * H * W;
      int32_t* yp = y + plane * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int32_t acc = 0;
          for (int64_t kh = 0; kh < KH; ++kh) {
            const int64_t ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (int64_t kw = 0; kw < KW; ++kw) {
              const int64_t iw = ow * sw - pw + kw * dw;
              if (iw < 0 || iw >= W) continue;
              acc += (static_cast<int32_t>(xp[ih * W + iw]) - zx) * wk[kh * KW + kw];
            }
          }
          yp[oh * OW + ow] = acc;
        }
    }
  });
}

template <typename XT>
void DepthwiseAccumulators2D(const XT* x, int32_t zx, const KTensor& w, const std::vector<int32_t>& zw,
                             const Geometry& geo, int64_t n, int64_t channels, int32_t* y, int threads) {
  if (IsSigned8(w.type))
    DepthwiseAccumulators2D(x, zx, w.ptr<int8_t>(), zw, geo, n, channels, y, threads);
  else
    DepthwiseAccumulators2D(x, zx, w.ptr<uint8_t>(), zw, geo, n, channels, y, threads);
}

// The accumulators sum_k (x - zx)(w - zw) of Conv(x, w), int32 [N, M, out...].
absl::StatusOr<KTensor> IntegerConv(OpContext& c, const KTensor& x, int32_t zx, const KTensor& w,
                                    const std::vector<int32_t>& zw) {
  if (!Is8Bit(x.type) || !Is8Bit(w.type)) return c.Error("QLinearConv/ConvInteger take 8-bit x and w");
  if (x.rank() < 3 || w.rank() != x.rank()) return c.Error("x and w must have the same rank >= 3");
  const int64_t n = x.dims[0], cin = x.dims[1], m = w.dims[0], group = c.attr_i("group", 1);
  if (group < 1 || cin % group != 0 || m % group != 0 || w.dims[1] != cin / group)
    return c.Error("channels do not match group");
  std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end()), kernel(w.dims.begin() + 2, w.dims.end());
  auto geo = ComputeGeometry(c, in, kernel);
  if (!geo.ok()) return geo.status();
  const int64_t cg = cin / group, mg = m / group, nd = geo->nd;
  int64_t taps = 1, opix = 1, ipix = 1;
  for (int64_t d = 0; d < nd; ++d) taps *= kernel[d], opix *= geo->out[d], ipix *= in[d];
  const int64_t k = taps * cg;
  std::vector<int64_t> out_dims = {n, m};
  out_dims.insert(out_dims.end(), geo->out.begin(), geo->out.end());
  KTensor y = KTensor::Alloc(TP::INT32, out_dims);
  const size_t es = 1;  // 8-bit elements
  const uint8_t* xb = x.ptr<uint8_t>();
  const uint8_t* wb = w.ptr<uint8_t>();
  const uint8_t pad = static_cast<uint8_t>(zx);
  const bool depthwise = cg == 1 && mg == 1;
  if (depthwise && nd == 2) {
    int32_t* out = y.mut<int32_t>();
    if (IsSigned8(x.type))
      DepthwiseAccumulators2D(x.ptr<int8_t>(), zx, w, zw, *geo, n, m, out, c.threads);
    else
      DepthwiseAccumulators2D(x.ptr<uint8_t>(), zx, w, zw, *geo, n, m, out, c.threads);
    return y;
  }
  const KernelOptions::Int8Dot mode = depthwise ? KernelOptions::Int8Dot::kExact : c.options->int8_dot;
  std::vector<uint8_t> cols(static_cast<size_t>(opix * k)), packed(static_cast<size_t>(mg * k));
  std::vector<int32_t> acc(static_cast<size_t>(opix * mg));
  // Input offsets per tap and output position, precomputed per dimension.
  std::vector<int64_t> ocoord(nd), tcoord(nd);
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t g = 0; g < group; ++g) {
      // Weights of this group, one row per output channel, in (tap, ci) order.
      for (int64_t mo = 0; mo < mg; ++mo)
        for (int64_t ci = 0; ci < cg; ++ci)
          for (int64_t t = 0; t < taps; ++t)
            packed[mo * k + t * cg + ci] = wb[(((g * mg + mo) * cg + ci) * taps + t) * es];
      // im2col, the rows in the same (tap, ci) order.
      const uint8_t* base = xb + (img * cin + g * cg) * ipix;
      if (nd == 2) {  // the common case, without decoding every (position, tap) index
        const int64_t H = in[0], W = in[1], KW = kernel[1], OW = geo->out[1];
        for (int64_t p = 0; p < opix; ++p) {
          const int64_t oh = p / OW, ow = p % OW;
          for (int64_t t = 0; t < taps; ++t) {
            const int64_t ih = oh * geo->strides[0] - geo->pad_begin[0] + (t / KW) * geo->dilations[0];
            const int64_t iw = ow * geo->strides[1] - geo->pad_begin[1] + (t % KW) * geo->dilations[1];
            uint8_t* dst = &cols[p * k + t * cg];
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              std::fill(dst, dst + cg, pad);
              continue;
            }
            const uint8_t* src = base + ih * W + iw;
            for (int64_t ci = 0; ci < cg; ++ci) dst[ci] = src[ci * ipix];
          }
        }
      }
      for (int64_t p = 0; nd != 2 && p < opix; ++p) {
        int64_t rem = p;
        for (int64_t d = nd - 1; d >= 0; --d) ocoord[d] = rem % geo->out[d], rem /= geo->out[d];
        for (int64_t t = 0; t < taps; ++t) {
          int64_t trem = t, off = 0;
          bool inside = true;
          for (int64_t d = nd - 1; d >= 0; --d) {
            tcoord[d] = trem % kernel[d];
            trem /= kernel[d];
          }
          for (int64_t d = 0; d < nd; ++d) {
            int64_t pos = ocoord[d] * geo->strides[d] - geo->pad_begin[d] + tcoord[d] * geo->dilations[d];
            if (pos < 0 || pos >= in[d]) inside = false;
            off = off * in[d] + pos;
          }
          uint8_t* dst = &cols[p * k + t * cg];
          if (!inside) {
            std::fill(dst, dst + cg, pad);
            continue;
          }
          const uint8_t* src = base + off;
          for (int64_t ci = 0; ci < cg; ++ci) dst[ci] = src[ci * ipix];
        }
      }
      std::vector<int32_t> zb(zw.size() == 1 ? zw : std::vector<int32_t>(zw.begin() + g * mg, zw.begin() + (g + 1) * mg));
      Int8Gemm(opix, mg, k, cols.data(), IsSigned8(x.type), k, zx, packed.data(), IsSigned8(w.type), k, zb,
               acc.data(), mode, c.threads);
      int32_t* out = y.mut<int32_t>() + (img * m + g * mg) * opix;
      for (int64_t mo = 0; mo < mg; ++mo)
        for (int64_t p = 0; p < opix; ++p) out[mo * opix + p] = acc[p * mg + mo];
    }
  }
  return y;
}

std::vector<int32_t> ZeroPoints(const OpContext& c, int i) {
  std::vector<int32_t> z;
  if (!c.has(i)) return {0};
  for (int64_t j = 0; j < c.input(i).numel(); ++j) z.push_back(static_cast<int32_t>(c.input(i).IntAt(j)));
  return z.empty() ? std::vector<int32_t>{0} : z;
}

absl::Status QLinearConvKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  const KTensor& w = c.input(3);
  auto acc = IntegerConv(c, x, ZeroPoint(c, 2), w, ZeroPoints(c, 5));
  if (!acc.ok()) return acc.status();
  const float xs = static_cast<float>(c.input(1).At(0)), ys = static_cast<float>(c.input(6).At(0));
  const KTensor& wsc = c.input(4);
  const int32_t zy = ZeroPoint(c, 7);
  const DataType yt = c.has(7) ? c.input(7).type : TP::UINT8;
  const int32_t qmin = yt == TP::INT8 ? -128 : 0, qmax = yt == TP::INT8 ? 127 : 255;
  const int64_t n = acc->dims[0], m = acc->dims[1], pix = acc->numel() / std::max<int64_t>(1, n * m);
  KTensor y = KTensor::Alloc(yt, acc->dims);
  const int32_t* a = acc->ptr<int32_t>();
  for (int64_t img = 0; img < n; ++img)
    for (int64_t mo = 0; mo < m; ++mo) {
      const float scale = (xs * static_cast<float>(wsc.At(wsc.numel() == 1 ? 0 : mo))) / ys;
      const int32_t bias = c.has(8) ? static_cast<int32_t>(c.input(8).IntAt(mo)) : 0;
      for (int64_t p = 0; p < pix; ++p) {
        int64_t i = (img * m + mo) * pix + p;
        int32_t q = RequantizeValue(a[i] + bias, scale, zy, qmin, qmax);
        if (yt == TP::INT8) y.mut<int8_t>()[i] = static_cast<int8_t>(q);
        else y.mut<uint8_t>()[i] = static_cast<uint8_t>(q);
      }
    }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status ConvIntegerKernel(OpContext& c) {
  auto acc = IntegerConv(c, c.input(0), ZeroPoint(c, 2), c.input(1), ZeroPoints(c, 3));
  if (!acc.ok()) return acc.status();
  c.out[0] = std::move(*acc);
  return absl::OkStatus();
}

ONNXC_REGISTER_KERNEL("QLinearConv", 10, 1000, QLinearConvKernel);
ONNXC_REGISTER_KERNEL("ConvInteger", 10, 1000, ConvIntegerKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
