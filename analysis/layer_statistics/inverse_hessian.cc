#include "analysis/layer_statistics/inverse_hessian.h"

namespace onnxc {

absl::StatusOr<InverseHessianFactor> FactorInverseHessian(Eigen::MatrixXd h, double damp) {
  const int64_t d = h.rows();
  InverseHessianFactor f;
  f.dead.assign(d, false);
  for (int64_t j = 0; j < d; ++j)
    if (h(j, j) == 0) {
      h(j, j) = 1;
      f.dead[j] = true;
    }
  double mean_diag = h.diagonal().mean();
  if (!(mean_diag > 0)) mean_diag = 1;
  for (int attempt = 0; attempt < 5; ++attempt, damp *= 10) {
    Eigen::MatrixXd damped = h;
    damped.diagonal().array() += damp * mean_diag;
    Eigen::LLT<Eigen::MatrixXd> llt(damped);
    if (llt.info() != Eigen::Success) continue;
    Eigen::MatrixXd inv = llt.solve(Eigen::MatrixXd::Identity(d, d));
    Eigen::LLT<Eigen::MatrixXd> llt_inv(inv);
    if (llt_inv.info() != Eigen::Success) continue;
    f.upper = llt_inv.matrixU();
    return f;
  }
  return absl::FailedPreconditionError("the layer's input Gram matrix is singular even with damping");
}

}  // namespace onnxc
