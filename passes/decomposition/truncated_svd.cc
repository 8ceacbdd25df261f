#include "passes/decomposition/truncated_svd.h"

#include <algorithm>
#include <random>

namespace onnxc {
namespace {

// Top k of a (m <= n assumed by the caller's transpose) from the m x m Gram.
TruncatedSvd FromGram(const Eigen::MatrixXd& a, int64_t k) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(a * a.transpose());
  const int64_t m = a.rows();
  TruncatedSvd r;
  r.u.resize(m, k);
  r.s.resize(k);
  for (int64_t i = 0; i < k; ++i) {  // eigenvalues come ascending
    r.u.col(i) = eig.eigenvectors().col(m - 1 - i);
    r.s[i] = std::sqrt(std::max(0.0, eig.eigenvalues()[m - 1 - i]));
  }
  r.v = a.transpose() * r.u;
  for (int64_t i = 0; i < k; ++i) r.v.col(i) /= r.s[i] > 0 ? r.s[i] : 1.0;
  return r;
}

TruncatedSvd Randomised(const Eigen::MatrixXd& a, int64_t k, uint64_t seed) {
  // Oversampling: 10 probes, or k/4 for large k (slowly decaying spectra).
  const int64_t p = std::min<int64_t>(std::min(a.rows(), a.cols()), k + std::max<int64_t>(10, k / 4));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  Eigen::MatrixXd omega(a.cols(), p);
  for (int64_t i = 0; i < omega.size(); ++i) omega.data()[i] = n01(rng);
  Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(a * omega).householderQ() * Eigen::MatrixXd::Identity(a.rows(), p);
  for (int it = 0; it < 2; ++it) {
    Eigen::MatrixXd z = Eigen::HouseholderQR<Eigen::MatrixXd>(a.transpose() * q).householderQ() *
                        Eigen::MatrixXd::Identity(a.cols(), p);
    q = Eigen::HouseholderQR<Eigen::MatrixXd>(a * z).householderQ() * Eigen::MatrixXd::Identity(a.rows(), p);
  }
  Eigen::MatrixXd b = q.transpose() * a;  // p x n
  TruncatedSvd small = FromGram(b, k);
  small.u = q * small.u;
  return small;
}

}  // namespace

TruncatedSvd ComputeTruncatedSvd(const Eigen::MatrixXd& a, int64_t k, uint64_t seed) {
  const bool transpose = a.rows() > a.cols();
  const Eigen::MatrixXd& m = a;
  const int64_t small_side = std::min(a.rows(), a.cols());
  k = std::max<int64_t>(1, std::min(k, small_side));
  TruncatedSvd r;
  const bool exact = small_side <= 1024 || k + 10 >= small_side * 6 / 10;
  if (transpose) {
    Eigen::MatrixXd t = m.transpose();
    r = exact ? FromGram(t, k) : Randomised(t, k, seed);
    std::swap(r.u, r.v);
  } else {
    r = exact ? FromGram(m, k) : Randomised(m, k, seed);
  }
  r.residual = std::max(0.0, a.squaredNorm() - r.s.squaredNorm());
  return r;
}

}  // namespace onnxc
