// How far outputs are from a reference: max abs diff, SQNR, cosine, MSE.
// Used by differential tests, fusion proofs, the output check and
// sensitivity analysis.
#ifndef ONNXC_ANALYSIS_TENSOR_METRICS_H_
#define ONNXC_ANALYSIS_TENSOR_METRICS_H_

#include <cstdint>
#include <limits>
#include <string>

#include "ir/tensor.h"
#include "nlohmann/json.hpp"

namespace onnxc {

struct ErrorMetrics {
  double cosine = 1;
  double sqnr_db = std::numeric_limits<double>::infinity();  // +inf when identical
  double mse = 0;
  double max_abs = 0;  // max |ref - x|
  double max_ref = 0;  // max |ref|, to judge max_abs
  nlohmann::json ToJson() const;  // cosine, SQNR (above 200 dB or +inf written as 200), MSE
};

// Pools ref/x pairs over several tensors and samples.
class ErrorAccumulator {
 public:
  void Add(const float* ref, const float* x, int64_t n);
  ErrorMetrics Get() const;

 private:
  double rr_ = 0, ee_ = 0, rx_ = 0, xx_ = 0, max_abs_ = 0, max_ref_ = 0;
  int64_t n_ = 0;
};

struct TensorDiff {
  double max_abs = 0;    // max |ref - x|
  double max_ref = 0;    // max |ref|, to judge max_abs
  double sqnr_db = 0;    // 10 log10(sum ref^2 / sum (ref - x)^2); +inf when equal
  double cosine = 1;     // cosine similarity of the flattened tensors
  bool same_shape = true;
  std::string ToString() const;
};

// Compares any numeric tensors (converted to float).
TensorDiff CompareTensors(const Tensor& reference, const Tensor& x);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_TENSOR_METRICS_H_
