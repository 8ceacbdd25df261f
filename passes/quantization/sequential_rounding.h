// The column-by-column rounding loop GPTQ (Frantar et al. 2023) and the
// project's AdaRound share. With U the upper Cholesky factor of H^-1 for the
// Gram matrix H of a layer's inputs (inverse_hessian.h), columns of W are
// rounded in order and each one's error is pushed onto the columns not yet
// rounded, so that tr((W - Q) H (W - Q)^T), the layer's output error on the
// inputs H was summed over, grows least. Updates are applied lazily in
// blocks of columns, as the reference implementation does.
#ifndef ONNXC_PASSES_QUANTIZATION_SEQUENTIAL_ROUNDING_H_
#define ONNXC_PASSES_QUANTIZATION_SEQUENTIAL_ROUNDING_H_

#include <cstdint>
#include <functional>

#include "Eigen/Dense"

namespace onnxc {

struct SequentialRounding {
  int64_t block = 128;  // columns whose updates are applied together
  // Only the first `rounded_columns` columns are rounded (-1: all); the rest
  // just absorb the errors (a bias column, say, which stays continuous).
  int64_t rounded_columns = -1;
  // Called before columns [start, start + count) are rounded, with W's
  // current (compensated) values of them (rows x count): the place to choose
  // per-block scales. May be empty.
  std::function<void(int64_t start, int64_t count, const Eigen::MatrixXd& columns)> begin_block;
  // The representable value row n, column j takes, given its current value.
  std::function<double(int64_t n, int64_t j, double value)> round;
};

// Returns W with the rounded columns replaced by their rounded values and
// the others compensated. `upper`: U (cols x cols).
Eigen::MatrixXd RoundSequentially(Eigen::MatrixXd w, const Eigen::MatrixXd& upper, const SequentialRounding& how);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_SEQUENTIAL_ROUNDING_H_
