// The rewrites behind prune-channels: remove channels of channel groups
// (analysis/channel_groups) from every constant that runs along them, and
// refit a layer whose inputs lost channels by ridge least squares.
#ifndef ONNXC_PASSES_PRUNING_CHANNEL_PRUNING_H_
#define ONNXC_PASSES_PRUNING_CHANNEL_PRUNING_H_

#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "analysis/channel_groups/channel_groups.h"
#include "analysis/layer_statistics/linear_layer.h"
#include "analysis/layer_statistics/paired_statistics.h"
#include "ir/model.h"

namespace onnxc {

// The elements of `t` at `positions` along `axis` (any element type).
Tensor SliceAlongAxis(const Tensor& t, int64_t axis, const std::vector<int64_t>& positions);

// Keeps channels `kept[g]` of every group `g` of `groups` (computed on this
// model): producers' weights and biases, BN and other per-channel
// parameters, depthwise convs and consumers' weights are sliced, and the
// shapes of the tensors in between are updated.
absl::Status ApplyChannelPruning(Model& model, const ChannelGroups& groups, const ChannelGroups::Kept& kept);

// A layer's weights as the refit sees them: W (outputs x features, Gemm's
// alpha folded in) and the bias b (zeros if the layer has none); has_bias is
// false where no bias can be written (MatMul, a Gemm C that is not per output).
struct LayerWeights {
  Eigen::MatrixXd w;
  Eigen::VectorXd b;
  bool has_bias = false;
};
absl::StatusOr<LayerWeights> ReadLayerWeights(const Model& model, const LinearLayer& layer);
// Only the outputs `rows` (those a pruned producer kept).
LayerWeights SelectOutputs(const LayerWeights& weights, const std::vector<int64_t>& rows);
// Writes them back (a Conv or Gemm without a bias gets one).
absl::Status WriteLayerWeights(Model& model, const LinearLayer& layer, const LayerWeights& weights);

// The refit from paired statistics (paired_statistics.h): [W b] minimising the
// output error against `reference` + lambda ||W - W_current||^2, lambda =
// ridge * mean(diag): the ridge pulls toward the pruned weights, not toward 0.
struct Refit {
  LayerWeights weights;
  double error_before = 0, error_after = 0;  // output error / output energy, on the calibration data
};
Refit RefitFromPairedGram(const PairedGram& g, const LayerWeights& reference, const LayerWeights& current,
                          double ridge);

// Channel reconstruction, for layers with more input features than
// calibration rows (a Gemm after Flatten, deep convs on small maps): from
// channel-row paired statistics, the reference's input channels are
// predicted from the current ones, A = (own + lambda I)^-1 cross, and the
// original layer is applied to that prediction (its bias absorbs the
// constant). Errors are those of the predicted channels.
// `kept_channels[c]` is the original channel of current channel c (for the
// error before the refit); `block` is a Gemm's features per channel.
Refit RefitChannelsFromPairedGram(const PairedGram& g, const LinearLayer& reference_layer,
                                  const LayerWeights& reference, const LinearLayer& current_layer,
                                  const LayerWeights& current, const std::vector<int64_t>& kept_channels,
                                  int64_t block, double ridge);
// The same from the original layer's feature Gram alone (only one group
// pruned, kept inputs unchanged): the channel Gram is the sum of its
// per-position blocks.
Eigen::MatrixXd RefitChannelsFromGram(const Eigen::MatrixXd& h, const LinearLayer& reference_layer,
                                      const Eigen::MatrixXd& w, const LinearLayer& pruned_layer,
                                      const std::vector<int64_t>& kept_channels, int64_t block, double ridge);
// Whether a layer reading `features` features per row with `rows` calibration
// rows needs channel reconstruction (too few rows for a direct fit).
inline bool NeedsChannelRefit(int64_t rows, int64_t features) { return rows < 4 * features; }

// The refit when the kept inputs are exactly the original ones (only one
// group pruned): W' = W H[:,S] (H[S,S] + lambda I)^-1 from the original
// layer's input Gram H alone. `original_feature[j]` is the original feature
// of the pruned layer's feature j (-1 for padding).
Eigen::MatrixXd RefitFromGram(const Eigen::MatrixXd& w, const Eigen::MatrixXd& h,
                              const std::vector<int64_t>& original_feature, double ridge);

// For a consumer whose input axis kept `kept_inputs` (channels for a Conv,
// features for a Gemm/MatMul), the original feature of each feature of the
// pruned layer (LinearLayer order; -1 for padding).
std::vector<int64_t> OriginalFeatures(const LinearLayer& original, const LinearLayer& pruned,
                                      const std::vector<int64_t>& kept_inputs);

}  // namespace onnxc

#endif  // ONNXC_PASSES_PRUNING_CHANNEL_PRUNING_H_
