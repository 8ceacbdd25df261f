#include "analysis/tensor_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"

namespace onnxc {

nlohmann::json ErrorMetrics::ToJson() const {
  double s = std::isfinite(sqnr_db) ? std::min(sqnr_db, 200.0) : (sqnr_db > 0 ? 200.0 : -200.0);
  return {{"cosine", cosine}, {"sqnr_db", s}, {"mse", mse}};
}

void ErrorAccumulator::Add(const float* ref, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double r = ref[i], v = x[i], e = r - v;
    rr_ += r * r;
    ee_ += e * e;
    rx_ += r * v;
    xx_ += v * v;
    max_abs_ = std::max(max_abs_, std::fabs(e));
    max_ref_ = std::max(max_ref_, std::fabs(r));
  }
  n_ += n;
}

ErrorMetrics ErrorAccumulator::Get() const {
  ErrorMetrics m;
  m.max_abs = max_abs_;
  m.max_ref = max_ref_;
  if (n_ == 0) return m;
  m.mse = ee_ / n_;
  m.sqnr_db = ee_ == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(rr_ / ee_);
  if (rr_ == 0 && xx_ == 0) m.cosine = 1;
  else if (rr_ == 0 || xx_ == 0) m.cosine = 0;
  else m.cosine = rx_ / std::sqrt(rr_ * xx_);
  return m;
}

TensorDiff CompareTensors(const Tensor& reference, const Tensor& x) {
  TensorDiff d;
  if (reference.dims() != x.dims()) {
    d.same_shape = false;
    d.max_abs = std::numeric_limits<double>::infinity();
    d.sqnr_db = -std::numeric_limits<double>::infinity();
    d.cosine = 0;
    return d;
  }
  std::vector<float> a = reference.ToFloatVector(), b = x.ToFloatVector();
  ErrorAccumulator acc;
  acc.Add(a.data(), b.data(), static_cast<int64_t>(a.size()));
  ErrorMetrics m = acc.Get();
  d.max_abs = m.max_abs;
  d.max_ref = m.max_ref;
  d.sqnr_db = m.sqnr_db;
  d.cosine = m.cosine;
  return d;
}

std::string TensorDiff::ToString() const {
  if (!same_shape) return "shapes differ";
  return absl::StrFormat("max_abs_diff=%.3g (max |ref| %.3g) sqnr=%.1f dB cosine=%.8f", max_abs, max_ref,
                         sqnr_db, cosine);
}

}  // namespace onnxc
