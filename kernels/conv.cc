// Conv (im2col + GEMM per cache-sized block of output columns, bias and
// activation applied while the block is hot; 1x1 convs skip im2col;
// depthwise 2-D convs run a direct padded-plane loop) and ConvTranspose
// (GEMM + col2im).
#include <algorithm>
#include <cstring>

#include "Eigen/Core"
#include "kernels/registry.h"
#include "kernels/spatial.h"

namespace onnxc {
namespace kernels {
namespace {

// Per-thread scratch (grows, never shrinks: no allocation in steady state).
float* Scratch(int which, size_t floats) {
  thread_local std::vector<float> bufs[2];
  std::vector<float>& b = bufs[which];
  if (b.size() < floats) b.resize(floats + 16);
  return b.data();
}

inline void Clamp(float* __restrict r, int64_t n, const Epilogue& epi) {
  if (epi.kind == Epilogue::kNone) return;
  if (epi.kind == Epilogue::kSwish) {
    Eigen::Map<Eigen::ArrayXf> a(r, n);
    a = a * a.logistic();  // Eigen's vectorised logistic
    return;
  }
  const float lo = epi.lo, hi = epi.hi;
  for (int64_t j = 0; j < n; ++j) r[j] = std::min(hi, std::max(lo, r[j]));
}

// Depthwise 2-D conv of one channel plane: y = clamp(conv(x) + bias). The
// plane is first copied into a zero-padded scratch (for stride 2 with its
// even and odd columns split, so every tap reads contiguous memory), then
// each output row is one branch-free pass.
void DepthwisePlane(const float* x, const float* w, float bias, const Geometry& g,
                    const Epilogue& epi, float* __restrict y) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
  const int64_t OH = g.out[0], OW = g.out[1], SH = g.strides[0], SW = g.strides[1];
  const int64_t DH = g.dilations[0], DW = g.dilations[1], PT = g.pad_begin[0], PL = g.pad_begin[1];
  const int64_t PH = (OH - 1) * SH + (KH - 1) * DH + 1;  // padded rows read
  const int64_t PW = (OW - 1) * SW + (KW - 1) * DW + 1;  // padded columns read
  const float lo = epi.kind == Epilogue::kClamp ? epi.lo : -INFINITY;  // swish: by the caller
  const float hi = epi.kind == Epilogue::kClamp ? epi.hi : INFINITY;
  const bool split = SW == 2 && DW == 1;
  // Row layout: stride 2 -> [even columns | odd columns], else plain.
  const int64_t half = (PW + 1) / 2;
  const int64_t RS = split ? 2 * half : PW;
  float* __restrict pad = Scratch(0, static_cast<size_t>(PH * RS));
  for (int64_t r = 0; r < PH; ++r) {
    float* dst = pad + r * RS;
    int64_t ih = r - PT;
    if (ih < 0 || ih >= H) {
      std::memset(dst, 0, RS * sizeof(float));
      continue;
    }
    const float* src = x + ih * W;
    // Valid padded columns: PL <= c < PL + W.
    int64_t c0 = std::min(PW, PL), c1 = std::max(c0, std::min(PW, PL + W));
    if (!split) {
      for (int64_t c = 0; c < c0; ++c) dst[c] = 0.f;
      std::memcpy(dst + c0, src + (c0 - PL), (c1 - c0) * sizeof(float));
      for (int64_t c = c1; c < PW; ++c) dst[c] = 0.f;
    } else {
      // Padded column 2j + p (p = 0 even, 1 odd) is valid iff c0 <= 2j + p < c1.
      for (int64_t p = 0; p < 2; ++p) {
        float* __restrict d = dst + p * half;
        int64_t j0 = std::min(half, (c0 - p + 1) / 2), j1 = std::max(j0, std::min(half, (c1 - p + 1) / 2));
        const float* __restrict sp = src + p - PL;  // column 2j + p
        for (int64_t j = 0; j < j0; ++j) d[j] = 0.f;
        for (int64_t j = j0; j < j1; ++j) d[j] = sp[2 * j];
        for (int64_t j = j1; j < half; ++j) d[j] = 0.f;
      }
    }
  }
  if (KH == 3 && KW == 3 && DH == 1 && DW == 1 && (SW == 1 || SW == 2)) {
    const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
                w7 = w[7], w8 = w[8];
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* __restrict r0 = pad + (oh * SH) * RS;
      const float* __restrict r1 = r0 + RS;
      const float* __restrict r2 = r1 + RS;
      float* __restrict yr = y + oh * OW;
      if (SW == 1) {
        for (int64_t ow = 0; ow < OW; ++ow) {
          float a = bias + w0 * r0[ow] + w1 * r0[ow + 1] + w2 * r0[ow + 2];
          a += w3 * r1[ow] + w4 * r1[ow + 1] + w5 * r1[ow + 2];
          a += w6 * r2[ow] + w7 * r2[ow + 1] + w8 * r2[ow + 2];
          yr[ow] = std::min(hi, std::max(lo, a));
        }
      } else {
        const float *e0 = r0, *o0 = r0 + half, *e1 = r1, *o1 = r1 + half, *e2 = r2, *o2 = r2 + half;
        for (int64_t ow = 0; ow < OW; ++ow) {
          float a = bias + w0 * e0[ow] + w1 * o0[ow] + w2 * e0[ow + 1];
          a += w3 * e1[ow] + w4 * o1[ow] + w5 * e1[ow + 1];
          a += w6 * e2[ow] + w7 * o2[ow] + w8 * e2[ow + 1];
          yr[ow] = std::min(hi, std::max(lo, a));
        }
      }
    }
    return;
  }
  // Any kernel size / stride / dilation, on the padded plane.
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* __restrict yr = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = bias;
    for (int64_t kh = 0; kh < KH; ++kh) {
      const float* row = pad + (oh * SH + kh * DH) * RS;
      for (int64_t kw = 0; kw < KW; ++kw) {
        const float wv = w[kh * KW + kw];
        if (split) {
          // padded column 2*ow + kw: even half for even kw, odd half for odd.
          const float* __restrict xs = row + (kw % 2 ? half : 0) + kw / 2;
          for (int64_t ow = 0; ow < OW; ++ow) yr[ow] += wv * xs[ow];
        } else if (SW == 1) {
          const float* __restrict xs = row + kw * DW;
          for (int64_t ow = 0; ow < OW; ++ow) yr[ow] += wv * xs[ow];
        } else {
          const float* __restrict xs = row + kw * DW;
          for (int64_t ow = 0; ow < OW; ++ow) yr[ow] += wv * xs[ow * SW];
        }
      }
    }
    for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = std::min(hi, std::max(lo, yr[ow]));
  }
}

