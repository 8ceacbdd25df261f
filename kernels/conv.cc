// Conv (im2col + BLAS GEMM; 1x1 convs skip im2col; depthwise 2-D convs run a
// direct loop) and ConvTranspose (GEMM + col2im).
#include <algorithm>
#include <cstring>

#include "kernels/registry.h"
#include "kernels/spatial.h"

namespace onnxc {
namespace kernels {
namespace {

// col[(c*K + k) * OUT + o] for channels [0, channels) of x (one image).
void Im2Col(const float* x, int64_t channels, const Geometry& g, float* col) {
  int64_t out_size = 1, ksize = 1;
  for (int64_t i = 0; i < g.nd; ++i) {
    out_size *= g.out[i];
    ksize *= g.kernel[i];
  }
  int64_t in_size = 1;
  for (int64_t d : g.in) in_size *= d;
  if (g.nd == 2) {
    const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
    const int64_t OH = g.out[0], OW = g.out[1], SH = g.strides[0], SW = g.strides[1];
    const int64_t DH = g.dilations[0], DW = g.dilations[1], PT = g.pad_begin[0], PL = g.pad_begin[1];
    for (int64_t c = 0; c < channels; ++c) {
      const float* xc = x + c * in_size;
      for (int64_t kh = 0; kh < KH; ++kh) {
        for (int64_t kw = 0; kw < KW; ++kw) {
          float* row = col + ((c * KH + kh) * KW + kw) * out_size;
          // Valid ow range: 0 <= ow*SW - PL + kw*DW < W.
          int64_t off = kw * DW - PL;
          int64_t ow_lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
          int64_t ow_hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / SW + 1);
          if (ow_lo > ow_hi) ow_lo = ow_hi;
          for (int64_t oh = 0; oh < OH; ++oh) {
            float* r = row + oh * OW;
            int64_t ih = oh * SH - PT + kh * DH;
            if (ih < 0 || ih >= H) {
              std::memset(r, 0, OW * sizeof(float));
              continue;
            }
            const float* xr = xc + ih * W + off;
            for (int64_t ow = 0; ow < ow_lo; ++ow) r[ow] = 0.f;
            if (SW == 1) {
              std::memcpy(r + ow_lo, xr + ow_lo, (ow_hi - ow_lo) * sizeof(float));
            } else {
              for (int64_t ow = ow_lo; ow < ow_hi; ++ow) r[ow] = xr[ow * SW];
            }
            for (int64_t ow = ow_hi; ow < OW; ++ow) r[ow] = 0.f;
          }
        }
      }
    }
    return;
  }
  // Generic N-d.
  std::vector<int64_t> kidx(g.nd), oidx(g.nd);
  for (int64_t c = 0; c < channels; ++c) {
    const float* xc = x + c * in_size;
    for (int64_t k = 0; k < ksize; ++k) {
      int64_t rem = k;
      for (int64_t d = g.nd - 1; d >= 0; --d) {
        kidx[d] = rem % g.kernel[d];
        rem /= g.kernel[d];
      }
      float* row = col + (c * ksize + k) * out_size;
      std::fill(oidx.begin(), oidx.end(), 0);
      for (int64_t o = 0; o < out_size; ++o) {
        int64_t off = 0;
        bool inside = true;
        for (int64_t d = 0; d < g.nd; ++d) {
          int64_t p = oidx[d] * g.strides[d] - g.pad_begin[d] + kidx[d] * g.dilations[d];
          if (p < 0 || p >= g.in[d]) {
            inside = false;
            break;
          }
          off = off * g.in[d] + p;
        }
        row[o] = inside ? xc[off] : 0.f;
        for (int64_t d = g.nd - 1; d >= 0; --d) {
          if (++oidx[d] < g.out[d]) break;
          oidx[d] = 0;
        }
      }
    }
  }
}

// Depthwise 2-D conv of one channel plane.
void DepthwisePlane(const float* x, const float* w, float bias, const Geometry& g, float* y) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
  const int64_t OH = g.out[0], OW = g.out[1], SH = g.strides[0], SW = g.strides[1];
  const int64_t DH = g.dilations[0], DW = g.dilations[1], PT = g.pad_begin[0], PL = g.pad_begin[1];
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* yr = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = bias;
    for (int64_t kh = 0; kh < KH; ++kh) {
      int64_t ih = oh * SH - PT + kh * DH;
      if (ih < 0 || ih >= H) continue;
      const float* xr = x + ih * W;
      for (int64_t kw = 0; kw < KW; ++kw) {
        float wv = w[kh * KW + kw];
        int64_t off = kw * DW - PL;
        int64_t ow_lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
        int64_t ow_hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / SW + 1);
        const float* xs = xr + off;
        if (SW == 1) {
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) yr[ow] += wv * xs[ow];
        } else if (SW == 2) {
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) yr[ow] += wv * xs[2 * ow];
        } else {
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) yr[ow] += wv * xs[ow * SW];
        }
      }
    }
  }
}

}  // namespace

