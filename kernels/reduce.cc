// Reductions (axes as attribute or, from opset 13 for ReduceSum and 18 for
// the others, as an input), ArgMax, ArgMin.
#include <cmath>
#include <cstring>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

enum class Red { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

absl::Status Reduce(OpContext& c, Red kind, int axes_input_since) {
  const KTensor& x0 = c.input(0);
  std::vector<int64_t> axes;
  if (c.opset >= axes_input_since) {
    if (c.has(1)) axes = c.input(1).ToInt64Vector();
  } else {
    axes = c.attr_ints("axes");
  }
  bool keep = c.attr_i("keepdims", 1) != 0;
  bool noop = c.attr_i("noop_with_empty_axes", 0) != 0;
  int64_t r = x0.rank();
  if (axes.empty() && noop) {
    c.out[0] = x0;
    return absl::OkStatus();
  }
  std::vector<bool> red(r, axes.empty());
  for (int64_t a : axes) {
    a = NormAxis(a, r);
    if (a < 0 || a >= r) return c.Error("reduce axis out of range");
    red[a] = true;
  }
  bool is_int = x0.type == TP::INT64 || x0.type == TP::INT32 || x0.type == TP::INT8 || x0.type == TP::UINT8;
  KTensor x = CastTo(x0, TP::DOUBLE);
  std::vector<int64_t> kd = x.dims, od;
  for (int64_t d = 0; d < r; ++d) {
    if (red[d]) kd[d] = 1;
    if (!red[d]) od.push_back(x.dims[d]);
    else if (keep) od.push_back(1);
  }
  int64_t on = 1;
  for (int64_t d : kd) on *= d;
  double init = 0;
  if (kind == Red::kMax) init = -INFINITY;
  if (kind == Red::kMin) init = INFINITY;
  if (kind == Red::kProd) init = 1;
  std::vector<double> acc(on, init);
  std::vector<int64_t> cnt_strides = BroadcastStrides(kd, x.dims);
  // Map each input element to its output slot.
  std::vector<int64_t> idx(r, 0);
  const double* px = x.ptr<double>();
  int64_t n = x.numel();
  double max_for_lse = 0;
  std::vector<double> mx;
  if (kind == Red::kLogSumExp) {
    mx.assign(on, -INFINITY);
    std::vector<int64_t> id2(r, 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t o = 0;
      for (int64_t d = 0; d < r; ++d) o += id2[d] * cnt_strides[d];
      mx[o] = std::max(mx[o], px[i]);
      for (int64_t d = r - 1; d >= 0; --d) {
        if (++id2[d] < x.dims[d]) break;
        id2[d] = 0;
      }
    }
  }
  (void)max_for_lse;
  for (int64_t i = 0; i < n; ++i) {
    int64_t o = 0;
    for (int64_t d = 0; d < r; ++d) o += idx[d] * cnt_strides[d];
    double v = px[i];
    switch (kind) {
      case Red::kSum: case Red::kMean: case Red::kLogSum: acc[o] += v; break;
      case Red::kMax: acc[o] = std::max(acc[o], v); break;
      case Red::kMin: acc[o] = std::min(acc[o], v); break;
      case Red::kProd: acc[o] *= v; break;
      case Red::kL1: acc[o] += std::fabs(v); break;
      case Red::kL2: case Red::kSumSquare: acc[o] += v * v; break;
      case Red::kLogSumExp: acc[o] += std::exp(v - mx[o]); break;
    }
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < x.dims[d]) break;
      idx[d] = 0;
    }
  }
  int64_t count = on > 0 ? n / on : 0;
  for (int64_t o = 0; o < on; ++o) {
    switch (kind) {
      case Red::kMean: acc[o] = count ? acc[o] / count : NAN; break;
      case Red::kL2: acc[o] = std::sqrt(acc[o]); break;
      case Red::kLogSum: acc[o] = std::log(acc[o]); break;
      case Red::kLogSumExp: acc[o] = std::log(acc[o]) + mx[o]; break;
      default: break;
    }
    if (is_int && kind == Red::kMean) acc[o] = std::trunc(acc[o]);
  }
  KTensor y = KTensor::Alloc(TP::DOUBLE, od);
  if (on > 0) std::memcpy(y.data, acc.data(), on * sizeof(double));
  c.out[0] = CastTo(y, x0.type);
  return absl::OkStatus();
}

#define ONNXC_REDUCE(NAME, KIND, SINCE)                                       \
  absl::Status NAME##Kernel(OpContext& c) { return Reduce(c, KIND, SINCE); } \
  ONNXC_REGISTER_KERNEL(#NAME, 1, 1000, NAME##Kernel);

ONNXC_REDUCE(ReduceSum, Red::kSum, 13)
ONNXC_REDUCE(ReduceMean, Red::kMean, 18)
ONNXC_REDUCE(ReduceMax, Red::kMax, 18)
ONNXC_REDUCE(ReduceMin, Red::kMin, 18)
ONNXC_REDUCE(ReduceProd, Red::kProd, 18)
ONNXC_REDUCE(ReduceL1, Red::kL1, 18)
ONNXC_REDUCE(ReduceL2, Red::kL2, 18)
ONNXC_REDUCE(ReduceLogSum, Red::kLogSum, 18)
ONNXC_REDUCE(ReduceLogSumExp, Red::kLogSumExp, 18)
ONNXC_REDUCE(ReduceSumSquare, Red::kSumSquare, 18)

absl::Status ArgKernel(OpContext& c, bool is_max) {
  KTensor x = CastTo(c.input(0), TP::DOUBLE);
  int64_t r = x.rank();
  int64_t axis = NormAxis(c.attr_i("axis", 0), r);
  bool keep = c.attr_i("keepdims", 1) != 0;
  bool last = c.attr_i("select_last_index", 0) != 0;
  int64_t outer = 1, len = x.dims[axis], inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dims[d];
  for (int64_t d = axis + 1; d < r; ++d) inner *= x.dims[d];
  std::vector<int64_t> od;
  for (int64_t d = 0; d < r; ++d) {
    if (d != axis) od.push_back(x.dims[d]);
    else if (keep) od.push_back(1);
  }
  KTensor y = KTensor::Alloc(TP::INT64, od);
  const double* px = x.ptr<double>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      double bv = px[o * len * inner + i];
      for (int64_t j = 1; j < len; ++j) {
        double v = px[(o * len + j) * inner + i];
        bool better = is_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
        if (better) {
          bv = v;
          best = j;
        }
      }
      y.mut<int64_t>()[o * inner + i] = best;
    }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}
absl::Status ArgMaxKernel(OpContext& c) { return ArgKernel(c, true); }
absl::Status ArgMinKernel(OpContext& c) { return ArgKernel(c, false); }
ONNXC_REGISTER_KERNEL("ArgMax", 1, 1000, ArgMaxKernel);
ONNXC_REGISTER_KERNEL("ArgMin", 1, 1000, ArgMinKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
