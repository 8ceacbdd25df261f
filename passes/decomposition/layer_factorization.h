// A linear layer split into two low-rank factors, and the graph rewrite that
// puts the pair in its place.
//
// Conv (spatial SVD, AIMET/AMCT): W (n, c, kh, kw) is unfolded into
// M (c*kh) x (n*kw), M[(ci, y), (co, x)] = W[co, ci, y, x]; with its top r
// singular triplets, the first conv (c -> r, kernel kh x 1, the original's
// vertical stride/pads) has W1[k, ci, y, 0] = U[(ci, y), k] sqrt(s_k), the
// second (r -> n, kernel 1 x kw, horizontal stride/pads, the bias) has
// W2[co, k, 0, x] = sqrt(s_k) V[(co, x), k]. Their composition is exactly
// the rank-r truncation of M.
// Gemm / MatMul (low rank): W (n x c) = U S V^T; x @ (V_r sqrt(S)) then
// @ (sqrt(S) U_r^T), the bias (and Gemm's alpha/beta) on the second.
//
// Refinement (Zhang et al. 2015): keep the first factor and refit the second
// by least squares so the pair reproduces the original layer's output on the
// calibration inputs, from their Gram matrix H alone: with P the map from
// the layer's input features to the second factor's input features,
//   B = W H P^T (P H P^T + lambda I)^-1.
#ifndef ONNXC_PASSES_DECOMPOSITION_LAYER_FACTORIZATION_H_
#define ONNXC_PASSES_DECOMPOSITION_LAYER_FACTORIZATION_H_

#include <cstdint>
#include <string>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "analysis/layer_statistics/linear_layer.h"
#include "ir/model.h"
#include "passes/decomposition/truncated_svd.h"

namespace onnxc {

// Multiply-adds of the layer and of its factor pair, from the shapes of its
// input and output (known after shape inference; batch 1).
struct FactorizationCost {
  int64_t original = 0;
  int64_t per_rank = 0;  // the pair costs per_rank x r
  int64_t max_rank = 0;  // min side of the unfolding (the full rank)
};
absl::StatusOr<FactorizationCost> CostOf(const LinearLayer& layer);

// The unfolding (Conv: (c*kh) x (n*kw); Gemm/MatMul: n x c).
Eigen::MatrixXd Unfold(const LinearLayer& layer, const Tensor& weight);

struct Factorization {
  int64_t rank = 0;
  Tensor first, second;  // weights of the two new layers
  double weight_error = 0;  // ||W - W_r||_F^2 / ||W||_F^2
  double layer_error = -1;  // relative output error on calibration data (with H; -1 without)
};

// The rank-r factors from `svd` (of Unfold()); with `h` (the layer's input
// Gram, LinearLayer feature order), the second factor is refit on it.
Factorization Factorize(const LinearLayer& layer, const Tensor& weight, const TruncatedSvd& svd, int64_t rank,
                        const Eigen::MatrixXd* h);

// Replaces `layer` by the pair: a new first node before it; the layer's own
// node becomes the second (its name, output and bias are kept).
absl::Status ApplyFactorization(Model& model, const LinearLayer& layer, Factorization f);

}  // namespace onnxc

#endif  // ONNXC_PASSES_DECOMPOSITION_LAYER_FACTORIZATION_H_
