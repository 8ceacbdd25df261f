#include "passes/quantization/pair_safe_weights.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace onnxc {
namespace {

// Conv (M, Cg, kh, kw): a = Cg, b = kh * kw. Per channel: channel = m.
// Per tensor: col = m.
int64_t ConvIndex(const ReductionLayout& l, int64_t channel, int64_t col, int64_t i) {
  int64_t m = l.channels > 1 ? channel : col;
  int64_t tap = i / l.a, ci = i % l.a;
  return (m * l.a + ci) * l.b + tap;
}

// B (K, N) read along K: a = K, b = N, c = 1 for B (N, K) (transposed).
// Per channel: channel = n, col = batch. Per tensor: col = batch * N + n.
int64_t GemmIndex(const ReductionLayout& l, int64_t channel, int64_t col, int64_t i) {
  int64_t n = l.channels > 1 ? channel : col % l.b;
  int64_t batch = l.channels > 1 ? col : col / l.b;
  int64_t base = batch * l.a * l.b;
  return l.c ? base + n * l.a + i : base + i * l.b + n;
}

// The pair (q1, q2) of same sign with the least (w - s q)^2 error under
// |q1| + |q2| <= 128 and |q| <= 127.
void QuantizePair(float w1, float w2, float s, int32_t* q1, int32_t* q2) {
  auto q = [&](float w) { return static_cast<int32_t>(std::clamp(std::nearbyint(w / s), -127.0f, 127.0f)); };
  *q1 = q(w1);
  *q2 = q(w2);
  if ((*q1 > 0) != (*q2 > 0) || *q1 == 0 || *q2 == 0 || std::abs(*q1) + std::abs(*q2) <= 128) return;
  // Same sign, over budget: take the excess off both equally (the
  // least-squares point on |x1| + |x2| = 128), then round along the line.
  float a1 = std::fabs(w1) / s, a2 = std::fabs(w2) / s;
  float excess = a1 + a2 - 128.0f;
  float x1 = std::clamp(a1 - excess / 2, 1.0f, 127.0f);
  int32_t r1 = static_cast<int32_t>(std::nearbyint(x1));
  int32_t r2 = std::min(127, 128 - r1);
  r1 = 128 - r2;
  int32_t sign = *q1 > 0 ? 1 : -1;
  *q1 = sign * r1;
  *q2 = sign * r2;
}

// Squared weight error of channel `ch` quantized with scale `s`.
double ChannelError(const std::vector<float>& v, const ReductionLayout& l, int64_t ch, float s) {
  double err = 0;
  for (int64_t col = 0; col < l.columns; ++col)
    for (int64_t i = 0; i < l.k; i += 2) {
      int64_t i1 = l.Index(ch, col, i);
      float w1 = v[i1], w2 = i + 1 < l.k ? v[l.Index(ch, col, i + 1)] : 0.0f;
      int32_t q1, q2;
      QuantizePair(w1, w2, s, &q1, &q2);
      double e1 = w1 - s * q1, e2 = w2 - s * q2;
      err += e1 * e1 + (i + 1 < l.k ? e2 * e2 : 0.0);
    }
  return err;
}

}  // namespace

std::optional<ReductionLayout> OrtReductionLayout(const Node& n, const Tensor& w, int axis) {
  ReductionLayout l;
  const std::vector<int64_t>& d = w.dims();
  if (n.op_type() == "Conv" && d.size() >= 3) {
    const int64_t m = d[0], cg = d[1], group = n.GetInt("group", 1);
    if (cg == 1 && group > 1 && m == group) return std::nullopt;  // depthwise: exact kernels
    int64_t taps = 1;
    for (size_t i = 2; i < d.size(); ++i) taps *= d[i];
    l.a = cg;
    l.b = taps;
    l.k = cg * taps;
    l.channels = axis == 0 ? m : 1;
    l.columns = axis == 0 ? 1 : m;
    l.index = ConvIndex;
    return l;
  }
  bool gemm = n.op_type() == "Gemm" && d.size() == 2;
  bool matmul = n.op_type() == "MatMul" && d.size() >= 2;
  if (!gemm && !matmul) return std::nullopt;
  const bool trans = gemm && n.GetInt("transB", 0) != 0;
  const int64_t rank = static_cast<int64_t>(d.size());
  const int64_t k = trans ? d[1] : d[rank - 2], cols = trans ? d[0] : d[rank - 1];
  int64_t batches = 1;
  for (int64_t i = 0; i < rank - 2; ++i) batches *= d[i];
  const int64_t out_axis = trans ? 0 : rank - 1;
  l.a = k;
  l.b = cols;
  l.c = trans ? 1 : 0;
  l.k = k;
  l.channels = axis == out_axis ? cols : 1;
  l.columns = axis == out_axis ? batches : batches * cols;
  l.index = GemmIndex;
  if (axis >= 0 && axis != out_axis) return std::nullopt;
  return l;
}