absl::Status ConvWithEpilogue(OpContext& c, const KTensor& w_in, const KTensor* b_in,
                              const Epilogue& epi) {
  KTensor x = ToFloat(c.input(0)), w = ToFloat(w_in);
  if (x.rank() < 3) return c.Error("Conv input must have rank >= 3");
  if (w.rank() != x.rank()) return c.Error("Conv weight rank differs from input rank");
  const int64_t N = x.dims[0], C = x.dims[1], M = w.dims[0];
  const int64_t group = c.attr_i("group", 1);
  if (group <= 0 || C % group != 0 || M % group != 0 || w.dims[1] != C / group) {
    return c.Error(absl::StrCat("Conv: channels ", C, " / weight ", ShapeString(w.dims),
                                " / group ", group, " do not match"));
  }
  std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end());
  std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
  std::vector<int64_t> ks = c.attr_ints("kernel_shape");
  if (!ks.empty() && ks != kernel) return c.Error("kernel_shape does not match the weight");
  auto geo = ComputeGeometry(c, in, kernel);
  if (!geo.ok()) return geo.status();
  const Geometry& g = *geo;
  std::vector<int64_t> odims = {N, M};
  odims.insert(odims.end(), g.out.begin(), g.out.end());
  KTensor y = KTensor::Alloc(TP::FLOAT, odims);
  int64_t in_size = 1, out_size = 1, ksize = 1;
  for (int64_t i = 0; i < g.nd; ++i) {
    in_size *= g.in[i];
    out_size *= g.out[i];
    ksize *= g.kernel[i];
  }
  const float* px = x.ptr<float>();
  const float* pw = w.ptr<float>();
  float* py = y.mut<float>();
  const float* bias = nullptr;
  KTensor b;
  if (b_in != nullptr) {
    b = ToFloat(*b_in);
    if (b.numel() != M) return c.Error("Conv bias size differs from output channels");
    bias = b.ptr<float>();
  }
  auto apply_epilogue = [&](float* r, int64_t n) {
    if (epi.kind == Epilogue::kNone) return;
    float lo = epi.lo, hi = epi.hi;
    for (int64_t j = 0; j < n; ++j) r[j] = std::min(hi, std::max(lo, r[j]));
  };
  const int64_t Cg = C / group, Mg = M / group;

  if (g.nd == 2 && group == C && M == C) {  // depthwise
    ParallelFor(c.threads, N * C, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        int64_t ch = i % C;
        DepthwisePlane(px + i * in_size, pw + ch * ksize, bias ? bias[ch] : 0.f, g,
                       py + i * out_size);
        apply_epilogue(py + i * out_size, out_size);
      }
    });
    return c.out[0] = std::move(y), absl::OkStatus();
  }

  bool pointwise = ksize == 1;
  for (int64_t i = 0; i < g.nd; ++i) {
    if (g.strides[i] != 1 || g.pad_begin[i] != 0 || g.pad_end[i] != 0) pointwise = false;
  }
  std::vector<float> col;
  if (!pointwise) col.resize(static_cast<size_t>(Cg * ksize * out_size));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t gi = 0; gi < group; ++gi) {
      const float* xg = px + (n * C + gi * Cg) * in_size;
      const float* src = xg;
      if (!pointwise) {
        if (c.threads > 1 && Cg >= 2) {
          // im2col splits by channel.
          ParallelFor(c.threads, Cg, [&](int64_t s, int64_t e) {
            Im2Col(xg + s * in_size, e - s, g, col.data() + s * ksize * out_size);
          });
        } else {
          Im2Col(xg, Cg, g, col.data());
        }
        src = col.data();
      }
      float* yg = py + (n * M + gi * Mg) * out_size;
      Sgemm(false, false, Mg, out_size, Cg * ksize, 1.f, pw + gi * Mg * Cg * ksize, Cg * ksize, src,
            out_size, 0.f, yg, out_size);
    }
  }
  if (bias != nullptr || epi.kind != Epilogue::kNone) {
    ParallelFor(c.threads, N * M, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        float* r = py + i * out_size;
        if (bias != nullptr) {
          float bv = bias[i % M];
          for (int64_t j = 0; j < out_size; ++j) r[j] += bv;
        }
        apply_epilogue(r, out_size);
      }
    }, 16);
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

