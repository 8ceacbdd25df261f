#include "passes/decomposition/evbmf.h"

#include <algorithm>
#include <cmath>

namespace onnxc {
namespace {

double Objective(double sigma2, const Eigen::VectorXd& s, double L, double M, double residual, double x_ub) {
  const double a = L / M;
  double obj = 0;
  for (int64_t h = 0; h < s.size(); ++h) {
    double x = s[h] * s[h] / (M * sigma2);
    if (x <= x_ub) {
      obj += x - std::log(x);
    } else {
      double b = x - (1 + a);
      double tau = 0.5 * (b + std::sqrt(std::max(0.0, b * b - 4 * a)));
      obj += x - tau + std::log((tau + 1) / x) + a * std::log(tau / a + 1);
    }
  }
  return obj + residual / (M * sigma2) + (L - static_cast<double>(s.size())) * std::log(sigma2);
}

}  // namespace

EvbmfResult Evbmf(const Eigen::VectorXd& s, int64_t L_in, int64_t M_in, double residual) {
  const double L = static_cast<double>(L_in), M = static_cast<double>(M_in), a = L / M;
  const double t = 2.5129 * std::sqrt(a), x_ub = (1 + t) * (1 + a / t);
  const int64_t H = s.size();
  EvbmfResult r;
  if (H == 0) return r;
  // e: the index past which singular values are surely noise.
  int64_t e = std::min<int64_t>(static_cast<int64_t>(std::ceil(L / (1 + a))) - 1, H) - 1;
  e = std::max<int64_t>(0, std::min<int64_t>(e, H - 1));
  double tail_mean = 0;
  int64_t tail = 0;
  for (int64_t h = std::min(e + 1, H - 1); h < H; ++h, ++tail) tail_mean += s[h] * s[h];
  tail_mean /= std::max<int64_t>(1, tail);
  const double s_next = s[std::min(e + 1, H - 1)];
  double lo = std::max(s_next * s_next / (M * x_ub), tail_mean / M);
  double hi = (s.squaredNorm() + residual) / (L * M);
  if (!(lo > 0)) lo = hi * 1e-12;
  if (lo > hi) std::swap(lo, hi);
  // Golden-section search on the bounded interval (the objective is
  // unimodal there in practice, as the reference's bounded Brent assumes).
  const double g = (std::sqrt(5.0) - 1) / 2;
  double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
  double f1 = Objective(x1, s, L, M, residual, x_ub), f2 = Objective(x2, s, L, M, residual, x_ub);
  for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; ++it) {
    if (f1 < f2) {
      hi = x2, x2 = x1, f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = Objective(x1, s, L, M, residual, x_ub);
    } else {
      lo = x1, x1 = x2, f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = Objective(x2, s, L, M, residual, x_ub);
    }
  }
  r.sigma2 = 0.5 * (lo + hi);
  const double threshold = std::sqrt(M * r.sigma2 * (1 + t) * (1 + a / t));
  for (int64_t h = 0; h < H; ++h) r.rank += s[h] > threshold;
  return r;
}

}  // namespace onnxc