QuantizedWeight QuantizeWeightPairSafe(const Tensor& w, const ReductionLayout& l, int axis) {
  QuantizedWeight q;
  q.axis = axis;
  q.data = Tensor(onnx::TensorProto::INT8, w.dims());
  std::vector<float> v = w.ToFloatVector();
  int8_t* out = q.data.mutable_data<int8_t>();
  for (int64_t ch = 0; ch < l.channels; ++ch) {
    float absmax = 0, pairmax = 0;
    for (int64_t col = 0; col < l.columns; ++col)
      for (int64_t i = 0; i < l.k; i += 2) {
        float w1 = v[l.Index(ch, col, i)], w2 = i + 1 < l.k ? v[l.Index(ch, col, i + 1)] : 0.0f;
        absmax = std::max({absmax, std::fabs(w1), std::fabs(w2)});
        if ((w1 > 0 && w2 > 0) || (w1 < 0 && w2 < 0)) pairmax = std::max(pairmax, std::fabs(w1) + std::fabs(w2));
      }
    // The full-range scale, and the smallest scale at which no pair needs
    // shrinking; the best lies between them.
    QParams full = ComputeQParams(-absmax, absmax, INT8, true);
    float lo = full.scale, hi = std::max(lo, pairmax / 128.0f);
    float best = lo;
    if (hi > lo * 1.0001f && absmax > 0) {
      double best_err = INFINITY;
      const int steps = 16;
      for (int s = 0; s <= steps; ++s) {
        float scale = lo * std::pow(hi / lo, static_cast<float>(s) / steps);
        double err = ChannelError(v, l, ch, scale);
        if (err < best_err) best_err = err, best = scale;
      }
    }
    q.scales.push_back(best);
    q.zero_points.push_back(0);
    for (int64_t col = 0; col < l.columns; ++col)
      for (int64_t i = 0; i < l.k; i += 2) {
        int64_t i1 = l.Index(ch, col, i);
        float w2 = i + 1 < l.k ? v[l.Index(ch, col, i + 1)] : 0.0f;
        int32_t q1, q2;
        QuantizePair(v[i1], w2, best, &q1, &q2);
        out[i1] = static_cast<int8_t>(q1);
        if (i + 1 < l.k) out[l.Index(ch, col, i + 1)] = static_cast<int8_t>(q2);
      }
  }
  return q;
}

int64_t CountSaturablePairs(const Tensor& q, const ReductionLayout& l) {
  const int8_t* p = q.data<int8_t>();
  int64_t bad = 0;
  for (int64_t ch = 0; ch < l.channels; ++ch)
    for (int64_t col = 0; col < l.columns; ++col)
      for (int64_t i = 0; i + 1 < l.k; i += 2) {
        int32_t a = p[l.Index(ch, col, i)], b = p[l.Index(ch, col, i + 1)];
        bad += ((a > 0 && b > 0) || (a < 0 && b < 0)) && std::abs(a) + std::abs(b) > 128;
      }
  return bad;
}

int64_t ClampSaturablePairs(Tensor* q, const ReductionLayout& l) {
  int8_t* p = q->mutable_data<int8_t>();
  int64_t fixed = 0;
  for (int64_t ch = 0; ch < l.channels; ++ch)
    for (int64_t col = 0; col < l.columns; ++col)
      for (int64_t i = 0; i + 1 < l.k; i += 2) {
        int8_t& a = p[l.Index(ch, col, i)];
        int8_t& b = p[l.Index(ch, col, i + 1)];
        if (!((a > 0 && b > 0) || (a < 0 && b < 0))) continue;
        const int excess = std::abs(a) + std::abs(b) - 128;
        if (excess <= 0) continue;
        int8_t& larger = std::abs(a) >= std::abs(b) ? a : b;
        larger = static_cast<int8_t>(larger > 0 ? larger - excess : larger + excess);
        ++fixed;
      }
  return fixed;
}

}  // namespace onnxc
