// SparseGPT (Frantar & Alistarh 2023) for one layer: prune W (outputs x
// features) to an N:M pattern while updating the weights not pruned so the
// layer's output on the calibration data changes least. H is the Gram matrix
// of the layer's inputs (analysis/layer_statistics); the method needs only H,
// so it runs in O(d^3 + rows x d^2) whatever the number of samples.
//
// As the reference implementation (IST-DASLab/sparsegpt): features never seen
// (H_jj = 0) get weight 0; H is damped by `damp` x mean(diag H); U is the upper
// Cholesky factor of H^-1; columns are walked in blocks of `block`; at the
// first column of every group of M, each row keeps the N columns with the
// largest w^2 / U_jj^2; every pruned column's error is pushed to the columns
// after it (within the block at once, to later blocks after the block).
#ifndef ONNXC_PASSES_SPARSITY_SPARSE_GPT_H_
#define ONNXC_PASSES_SPARSITY_SPARSE_GPT_H_

#include <functional>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "passes/sparsity/nm_pattern.h"

namespace onnxc {

struct SparseGptSettings {
  double damp = 0.01;   // fraction of mean(diag H) added to the diagonal
  int64_t block = 128;  // columns per lazy-update block (rounded down to a multiple of M)
};

// Prunes `w` in place and returns the mask (true: kept). Fails only if H
// stays singular after 4 increases of the damping (x10 each).
absl::StatusOr<Mask> SparseGptPrune(Eigen::MatrixXd* w, const Eigen::MatrixXd& h, const NmPattern& pattern,
                                    const std::function<bool(int64_t)>& padding, const SparseGptSettings& settings);

// The layer's output error on the calibration data relative to its output:
// tr((W - W') H (W - W')^T) / tr(W H W^T).
double RelativeOutputError(const Eigen::MatrixXd& w, const Eigen::MatrixXd& pruned, const Eigen::MatrixXd& h);

}  // namespace onnxc

#endif  // ONNXC_PASSES_SPARSITY_SPARSE_GPT_H_
