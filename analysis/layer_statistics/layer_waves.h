// Layer-by-layer rebuilding (reconstruction after pruning, AdaRound) must
// measure each layer's inputs on a model whose earlier layers are already
// rebuilt. One pass over the calibration data per layer would cost
// layers x samples runs; layers that do not depend on each other can share
// one. A wave is such a set: its layers read only values that layers of
// earlier waves (or nodes outside the set) computed.
#ifndef ONNXC_ANALYSIS_LAYER_STATISTICS_LAYER_WAVES_H_
#define ONNXC_ANALYSIS_LAYER_STATISTICS_LAYER_WAVES_H_

#include <set>
#include <vector>

#include "ir/graph.h"

namespace onnxc {

// `layers`, grouped into waves in graph order (one linear walk).
std::vector<std::vector<Node*>> LayerWaves(const Graph& graph, const std::set<const Node*>& layers);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_LAYER_STATISTICS_LAYER_WAVES_H_
