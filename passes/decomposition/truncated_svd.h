// The k largest singular triplets of a matrix, never a full SVD of it:
// small sides by the eigen-decomposition of the Gram matrix of the smaller
// side, large ones by a randomised range finder (Halko et al. 2011: k + max(10, k/4)
// random probes, 2 power iterations with re-orthogonalisation), whose cost is
// O(m n k) and whose memory is O((m + n) k).
#ifndef ONNXC_PASSES_DECOMPOSITION_TRUNCATED_SVD_H_
#define ONNXC_PASSES_DECOMPOSITION_TRUNCATED_SVD_H_

#include <cstdint>

#include "Eigen/Dense"

namespace onnxc {

struct TruncatedSvd {
  Eigen::MatrixXd u;  // m x k
  Eigen::VectorXd s;  // k, descending
  Eigen::MatrixXd v;  // n x k
  double residual = 0;  // ||A||_F^2 - sum s^2: the energy of the values not computed
};

// `threads` split the large products of the randomised path.
TruncatedSvd ComputeTruncatedSvd(const Eigen::MatrixXd& a, int64_t k, uint64_t seed = 1, int threads = 1);

}  // namespace onnxc

#endif  // ONNXC_PASSES_DECOMPOSITION_TRUNCATED_SVD_H_
