// Resize (nearest with its rounding modes, n-linear; every
// coordinate_transformation_mode) and Upsample.
#include <cmath>
#include <cstring>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

struct ResizeParams {
  std::string mode = "nearest";
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";
  std::vector<float> scales;  // per dim
  std::vector<int64_t> out;   // per dim
  std::vector<float> roi;     // 2 * rank, tf_crop_and_resize only
  float extrapolation = 0.f;
};

double Coord(const ResizeParams& p, int64_t d, int64_t o, int64_t in, int64_t r) {
  double s = p.scales[d];
  int64_t out = p.out[d];
  const std::string& m = p.coord;
  if (m == "half_pixel") return (o + 0.5) / s - 0.5;
  if (m == "pytorch_half_pixel") return out > 1 ? (o + 0.5) / s - 0.5 : 0.0;
  if (m == "align_corners") {
    // ONNX's reference uses the unrounded resized length (in * scale).
    double len = in * s;
    return len <= 1 ? 0.0 : o * static_cast<double>(in - 1) / (len - 1);
  }
  if (m == "asymmetric") return o / s;
  if (m == "tf_half_pixel_for_nn") return (o + 0.5) / s;
  if (m == "tf_crop_and_resize") {
    double st = p.roi[d], en = p.roi[d + r];
    return out > 1 ? st * (in - 1) + o * (en - st) * (in - 1) / (out - 1) : 0.5 * (st + en) * (in - 1);
  }
  return (o + 0.5) / s - 0.5;
}

int64_t RoundNearest(const std::string& m, double x) {
  if (m == "floor") return static_cast<int64_t>(std::floor(x));
  if (m == "ceil") return static_cast<int64_t>(std::ceil(x));
  double f = std::floor(x);
  if (x - f == 0.5) return static_cast<int64_t>(m == "round_prefer_ceil" ? f + 1 : f);
  return static_cast<int64_t>(std::round(x));
}

absl::Status DoResize(OpContext& c, const ResizeParams& p) {
  KTensor x0 = c.input(0);
  DataType orig = x0.type;
  KTensor x = ToFloat(x0);
  int64_t r = x.rank();
  // Per dim: taps (index, weight); -1 index means "extrapolate".
  struct Tap { int64_t i0, i1; float w; bool outside; };
  std::vector<std::vector<Tap>> taps(r);
  bool linear = p.mode == "linear" || p.mode == "bilinear";
  for (int64_t d = 0; d < r; ++d) {
    int64_t in = x.dims[d];
    taps[d].resize(p.out[d]);
    for (int64_t o = 0; o < p.out[d]; ++o) {
      double xc = Coord(p, d, o, in, r);
      Tap t{0, 0, 0.f, false};
      if (p.coord == "tf_crop_and_resize" && (xc < 0 || xc > in - 1)) t.outside = true;
      if (linear) {
        double f = std::floor(xc);
        t.w = static_cast<float>(xc - f);
        t.i0 = std::clamp<int64_t>(static_cast<int64_t>(f), 0, in - 1);
        t.i1 = std::clamp<int64_t>(static_cast<int64_t>(f) + 1, 0, in - 1);
      } else {
        t.i0 = t.i1 = std::clamp<int64_t>(RoundNearest(p.nearest, xc), 0, in - 1);
      }
      taps[d][o] = t;
    }
  }
  KTensor y = KTensor::Alloc(TP::FLOAT, p.out);
  std::vector<int64_t> xs(r);
  int64_t acc = 1;
  for (int64_t d = r - 1; d >= 0; --d) {
    xs[d] = acc;
    acc *= x.dims[d];
  }
  // Dims that need interpolation (linear with a non-trivial weight somewhere).
  std::vector<int64_t> interp;
  if (linear) {
    for (int64_t d = 0; d < r; ++d) {
      bool trivial = true;
      for (const Tap& t : taps[d]) trivial &= t.w == 0.f;
      if (!trivial) interp.push_back(d);
    }
  }
  int64_t ncorner = int64_t{1} << interp.size();
  const float* px = x.ptr<float>();
  float* py = y.mut<float>();
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    bool outside = false;
    int64_t base = 0;
    for (int64_t d = 0; d < r; ++d) {
      const Tap& t = taps[d][idx[d]];
      outside |= t.outside;
      base += t.i0 * xs[d];
    }
    float v;
    if (outside) {
      v = p.extrapolation;
    } else if (ncorner == 1) {
      v = px[base];
    } else {
      v = 0.f;
      for (int64_t k = 0; k < ncorner; ++k) {
        float w = 1.f;
        int64_t off = base;
        for (size_t j = 0; j < interp.size(); ++j) {
          int64_t d = interp[j];
          const Tap& t = taps[d][idx[d]];
          if (k & (int64_t{1} << j)) {
            w *= t.w;
            off += (t.i1 - t.i0) * xs[d];
          } else {
            w *= 1.f - t.w;
          }
        }
        v += w * px[off];
      }
    }
    py[i] = v;
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < p.out[d]) break;
      idx[d] = 0;
    }
  }
  c.out[0] = orig == TP::FLOAT ? y : CastTo(y, orig);
  return absl::OkStatus();
}