// col[(c*K + k) * nb + j] = input tap k of channel c for output position
// o0 + j, j in [0, nb) (zero where the tap falls in padding).
void Im2ColBlock(const float* x, int64_t channels, const Geometry& g, int64_t o0, int64_t nb,
                 float* col) {
  int64_t ksize = 1, in_size = 1;
  for (int64_t i = 0; i < g.nd; ++i) {
    ksize *= g.kernel[i];
    in_size *= g.in[i];
  }
  if (g.nd == 2) {
    const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
    const int64_t OW = g.out[1], SH = g.strides[0], SW = g.strides[1];
    const int64_t DH = g.dilations[0], DW = g.dilations[1], PT = g.pad_begin[0], PL = g.pad_begin[1];
    for (int64_t c = 0; c < channels; ++c) {
      const float* xc = x + c * in_size;
      for (int64_t kh = 0; kh < KH; ++kh) {
        for (int64_t kw = 0; kw < KW; ++kw) {
          float* row = col + ((c * KH + kh) * KW + kw) * nb;
          int64_t off = kw * DW - PL;
          // Valid ow: 0 <= ow*SW + off < W.
          int64_t ow_lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
          int64_t ow_hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / SW + 1);
          if (ow_lo > ow_hi) ow_lo = ow_hi;
          for (int64_t j = 0, o = o0; j < nb;) {
            int64_t oh = o / OW, ow = o % OW, len = std::min(OW - ow, nb - j);
            float* r = row + j - ow;  // r[ow'] for ow' in [ow, ow + len)
            int64_t ih = oh * SH - PT + kh * DH;
            if (ih < 0 || ih >= H) {
              std::memset(row + j, 0, len * sizeof(float));
            } else {
              const float* xr = xc + ih * W + off;
              int64_t a = std::max(ow, std::min(ow_lo, ow + len));
              int64_t b = std::max(a, std::min(ow_hi, ow + len));
              for (int64_t t = ow; t < a; ++t) r[t] = 0.f;
              if (SW == 1) {
                std::memcpy(r + a, xr + a, (b - a) * sizeof(float));
              } else {
                for (int64_t t = a; t < b; ++t) r[t] = xr[t * SW];
              }
              for (int64_t t = b; t < ow + len; ++t) r[t] = 0.f;
            }
            j += len;
            o += len;
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
      float* row = col + (c * ksize + k) * nb;
      rem = o0;
      for (int64_t d = g.nd - 1; d >= 0; --d) {
        oidx[d] = rem % g.out[d];
        rem /= g.out[d];
      }
      for (int64_t j = 0; j < nb; ++j) {
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
        row[j] = inside ? xc[off] : 0.f;
        for (int64_t d = g.nd - 1; d >= 0; --d) {
          if (++oidx[d] < g.out[d]) break;
          oidx[d] = 0;
        }
      }
    }
  }
}

}  // namespace

namespace {

absl::StatusOr<Geometry> ConvGeometry(const OpContext& c, const KTensor& x, const KTensor& w) {
  if (x.rank() < 3) return c.Error("Conv input must have rank >= 3");
  if (w.rank() != x.rank()) return c.Error("Conv weight rank differs from input rank");
  const int64_t C = x.dims[1], M = w.dims[0];
  const int64_t group = c.attr_i("group", 1);
  if (group <= 0 || C % group != 0 || M % group != 0 || w.dims[1] != C / group) {
    return c.Error(absl::StrCat("Conv: channels ", C, " / weight ", ShapeString(w.dims),
                                " / group ", group, " do not match"));
  }
  std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end());
  std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
  std::vector<int64_t> ks = c.attr_ints("kernel_shape");
  if (!ks.empty() && ks != kernel) return c.Error("kernel_shape does not match the weight");
  return ComputeGeometry(c, in, kernel);
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> ConvOutputDims(const OpContext& c, const KTensor& x,
                                                    const KTensor& w) {
  auto geo = ConvGeometry(c, x, w);
  if (!geo.ok()) return geo.status();
  std::vector<int64_t> odims = {x.dims[0], w.dims[0]};
  odims.insert(odims.end(), geo->out.begin(), geo->out.end());
  return odims;
}

absl::Status ConvWithEpilogue(OpContext& c, const KTensor& w_in, const KTensor* b_in,
                              const Epilogue& epi, const ConvResidual& res) {
  KTensor x = ToFloat(c.input(0)), w = ToFloat(w_in);
  auto geo = ConvGeometry(c, x, w);
  if (!geo.ok()) return geo.status();
  const Geometry& g = *geo;
  const int64_t N = x.dims[0], C = x.dims[1], M = w.dims[0];
  const int64_t group = c.attr_i("group", 1);
  std::vector<int64_t> odims = {N, M};
  odims.insert(odims.end(), g.out.begin(), g.out.end());
  const float* pres = nullptr;
  if (res.t != nullptr) {
    if (res.t->type != TP::FLOAT || res.t->layout != 0 || res.t->dims != odims) {
      return c.Error("fused Add input does not match the Conv output");
    }
    pres = res.t->ptr<float>();
  }
  // The residual's buffer takes the result when it may (its last use).
  KTensor y = pres != nullptr && res.writable ? *res.t : KTensor::Alloc(TP::FLOAT, odims);
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
  if (N == 0 || M == 0 || out_size == 0) return c.out[0] = std::move(y), absl::OkStatus();
  const int64_t Cg = C / group, Mg = M / group;

  if (g.nd == 2 && group == C && M == C) {  // depthwise
    ParallelFor(c.threads, N * C, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        int64_t ch = i % C;
        float bv = bias ? bias[ch] : 0.f;
        if (pres == nullptr) {
          DepthwisePlane(px + i * in_size, pw + ch * ksize, bv, g, epi, py + i * out_size);
          if (epi.kind == Epilogue::kSwish) Clamp(py + i * out_size, out_size, epi);
          continue;
        }
        // Residual: the plane goes to scratch, then y = clamp(plane + r).
        float* plane = Scratch(1, static_cast<size_t>(out_size));
        DepthwisePlane(px + i * in_size, pw + ch * ksize, bv, g, Epilogue(), plane);
        const float* r = pres + i * out_size;
        float* yo = py + i * out_size;
        for (int64_t j = 0; j < out_size; ++j) yo[j] = plane[j] + r[j];
        Clamp(yo, out_size, epi);
      }
    });
    return c.out[0] = std::move(y), absl::OkStatus();
  }

  bool pointwise = ksize == 1;
  for (int64_t i = 0; i < g.nd; ++i) {
    if (g.strides[i] != 1 || g.pad_begin[i] != 0 || g.pad_end[i] != 0) pointwise = false;
  }
  // GEMM per block of output columns: Y[:, blk] = W * col(blk) (+ bias,
  // clamped) while the block is in cache. The im2col block (K x nb) is sized
  // to stay in L2; 1x1 convs read X directly.
  const int64_t K = Cg * ksize;
  int64_t nb = out_size;
  if (pointwise) {
    nb = std::max<int64_t>(256, (int64_t{64} << 10) / std::max<int64_t>(Mg, 1));
  } else {
    nb = std::max<int64_t>(64, (int64_t{128} << 10) / std::max<int64_t>(K, 1));
  }
  nb = std::min(out_size, (nb + 15) / 16 * 16);
  const int64_t nblocks = (out_size + nb - 1) / nb;
  const int64_t col_tasks = N * group * nblocks;
  // Too few column blocks for the threads: split the rows of W as well.
  int64_t msplit = 1;
  if (c.threads > 1 && col_tasks < 2 * c.threads && Mg >= 32) msplit = c.threads;
  const int64_t mper = (Mg + msplit - 1) / msplit;
  ParallelFor(c.threads, col_tasks * msplit, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; ++t) {
      int64_t mi = t % msplit, ct = t / msplit;
      int64_t blk = ct % nblocks, gi = (ct / nblocks) % group, n = ct / (nblocks * group);
      int64_t o0 = blk * nb, nn = std::min(out_size, o0 + nb) - o0;
      int64_t m0 = mi * mper, m1 = std::min(Mg, m0 + mper);
      if (m0 >= m1) continue;
      const float* xg = px + (n * C + gi * Cg) * in_size;
      const float* src;
      int64_t ldb;
      if (pointwise) {
        src = xg + o0;
        ldb = in_size;
      } else {
        float* col = Scratch(1, static_cast<size_t>(K * nn));
        Im2ColBlock(xg, Cg, g, o0, nn, col);
        src = col;
        ldb = nn;
      }
      float* yb = py + (n * M + gi * Mg + m0) * out_size + o0;
      // C starts as bias (+ residual), so the GEMM accumulates (beta = 1).
      float beta = 0.f;
      if (pres != nullptr) {
        const float* rb = pres + (yb - py);
        for (int64_t m = m0; m < m1; ++m) {
          float bv = bias != nullptr ? bias[gi * Mg + m] : 0.f;
          float* r = yb + (m - m0) * out_size;
          const float* q = rb + (m - m0) * out_size;
          for (int64_t j = 0; j < nn; ++j) r[j] = q[j] + bv;  // in place when writable
        }
        beta = 1.f;
      } else if (bias != nullptr) {
        for (int64_t m = m0; m < m1; ++m) {
          float bv = bias[gi * Mg + m];
          float* r = yb + (m - m0) * out_size;
          for (int64_t j = 0; j < nn; ++j) r[j] = bv;
        }
        beta = 1.f;
      }
      SgemmSerial(false, false, m1 - m0, nn, K, 1.f, pw + (gi * Mg + m0) * K, K, src, ldb, beta,
                  yb, out_size);
      if (epi.kind != Epilogue::kNone) {
        for (int64_t m = m0; m < m1; ++m) Clamp(yb + (m - m0) * out_size, nn, epi);
      }
    }
  });
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
