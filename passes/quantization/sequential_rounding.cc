#include "passes/quantization/sequential_rounding.h"

#include <algorithm>

namespace onnxc {

Eigen::MatrixXd RoundSequentially(Eigen::MatrixXd W, const Eigen::MatrixXd& U, const SequentialRounding& how) {
  const int64_t rows = W.rows(), d = W.cols();
  const int64_t rounded = how.rounded_columns < 0 ? d : std::min(how.rounded_columns, d);
  const int64_t block = std::max<int64_t>(1, how.block);
  for (int64_t i1 = 0; i1 < rounded; i1 += block) {
    const int64_t count = std::min(block, rounded - i1);
    Eigen::MatrixXd W1 = W.middleCols(i1, count), Err1(rows, count);
    const Eigen::MatrixXd U1 = U.block(i1, i1, count, count);
    if (how.begin_block) how.begin_block(i1, count, W1);
    for (int64_t i = 0; i < count; ++i) {
      Eigen::VectorXd q(rows);
      for (int64_t n = 0; n < rows; ++n) q[n] = how.round(n, i1 + i, W1(n, i));
      Eigen::VectorXd err = (W1.col(i) - q) / U1(i, i);
      W1.col(i) = q;
      if (i + 1 < count) W1.rightCols(count - i - 1).noalias() -= err * U1.row(i).tail(count - i - 1);
      Err1.col(i) = err;
    }
    W.middleCols(i1, count) = W1;
    if (i1 + count < d) W.rightCols(d - i1 - count).noalias() -= Err1 * U.block(i1, i1 + count, count, d - i1 - count);
  }
  return W;
}

}  // namespace onnxc
