#include "passes/sparsity/sparse_gpt.h"

#include "absl/strings/str_cat.h"
#include "analysis/layer_statistics/inverse_hessian.h"

namespace onnxc {

absl::StatusOr<Mask> SparseGptPrune(Eigen::MatrixXd* w, const Eigen::MatrixXd& h_in, const NmPattern& pattern,
                                    const std::function<bool(int64_t)>& padding, const SparseGptSettings& settings) {
  Eigen::MatrixXd& W = *w;
  const int64_t d = W.cols(), rows = W.rows();
  auto factor = FactorInverseHessian(h_in, settings.damp);
  if (!factor.ok()) return factor.status();
  for (int64_t j = 0; j < d; ++j)
    if (factor->dead[j]) W.col(j).setZero();  // never seen (padding, or always zero): weight 0
  const Eigen::MatrixXd& U = factor->upper;
  Mask mask = Mask::Constant(rows, d, true);
  const int64_t block = std::max<int64_t>(pattern.group, settings.block - settings.block % pattern.group);
  for (int64_t i1 = 0; i1 < d; i1 += block) {
    const int64_t count = std::min(block, d - i1);
    Eigen::MatrixXd W1 = W.middleCols(i1, count);
    Eigen::MatrixXd Err1 = Eigen::MatrixXd::Zero(rows, count);
    const Eigen::MatrixXd U1 = U.block(i1, i1, count, count);
    for (int64_t i = 0; i < count; ++i) {
      if (i % pattern.group == 0) {
        const int64_t m = std::min<int64_t>(pattern.group, count - i);
        Eigen::MatrixXd scores(rows, m);
        for (int64_t k = 0; k < m; ++k) scores.col(k) = W1.col(i + k).array().square() / (U1(i + k, i + k) * U1(i + k, i + k));
        Mask group_mask = Mask::Constant(rows, m, false);
        SelectGroup(scores, 0, pattern, [&](int64_t k) { return padding(i1 + i + k); }, &group_mask);
        mask.block(0, i1 + i, rows, m) = group_mask;
      }
      Eigen::VectorXd col = W1.col(i);
      Eigen::VectorXd q = mask.col(i1 + i).select(col, 0.0);
      Eigen::VectorXd err = (col - q) / U1(i, i);
      W1.col(i) = q;
      if (i + 1 < count) W1.rightCols(count - i - 1).noalias() -= err * U1.row(i).tail(count - i - 1);
      Err1.col(i) = err;
    }
    W.middleCols(i1, count) = W1;
    if (i1 + count < d) W.rightCols(d - i1 - count).noalias() -= Err1 * U.block(i1, i1 + count, count, d - i1 - count);
  }
  // Exact zeros where pruned (the updates above never touch pruned columns
  // after their turn, but padding columns are forced too).
  W = mask.select(W, 0.0);
  return mask;
}

double RelativeOutputError(const Eigen::MatrixXd& w, const Eigen::MatrixXd& pruned, const Eigen::MatrixXd& h) {
  Eigen::MatrixXd delta = w - pruned;
  double err = (delta * h * delta.transpose()).trace();
  double ref = (w * h * w.transpose()).trace();
  return ref > 0 ? err / ref : 0;
}

}  // namespace onnxc
