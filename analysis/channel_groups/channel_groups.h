// Channel groups: which channels of a model must be removed together.
//
// A Conv/Gemm/MatMul output channel can only go if every tensor it flows
// into loses the same channel: channels pass unchanged through
// BatchNormalization, elementwise ops with scalar or per-channel constants,
// Pad, Resize, pooling, spatial Slice and depthwise convs (which shrink with
// them); a residual Add (or any elementwise op of two such tensors) ties the
// channels of its inputs into one group; Concat places groups side by side;
// Flatten/Reshape into a Gemm turns each channel into a block of features.
// The walk is one pass over the graph in topological order, so it is linear
// in graph size.
//
// A group that cannot be pruned says why (a graph output, a consumer the walk
// does not understand, a shared weight, ...). Channels are on axis 1 of every
// tensor the walk follows (NCHW, or the features of a 2-D Gemm input).
#ifndef ONNXC_ANALYSIS_CHANNEL_GROUPS_CHANNEL_GROUPS_H_
#define ONNXC_ANALYSIS_CHANNEL_GROUPS_CHANNEL_GROUPS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/analysis_manager.h"
#include "ir/model.h"

namespace onnxc {

// `channels` consecutive channels of group `group`.
struct ChannelSegment {
  int group = -1;
  int64_t channels = 0;
};

// How a tensor's axis 1 is made of groups: segments in order (several after
// a Concat); each channel covers `block` consecutive positions of the axis
// (after Flatten of N x C x H x W: H*W features).
struct ChannelLayout {
  std::vector<ChannelSegment> segments;
  int64_t block = 1;
  int64_t channels() const;
  int64_t positions() const { return channels() * block; }
  // positions() when group g keeps kept_counts[g] channels.
  int64_t PositionsKept(const std::vector<int64_t>& kept_counts) const;
};

// One constant to slice when channels go.
struct ChannelEdit {
  enum class Kind {
    kProducerWeight,  // a layer's weight along its output axis; its bias too
    kParameter,       // a per-channel constant: BN parameters, a per-channel Mul/Add constant, PRelu's slope
    kDepthwise,       // a depthwise conv's weight (axis 0), bias and `group` attribute
    kConsumerWeight,  // a layer's weight along its input-feature axis
  };
  Kind kind = Kind::kParameter;
  Node* node = nullptr;
  int input = 1;     // which input of `node` holds the constant
  int64_t axis = 0;  // its axis that runs along `layout`
  ChannelLayout layout;
};

struct ChannelGroup {
  std::string name;  // its first producer's name
  int64_t channels = 0;
  std::vector<Node*> producers;  // layers whose output channels these are
  std::vector<Node*> consumers;  // layers that read them as input features
  std::string blocked;           // why it cannot be pruned; "" if it can
};

// A Conv/Gemm/MatMul's multiply-adds and weight size as functions of the
// channels kept: positions x kernel x (input channels / groups) x outputs.
struct LinearLayerSize {
  Node* node = nullptr;
  int64_t positions = 0;    // output positions per sample (batch 1)
  int64_t kernel = 1;       // kernel area
  ChannelLayout input;      // its input channels (a fixed one when not in a group)
  ChannelLayout output;     // its output channels
  bool depthwise = false;   // one input channel per output channel
  int64_t groups = 1;       // conv groups (inputs are fixed when > 1)
};

struct ChannelGroups : Analysis {
  static constexpr char kName[] = "channel-groups";
  using Settings = NoSettings;
  // Needs tensor shapes (shape-inference) for the sizes of pooled, flattened
  // and concatenated tensors; fails naming the node whose shape is missing
  // only when that shape decides a group.
  static absl::StatusOr<std::unique_ptr<ChannelGroups>> Compute(Model& model, const AnalysisContext& ctx,
                                                                 const Settings& settings = {});

  std::vector<ChannelGroup> groups;
  std::vector<ChannelEdit> edits;
  std::map<const Value*, ChannelLayout> layouts;  // every tensor that carries group channels
  std::vector<LinearLayerSize> layers;            // every Conv/Gemm/MatMul with known shapes

  // Kept channels of every group, as sorted channel indices; Full() keeps all.
  using Kept = std::vector<std::vector<int64_t>>;
  Kept Full() const;
  // Positions of `layout`'s axis that stay, in order.
  static std::vector<int64_t> KeptPositions(const ChannelLayout& layout, const Kept& kept);
  // Positions channel `c` of group `g` covers in `layout` (none if it is not there).
  static std::vector<int64_t> PositionsOf(const ChannelLayout& layout, int g, int64_t c);
  // Multiply-adds (or, with `params`, weight elements) of all Conv/Gemm/MatMul
  // layers with these kept counts per group.
  int64_t Size(const std::vector<int64_t>& kept_counts, bool params) const;
  static int64_t SizeOf(const LinearLayerSize& layer, const std::vector<int64_t>& kept_counts, bool params);
};

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CHANNEL_GROUPS_CHANNEL_GROUPS_H_
