#include "analysis/layer_statistics/layer_waves.h"

#include <algorithm>
#include <map>

namespace onnxc {

std::vector<std::vector<Node*>> LayerWaves(const Graph& graph, const std::set<const Node*>& layers) {
  std::map<const Value*, int> depth;  // layers of the set on the longest path to the value
  std::vector<std::vector<Node*>> waves;
  for (auto& node : graph.nodes()) {
    int d = 0;
    for (Value* v : node->inputs())
      if (v != nullptr) {
        auto it = depth.find(v);
        if (it != depth.end()) d = std::max(d, it->second);
      }
    const bool layer = layers.count(node.get()) > 0;
    if (layer) {
      if (static_cast<int>(waves.size()) <= d) waves.resize(d + 1);
      waves[d].push_back(node.get());
    }
    for (Value* v : node->outputs())
      if (v != nullptr) depth[v] = layer ? d + 1 : d;
  }
  return waves;
}

}  // namespace onnxc
