#include "analysis/tensor_metrics.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"

namespace onnxc {

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
  double signal = 0, noise = 0, dot = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double e = static_cast<double>(a[i]) - b[i];
    d.max_abs = std::max(d.max_abs, std::fabs(e));
    d.max_ref = std::max(d.max_ref, std::fabs(static_cast<double>(a[i])));
    signal += static_cast<double>(a[i]) * a[i];
    noise += e * e;
    dot += static_cast<double>(a[i]) * b[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  d.sqnr_db = noise == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(signal / noise);
  d.cosine = (signal == 0 || nb == 0) ? (signal == nb ? 1.0 : 0.0) : dot / std::sqrt(signal * nb);
  return d;
}

std::string TensorDiff::ToString() const {
  if (!same_shape) return "shapes differ";
  return absl::StrFormat("max_abs_diff=%.3g (max |ref| %.3g) sqnr=%.1f dB cosine=%.8f", max_abs, max_ref,
                         sqnr_db, cosine);
}

}  // namespace onnxc
