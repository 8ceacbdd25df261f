#include "passes/decomposition/truncated_svd.h"

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

namespace onnxc {
namespace {

// Top k of a (m <= n assumed by the caller's transpose) from the m x m Gram.
// Above 1024 the eigen-decomposition runs in float (twice as fast; the
// values keep ~1e-7 of the largest, plenty to choose and truncate a rank).
TruncatedSvd FromGram(const Eigen::MatrixXd& a, int64_t k) {
  const int64_t m = a.rows();
  TruncatedSvd r;
  r.u.resize(m, k);
  r.s.resize(k);
  auto take = [&](const auto& eig) {
    for (int64_t i = 0; i < k; ++i) {  // eigenvalues come ascending
      r.u.col(i) = eig.eigenvectors().col(m - 1 - i).template cast<double>();
      r.s[i] = std::sqrt(std::max(0.0, static_cast<double>(eig.eigenvalues()[m - 1 - i])));
    }
  };
  Eigen::MatrixXd gram = a * a.transpose();
  if (m > 1024) take(Eigen::SelfAdjointEigenSolver<Eigen::MatrixXf>(gram.cast<float>()));
  else take(Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram));
  r.v = a.transpose() * r.u;
  for (int64_t i = 0; i < k; ++i) r.v.col(i) /= r.s[i] > 0 ? r.s[i] : 1.0;
  return r;
}

// op(a) * b with b's columns split over `threads` threads (Eigen's own
// parallel products need OpenMP, which the kernels keep at one thread).
Eigen::MatrixXf Product(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b, bool transpose_a, int threads) {
  Eigen::MatrixXf out(transpose_a ? a.cols() : a.rows(), b.cols());
  auto part = [&](int64_t c0, int64_t c1) {
    if (transpose_a) out.middleCols(c0, c1 - c0).noalias() = a.transpose() * b.middleCols(c0, c1 - c0);
    else out.middleCols(c0, c1 - c0).noalias() = a * b.middleCols(c0, c1 - c0);
  };
  const int64_t n = b.cols(), t = std::max<int64_t>(1, std::min<int64_t>(threads, n / 64));
  std::vector<std::thread> pool;
  for (int64_t i = 1; i < t; ++i) pool.emplace_back(part, n * i / t, n * (i + 1) / t);
  part(0, n / t);
  for (std::thread& th : pool) th.join();
  return out;
}

// Orthonormal columns spanning y's, by Cholesky QR twice (CholeskyQR2):
// products at matrix-multiply speed instead of Householder's, and the second
// pass restores the orthogonality the first loses on ill-conditioned y.
Eigen::MatrixXf Orthonormalize(Eigen::MatrixXf y, int threads) {
  for (int pass = 0; pass < 2; ++pass) {
    Eigen::MatrixXd g = Product(y, y, true, threads).cast<double>();
    g.diagonal().array() += 1e-12 * std::max(1e-300, g.diagonal().maxCoeff());
    Eigen::LLT<Eigen::MatrixXd> llt(g);
    const Eigen::MatrixXf r = Eigen::MatrixXd(llt.matrixU()).cast<float>();
    // y R^-1, split by rows over the threads (a triangular solve, no inverse).
    const int64_t m = y.rows(), t = std::max<int64_t>(1, std::min<int64_t>(threads, m / 256));
    auto part = [&](int64_t r0, int64_t r1) {
      auto rows = y.middleRows(r0, r1 - r0);
      r.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(rows);
    };
    std::vector<std::thread> pool;
    for (int64_t i = 1; i < t; ++i) pool.emplace_back(part, m * i / t, m * (i + 1) / t);
    part(0, m / t);
    for (std::thread& th : pool) th.join();
  }
  return y;
}

// Large matrices: the products in float (the weights are float; twice the
// speed of double), the small p x n problem in double.
TruncatedSvd Randomised(const Eigen::MatrixXd& a_double, int64_t k, uint64_t seed, int threads) {
  // Oversampling: 10 probes, or k/4 for large k (slowly decaying spectra).
  const int64_t p = std::min<int64_t>(std::min(a_double.rows(), a_double.cols()), k + std::max<int64_t>(10, k / 4));
  const Eigen::MatrixXf a = a_double.cast<float>();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n01;
  Eigen::MatrixXf omega(a.cols(), p);
  for (int64_t i = 0; i < omega.size(); ++i) omega.data()[i] = n01(rng);
  Eigen::MatrixXf q = Orthonormalize(Product(a, omega, false, threads), threads);
  for (int it = 0; it < 2; ++it) {
    Eigen::MatrixXf z = Orthonormalize(Product(a, q, true, threads), threads);
    q = Orthonormalize(Product(a, z, false, threads), threads);
  }
  Eigen::MatrixXd b = Product(q, a, true, threads).cast<double>();  // p x n
  TruncatedSvd small = FromGram(b, k);
  small.u = q.cast<double>() * small.u;
  return small;
}

}  // namespace

TruncatedSvd ComputeTruncatedSvd(const Eigen::MatrixXd& a, int64_t k, uint64_t seed, int threads) {
  const bool transpose = a.rows() > a.cols();
  const Eigen::MatrixXd& m = a;
  const int64_t small_side = std::min(a.rows(), a.cols());
  k = std::max<int64_t>(1, std::min(k, small_side));
  TruncatedSvd r;
  const bool exact = small_side <= 1024 || k + 10 >= small_side * 6 / 10;
  if (transpose) {
    Eigen::MatrixXd t = m.transpose();
    r = exact ? FromGram(t, k) : Randomised(t, k, seed, threads);
    std::swap(r.u, r.v);
  } else {
    r = exact ? FromGram(m, k) : Randomised(m, k, seed, threads);
  }
  r.residual = std::max(0.0, a.squaredNorm() - r.s.squaredNorm());
  return r;
}

}  // namespace onnxc
