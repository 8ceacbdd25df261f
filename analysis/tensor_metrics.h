// How far one output is from a reference: max abs diff, SQNR, cosine.
// Used by differential tests, fusion proofs and sensitivity analysis.
#ifndef ONNXC_ANALYSIS_TENSOR_METRICS_H_
#define ONNXC_ANALYSIS_TENSOR_METRICS_H_

#include <string>

#include "ir/tensor.h"

namespace onnxc {

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
