#include "passes/quantization/block_quantizer.h"

#include <algorithm>
#include <cmath>

#include "analysis/layer_statistics/inverse_hessian.h"
#include "passes/quantization/sequential_rounding.h"

namespace onnxc {
namespace {

struct Params {
  float scale;
  int zero_point;
};

// RTN's rule for one block's values (the range always includes 0).
Params ChooseParams(const double* v, int64_t n, int64_t stride, const BlockFormat& f) {
  const int qmax = (1 << f.bits) - 1, mid = 1 << (f.bits - 1);
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, static_cast<float>(v[i * stride]));
    hi = std::max(hi, static_cast<float>(v[i * stride]));
  }
  if (f.symmetric) {
    float absmax = std::max(std::fabs(lo), std::fabs(hi));
    float extreme = std::fabs(lo) >= std::fabs(hi) ? lo : hi;
    return {absmax == 0 ? 1.0f : -extreme / mid, mid};
  }
  float scale = hi > lo ? (hi - lo) / qmax : 1.0f;
  return {scale, std::clamp(static_cast<int>(std::nearbyint(-lo / scale)), 0, qmax)};
}

int Code(double v, const Params& p, int bits) {
  return std::clamp(static_cast<int>(std::nearbyint(v / p.scale)) + p.zero_point, 0, (1 << bits) - 1);
}

BlockCodes Empty(const Eigen::MatrixXd& w, const BlockFormat& f) {
  BlockCodes c;
  c.rows = w.rows();
  c.cols = w.cols();
  c.blocks = (c.cols + f.block - 1) / f.block;
  c.codes.assign(c.rows * c.cols, 0);
  c.scales.assign(c.rows * c.blocks, 1.0f);
  c.zero_points.assign(c.rows * c.blocks, 0);
  return c;
}

}  // namespace

BlockCodes QuantizeBlocksRtn(const Eigen::MatrixXd& w_in, const BlockFormat& f) {
  BlockCodes c = Empty(w_in, f);
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> w = w_in;
  for (int64_t n = 0; n < c.rows; ++n)
    for (int64_t b = 0; b < c.blocks; ++b) {
      int64_t k0 = b * f.block, k1 = std::min(c.cols, k0 + f.block);
      Params p = ChooseParams(&w(n, k0), k1 - k0, 1, f);
      c.scales[n * c.blocks + b] = p.scale;
      c.zero_points[n * c.blocks + b] = static_cast<uint8_t>(p.zero_point);
      for (int64_t k = k0; k < k1; ++k) {
        c.codes[n * c.cols + k] = static_cast<uint8_t>(Code(w(n, k), p, f.bits));
        c.max_error = std::max(c.max_error, std::fabs(c.Value(n, k, f.block) - w(n, k)));
      }
    }
  return c;
}

absl::StatusOr<BlockCodes> QuantizeBlocksGptq(const Eigen::MatrixXd& w_in, const Eigen::MatrixXd& h, const BlockFormat& f,
                                              double damp) {
  auto factor = FactorInverseHessian(h, damp);
  if (!factor.ok()) return factor.status();
  BlockCodes c = Empty(w_in, f);
  Eigen::MatrixXd W = w_in;
  for (int64_t k = 0; k < c.cols; ++k)
    if (factor->dead[k]) W.col(k).setZero();  // inputs never seen
  std::vector<Params> params(c.rows);
  SequentialRounding how;
  how.block = f.block;  // GPTQ block = quantization block
  how.begin_block = [&](int64_t start, int64_t count, const Eigen::MatrixXd& cols) {
    const int64_t b = start / f.block;
    for (int64_t n = 0; n < c.rows; ++n) {
      Eigen::VectorXd row = cols.row(n).transpose();
      params[n] = ChooseParams(row.data(), count, 1, f);
      c.scales[n * c.blocks + b] = params[n].scale;
      c.zero_points[n * c.blocks + b] = static_cast<uint8_t>(params[n].zero_point);
    }
  };
  how.round = [&](int64_t n, int64_t k, double v) {
    int code = Code(v, params[n], f.bits);
    c.codes[n * c.cols + k] = static_cast<uint8_t>(code);
    return (code - params[n].zero_point) * static_cast<double>(params[n].scale);
  };
  RoundSequentially(std::move(W), factor->upper, how);
  for (int64_t n = 0; n < c.rows; ++n)
    for (int64_t k = 0; k < c.cols; ++k) c.max_error = std::max(c.max_error, std::fabs(c.Value(n, k, f.block) - w_in(n, k)));
  return c;
}

AwqCodes QuantizeBlocksAwq(const Eigen::MatrixXd& w, const Eigen::MatrixXd& h, int64_t rows, const BlockFormat& f) {
  const int64_t k = w.cols();
  Eigen::VectorXd rms(k);
  for (int64_t j = 0; j < k; ++j) rms[j] = std::sqrt(std::max(0.0, h(j, j)) / std::max<int64_t>(1, rows));
  const double signal = std::max((w * h).cwiseProduct(w).sum(), 1e-300);
  auto dequantized = [&](const BlockCodes& c, const Eigen::VectorXd& s) {
    Eigen::MatrixXd d(c.rows, c.cols);
    for (int64_t n = 0; n < c.rows; ++n)
      for (int64_t j = 0; j < c.cols; ++j) d(n, j) = c.Value(n, j, f.block) / s[j];
    return d;
  };
  AwqCodes best;
  constexpr int kGrid = 20;
  for (int step = 0; step <= kGrid; ++step) {
    const double alpha = static_cast<double>(step) / kGrid;
    Eigen::VectorXd s(k);
    for (int64_t j = 0; j < k; ++j) s[j] = rms[j] > 0 ? std::pow(rms[j], alpha) : 0.0;
    double lo = 0, hi = 0;
    for (int64_t j = 0; j < k; ++j)
      if (s[j] > 0) {
        lo = lo == 0 ? s[j] : std::min(lo, s[j]);
        hi = std::max(hi, s[j]);
      }
    const double norm = lo > 0 ? std::sqrt(lo * hi) : 1.0;
    for (int64_t j = 0; j < k; ++j) s[j] = s[j] > 0 ? s[j] / norm : 1.0;  // channels never seen keep 1
    BlockCodes c = QuantizeBlocksRtn(w * s.asDiagonal(), f);
    const Eigen::MatrixXd d = w - dequantized(c, s);
    const double error = (d * h).cwiseProduct(d).sum() / signal;
    if (step == 0) best.error_rtn = error;
    if (step == 0 || error < best.error_awq) {
      best.codes = std::move(c);
      best.input_scale = s;
      best.alpha = alpha;
      best.error_awq = error;
    }
  }
  // max_error against the original weight (codes are of the scaled one).
  const Eigen::MatrixXd d = w - dequantized(best.codes, best.input_scale);
  best.codes.max_error = d.cwiseAbs().maxCoeff();
  return best;
}

}  // namespace onnxc
