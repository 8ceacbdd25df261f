// A linear layer as the compression methods see it: a Conv, ConvTranspose,
// Gemm or MatMul with a constant weight, viewed per group as a matrix
// W (outputs x features) that multiplies feature vectors x of its input:
//   y = W x  for every output position.
// Features are ordered so that 4 consecutive ones are 4 consecutive input
// channels at one kernel position ((r, s, c) order, c innermost), and the
// channel count is padded to a multiple of `channel_pad` with features that
// are always zero. So "groups of 4 consecutive features" is exactly the 2:4
// rule along the reduction axis, and SparseGPT, Wanda, pruning and
// decomposition all read the same matrix and the same input statistics.
#ifndef ONNXC_ANALYSIS_LAYER_STATISTICS_LINEAR_LAYER_H_
#define ONNXC_ANALYSIS_LAYER_STATISTICS_LINEAR_LAYER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "ir/model.h"
#include "kernels/executor.h"

namespace onnxc {

struct LinearLayer {
  enum class Kind { kConv, kConvTranspose, kGemm, kMatMul };
  Node* node = nullptr;
  Kind kind = Kind::kConv;
  Value* weight = nullptr;       // the weight value (initializer or Constant output)
  // The weight is read through a DequantizeLinear (a quantized model; only
  // with DescribeLinearLayer's through_dequantize). Such layers can be
  // inspected (verify-sparsity), not rewritten.
  bool dequantized = false;
  std::vector<int64_t> weight_dims;
  int64_t groups = 1;            // conv groups (1 otherwise)
  int64_t outputs_per_group = 0; // rows of each group's matrix
  int64_t channels_per_group = 0;// input channels each group reads (Gemm/MatMul: K)
  int64_t padded_channels = 0;   // channels_per_group rounded up to channel_pad
  int64_t kernel_h = 1, kernel_w = 1;
  bool trans_b = false;          // Gemm
  // Conv geometry (2-D; a 1-D conv has kernel_h = 1).
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::string auto_pad = "NOTSET";
  bool conv1d = false;

  std::string name() const;             // node name, or its output's name if unnamed
  int64_t features() const { return kernel_h * kernel_w * padded_channels; }
  // Multiply-adds per output position, all groups (padding excluded).
  int64_t macs_per_position() const { return groups * outputs_per_group * kernel_h * kernel_w * channels_per_group; }

  // Feature index of (channel c of the group, kernel row r, column s).
  int64_t Feature(int64_t c, int64_t r, int64_t s) const { return (r * kernel_w + s) * padded_channels + c; }
  bool IsPadding(int64_t feature) const { return feature % padded_channels >= channels_per_group; }

  // Where output k, channel c, kernel (r, s) of group g sits in the weight tensor.
  int64_t ElementIndex(int64_t g, int64_t k, int64_t c, int64_t r, int64_t s) const;
  // The weight in float (dequantized if it is read through DequantizeLinear).
  absl::StatusOr<Tensor> ReadWeight(const Model& model) const;
  // The weight as one matrix per group (padding features are 0).
  std::vector<Eigen::MatrixXd> ToMatrices(const Tensor& weight) const;
  // Writes matrices back into a float tensor of the weight's shape (padding
  // features are dropped).
  void FromMatrices(const std::vector<Eigen::MatrixXd>& m, Tensor* weight) const;

  // Calls `rows(g, X)` with blocks of feature rows of group g taken from one
  // observed input tensor (Conv: im2col patches; Gemm/MatMul: the input's
  // rows). X is row-major, at most `block_rows` rows, `features()` columns.
  // ConvTranspose has no per-output patches; it is refused.
  using RowBlock = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  absl::Status ForEachInputRows(const TensorView& input, int64_t block_rows,
                                const std::function<void(int64_t group, const RowBlock& x)>& rows) const;
};

// The layer `node` is, or why it is not one: a Conv/ConvTranspose/Gemm/MatMul
// of float type whose weight is a constant (initializer or Constant node),
// 1-D or 2-D for convs, rank 2 for Gemm/MatMul weights.
// With `through_dequantize`, a weight read through DequantizeLinear of a
// constant also counts (for inspection only).
absl::StatusOr<LinearLayer> DescribeLinearLayer(const Model& model, Node* node, int64_t channel_pad = 4,
                                                bool through_dequantize = false);

// Every node of the main graph that could be a layer, in graph order, with
// either the layer or the reason it is not one.
struct LinearLayerCandidate {
  Node* node;
  absl::StatusOr<LinearLayer> layer;
};
std::vector<LinearLayerCandidate> FindLinearLayers(const Model& model, int64_t channel_pad = 4,
                                                   bool through_dequantize = false);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_LAYER_STATISTICS_LINEAR_LAYER_H_
