// The factor SparseGPT and GPTQ walk a layer's columns with: for the Gram
// matrix H of the layer's inputs (layer_statistics.h), features never seen
// (H_jj = 0) are marked dead (their weights must be 0), H is damped by
// `damp` x mean(diag H), and U is the upper Cholesky factor of H^-1
// (H^-1 = U^T U), as the reference implementations (IST-DASLab) compute it.
#ifndef ONNXC_ANALYSIS_LAYER_STATISTICS_INVERSE_HESSIAN_H_
#define ONNXC_ANALYSIS_LAYER_STATISTICS_INVERSE_HESSIAN_H_

#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"

namespace onnxc {

struct InverseHessianFactor {
  Eigen::MatrixXd upper;   // U
  std::vector<bool> dead;  // features with H_jj = 0
};

// Fails only if H stays singular after 4 increases of the damping (x10 each).
absl::StatusOr<InverseHessianFactor> FactorInverseHessian(Eigen::MatrixXd h, double damp);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_LAYER_STATISTICS_INVERSE_HESSIAN_H_