namespace {

absl::Status ConvKernel(OpContext& c) {
  return ConvWithEpilogue(c, c.input(1), c.has(2) ? &c.input(2) : nullptr, Epilogue());
}

absl::Status ConvTransposeKernel(OpContext& c) {
  KTensor x = ToFloat(c.input(0)), w = ToFloat(c.input(1));
  if (x.rank() < 3 || w.rank() != x.rank()) return c.Error("ConvTranspose needs matching ranks >= 3");
  const int64_t N = x.dims[0], C = x.dims[1];
  const int64_t group = c.attr_i("group", 1);
  if (w.dims[0] != C || C % group != 0) return c.Error("ConvTranspose weight does not match input channels");
  const int64_t Mg = w.dims[1], M = Mg * group, Cg = C / group;
  const int64_t nd = x.rank() - 2;
  std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end());
  std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
  std::vector<int64_t> strides = c.attr_ints("strides"), dil = c.attr_ints("dilations"),
                       pads = c.attr_ints("pads"), opad = c.attr_ints("output_padding"),
                       oshape = c.attr_ints("output_shape");
  if (strides.empty()) strides.assign(nd, 1);
  if (dil.empty()) dil.assign(nd, 1);
  if (pads.empty()) pads.assign(2 * nd, 0);
  if (opad.empty()) opad.assign(nd, 0);
  std::string auto_pad = c.attr_s("auto_pad", "NOTSET");
  std::vector<int64_t> out(nd), pb(nd);
  if (!oshape.empty() && static_cast<int64_t>(oshape.size()) > nd) {
    oshape.erase(oshape.begin(), oshape.end() - nd);
  }
  for (int64_t i = 0; i < nd; ++i) {
    int64_t ek = (kernel[i] - 1) * dil[i] + 1;
    int64_t full = strides[i] * (in[i] - 1) + opad[i] + ek;
    if (!oshape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out[i] = !oshape.empty() ? oshape[i] : in[i] * strides[i];
      int64_t total = full - out[i];
      if (total < 0) {
        pb[i] = 0;
      } else if (auto_pad == "SAME_UPPER") {
        pb[i] = total / 2;
      } else {
        pb[i] = total - total / 2;
      }
    } else {
      if (auto_pad == "VALID") pads.assign(2 * nd, 0);
      pb[i] = pads[i];
      out[i] = full - pads[i] - pads[i + nd];
    }
  }
  std::vector<int64_t> odims = {N, M};
  odims.insert(odims.end(), out.begin(), out.end());
  KTensor y = KTensor::Alloc(TP::FLOAT, odims);
  int64_t in_size = 1, out_size = 1, ksize = 1;
  for (int64_t i = 0; i < nd; ++i) {
    in_size *= in[i];
    out_size *= out[i];
    ksize *= kernel[i];
  }
  float* py = y.mut<float>();
  std::memset(py, 0, y.nbytes());
  std::vector<float> col(static_cast<size_t>(Mg * ksize * in_size));
  std::vector<int64_t> kidx(nd), iidx(nd);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t gi = 0; gi < group; ++gi) {
      // col[Mg*K, in] = W_g^T [Mg*K, Cg] * X_g [Cg, in]
      Sgemm(true, false, Mg * ksize, in_size, Cg, 1.f, w.ptr<float>() + gi * Cg * Mg * ksize,
            Mg * ksize, x.ptr<float>() + (n * C + gi * Cg) * in_size, in_size, 0.f, col.data(),
            in_size);
      for (int64_t m = 0; m < Mg; ++m) {
        float* yo = py + (n * M + gi * Mg + m) * out_size;
        for (int64_t k = 0; k < ksize; ++k) {
          int64_t rem = k;
          for (int64_t d = nd - 1; d >= 0; --d) {
            kidx[d] = rem % kernel[d];
            rem /= kernel[d];
          }
          const float* row = col.data() + (m * ksize + k) * in_size;
          std::fill(iidx.begin(), iidx.end(), 0);
          for (int64_t p = 0; p < in_size; ++p) {
            int64_t off = 0;
            bool inside = true;
            for (int64_t d = 0; d < nd; ++d) {
              int64_t o = iidx[d] * strides[d] - pb[d] + kidx[d] * dil[d];
              if (o < 0 || o >= out[d]) {
                inside = false;
                break;
              }
              off = off * out[d] + o;
            }
            if (inside) yo[off] += row[p];
            for (int64_t d = nd - 1; d >= 0; --d) {
              if (++iidx[d] < in[d]) break;
              iidx[d] = 0;
            }
          }
        }
      }
    }
  }
  if (c.has(2)) {
    KTensor b = ToFloat(c.input(2));
    for (int64_t i = 0; i < N * M; ++i) {
      float bv = b.ptr<float>()[i % M];
      for (int64_t j = 0; j < out_size; ++j) py[i * out_size + j] += bv;
    }
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

ONNXC_REGISTER_KERNEL("Conv", 1, 1000, ConvKernel);
ONNXC_REGISTER_KERNEL("ConvTranspose", 1, 1000, ConvTransposeKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
