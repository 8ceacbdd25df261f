// Empirical variational Bayesian matrix factorisation (Nakajima et al. 2013):
// the rank of the signal in an L x M matrix (L <= M) from its singular
// values, with the noise variance estimated from the data. AMCT picks
// decomposition ranks with it. Written from the paper's global solution:
//   a = L/M, t = 2.5129 sqrt(a), x_ub = (1 + t)(1 + a/t),
//   x_h = s_h^2 / (M sigma^2), tau(x) = (x - (1+a) + sqrt((x - (1+a))^2 - 4a)) / 2,
//   sigma^2 = argmin  sum_{x_h <= x_ub} (x_h - ln x_h)
//                   + sum_{x_h > x_ub} (x_h - tau(x_h) + ln((tau(x_h) + 1) / x_h) + a ln(tau(x_h)/a + 1))
//                   + residual / (M sigma^2) + (L - H) ln sigma^2
//   over [max(s_{e+1}^2 / (M x_ub), mean(s_{e+1..}^2) / M), (sum s^2 + residual) / (L M)],
//   rank = #{ s_h > sqrt(M sigma^2 (1 + t)(1 + a/t)) }.
// Only the H largest singular values need be known; `residual` is the energy
// of the others (||Y||_F^2 - sum of the H squared).
#ifndef ONNXC_PASSES_DECOMPOSITION_EVBMF_H_
#define ONNXC_PASSES_DECOMPOSITION_EVBMF_H_

#include <cstdint>

#include "Eigen/Dense"

namespace onnxc {

struct EvbmfResult {
  int64_t rank = 0;
  double sigma2 = 0;  // the estimated noise variance
};

// `s`: the H largest singular values, descending; L <= M the matrix's sides.
EvbmfResult Evbmf(const Eigen::VectorXd& s, int64_t L, int64_t M, double residual);

}  // namespace onnxc

#endif  // ONNXC_PASSES_DECOMPOSITION_EVBMF_H_
