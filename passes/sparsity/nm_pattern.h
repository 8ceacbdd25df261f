// N:M structured sparsity ("2:4": at most 2 non-zeros in every 4 consecutive
// weights along the reduction axis; AMCT calls it 4选2). Masks are computed on
// the matrices of analysis/layer_statistics/linear_layer.h, whose feature
// order makes "4 consecutive features" 4 consecutive input channels at one
// kernel position. Padding features (channels beyond the real count) are
// zero and count as pruned, which is the logical padding of a reduction size
// that is not a multiple of M.
#ifndef ONNXC_PASSES_SPARSITY_NM_PATTERN_H_
#define ONNXC_PASSES_SPARSITY_NM_PATTERN_H_

#include <functional>
#include <string>

#include "Eigen/Dense"
#include "absl/status/statusor.h"

namespace onnxc {

struct NmPattern {
  int keep = 2;   // N
  int group = 4;  // M
  // "2:4" (N:M with 0 < N < M <= 32).
  static absl::StatusOr<NmPattern> Parse(const std::string& text);
  std::string ToString() const;
};

using Mask = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>;  // true: kept

// Per row and group of M columns starting at `col0` (a multiple of M), keeps
// the N columns of highest `scores`; columns for which `padding(col)` is true
// are dropped first. Writes the group's columns of `mask`.
void SelectGroup(const Eigen::MatrixXd& scores, int64_t col0, const NmPattern& p,
                 const std::function<bool(int64_t)>& padding, Mask* mask);

// The whole mask: SelectGroup over every group.
Mask SelectMask(const Eigen::MatrixXd& scores, const NmPattern& p, const std::function<bool(int64_t)>& padding);

// Whether every group of every row of `w` has at most N non-zeros.
bool SatisfiesPattern(const Eigen::MatrixXd& w, const NmPattern& p);

}  // namespace onnxc

#endif  // ONNXC_PASSES_SPARSITY_NM_PATTERN_H_
