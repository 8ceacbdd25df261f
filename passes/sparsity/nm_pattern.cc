#include "passes/sparsity/nm_pattern.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace onnxc {

absl::StatusOr<NmPattern> NmPattern::Parse(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  NmPattern p;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &p.keep) || !absl::SimpleAtoi(parts[1], &p.group) ||
      p.keep <= 0 || p.keep >= p.group || p.group > 32)
    return absl::InvalidArgumentError(
        absl::StrCat("pattern '", text, "': want N:M, at most N non-zeros in every M weights (0 < N < M <= 32), e.g. 2:4"));
  return p;
}

std::string NmPattern::ToString() const { return absl::StrCat(keep, ":", group); }

void SelectGroup(const Eigen::MatrixXd& scores, int64_t col0, const NmPattern& p,
                 const std::function<bool(int64_t)>& padding, Mask* mask) {
  const int64_t m = std::min<int64_t>(p.group, scores.cols() - col0);
  std::vector<int64_t> order(m);
  for (int64_t r = 0; r < scores.rows(); ++r) {
    std::iota(order.begin(), order.end(), 0);
    // Highest score first; padding last; ties keep the lower column (stable).
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      bool pa = padding(col0 + a), pb = padding(col0 + b);
      if (pa != pb) return pb;
      return scores(r, col0 + a) > scores(r, col0 + b);
    });
    for (int64_t i = 0; i < m; ++i) (*mask)(r, col0 + order[i]) = i < p.keep && !padding(col0 + order[i]);
  }
}

Mask SelectMask(const Eigen::MatrixXd& scores, const NmPattern& p, const std::function<bool(int64_t)>& padding) {
  Mask mask = Mask::Constant(scores.rows(), scores.cols(), false);
  for (int64_t c = 0; c < scores.cols(); c += p.group) SelectGroup(scores, c, p, padding, &mask);
  return mask;
}

bool SatisfiesPattern(const Eigen::MatrixXd& w, const NmPattern& p) {
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t c = 0; c < w.cols(); c += p.group) {
      int nonzero = 0;
      for (int64_t k = c; k < std::min<int64_t>(c + p.group, w.cols()); ++k) nonzero += w(r, k) != 0.0;
      if (nonzero > p.keep) return false;
    }
  return true;
}

}  // namespace onnxc