absl::Status ResizeKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  int64_t r = x.rank();
  ResizeParams p;
  p.mode = c.attr_s("mode", "nearest");
  if (c.opset < 11) {
    p.coord = "asymmetric";
    p.nearest = "floor";
    std::vector<float> s = c.input(1).ToFloatVector();
    p.scales = s;
  } else {
    p.coord = c.attr_s("coordinate_transformation_mode", "half_pixel");
    p.nearest = c.attr_s("nearest_mode", "round_prefer_floor");
    p.extrapolation = c.attr_f("extrapolation_value", 0.f);
    if (c.has(1) && c.input(1).numel() > 0) p.roi = c.input(1).ToFloatVector();
    if (c.has(2) && c.input(2).numel() > 0) p.scales = c.input(2).ToFloatVector();
    if (c.has(3) && c.input(3).numel() > 0) {
      std::vector<int64_t> sizes = c.input(3).ToInt64Vector();
      std::vector<int64_t> axes = c.attr_ints("axes");
      std::vector<int64_t> full = x.dims;
      if (axes.empty()) {
        full = sizes;
      } else {
        for (size_t i = 0; i < axes.size(); ++i) full[NormAxis(axes[i], r)] = sizes[i];
      }
      std::string policy = c.attr_s("keep_aspect_ratio_policy", "stretch");
      if (policy != "stretch") {
        double scale = policy == "not_larger" ? 1e30 : 0;
        std::vector<int64_t> ax = axes;
        if (ax.empty())
          for (int64_t d = 0; d < r; ++d) ax.push_back(d);
        for (int64_t a : ax) {
          a = NormAxis(a, r);
          double s = static_cast<double>(full[a]) / x.dims[a];
          scale = policy == "not_larger" ? std::min(scale, s) : std::max(scale, s);
        }
        for (int64_t a : ax) {
          a = NormAxis(a, r);
          full[a] = static_cast<int64_t>(std::round(scale * x.dims[a]));
        }
        p.scales.assign(r, 1.f);
        for (int64_t a : ax) p.scales[NormAxis(a, r)] = static_cast<float>(scale);
      }
      p.out = full;
      if (p.scales.empty()) {
        p.scales.resize(r);
        for (int64_t d = 0; d < r; ++d) p.scales[d] = static_cast<float>(full[d]) / x.dims[d];
      }
    }
    if (!p.roi.empty() && static_cast<int64_t>(p.roi.size()) != 2 * r) {
      std::vector<int64_t> axes = c.attr_ints("axes");
      std::vector<float> full(2 * r);
      for (int64_t d = 0; d < r; ++d) {
        full[d] = 0.f;
        full[d + r] = 1.f;
      }
      for (size_t i = 0; i < axes.size(); ++i) {
        full[NormAxis(axes[i], r)] = p.roi[i];
        full[NormAxis(axes[i], r) + r] = p.roi[i + axes.size()];
      }
      p.roi = full;
    }
  }
  if (p.out.empty()) {
    std::vector<int64_t> axes = c.attr_ints("axes");
    if (!axes.empty() && p.scales.size() == axes.size()) {
      std::vector<float> full(r, 1.f);
      for (size_t i = 0; i < axes.size(); ++i) full[NormAxis(axes[i], r)] = p.scales[i];
      p.scales = full;
    }
    if (static_cast<int64_t>(p.scales.size()) != r) return c.Error("Resize needs scales or sizes for every dim");
    p.out.resize(r);
    for (int64_t d = 0; d < r; ++d) p.out[d] = static_cast<int64_t>(std::floor(x.dims[d] * p.scales[d]));
  }
  return DoResize(c, p);
}

absl::Status UpsampleKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  ResizeParams p;
  p.mode = c.attr_s("mode", "nearest");
  p.coord = "asymmetric";
  p.nearest = "floor";
  p.scales = c.opset >= 9 ? c.input(1).ToFloatVector() : c.node.attr("scales") ? c.node.attr("scales")->floats() : std::vector<float>();
  if (static_cast<int64_t>(p.scales.size()) != x.rank()) return c.Error("Upsample scales length differs from rank");
  for (int64_t d = 0; d < x.rank(); ++d) p.out.push_back(static_cast<int64_t>(std::floor(x.dims[d] * p.scales[d])));
  return DoResize(c, p);
}

bool ResizeSupported(const Node& n, int) {
  std::string mode = n.GetString("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "bilinear") return false;
  if (n.GetInt("antialias", 0) != 0) return false;
  return true;
}

ONNXC_REGISTER_KERNEL("Resize", 10, 1000, ResizeKernel, ResizeSupported);
ONNXC_REGISTER_KERNEL("Upsample", 7, 9, UpsampleKernel, ResizeSupported);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
