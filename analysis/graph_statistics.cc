#include "analysis/graph_statistics.h"

#include "absl/strings/str_cat.h"

namespace onnxc {
namespace {

void Visit(const Graph& g, GraphStatistics* s) {
  for (const Value* v : g.initializers()) {
    if (!v->has_initializer()) continue;
    const Tensor& t = *v->initializer();
    ++s->initializers;
    s->parameters += t.num_elements();
    s->parameter_bytes += t.byte_size();
    s->bytes_by_type[DataTypeName(t.type())] += t.byte_size();
  }
  for (const auto& n : g.nodes()) {
    ++s->nodes;
    std::string key = n->domain().empty() || n->domain() == "ai.onnx"
                          ? n->op_type() : absl::StrCat(n->domain(), ".", n->op_type());
    ++s->op_counts[key];
    for (const Graph* sub : n->subgraphs()) {
      ++s->subgraphs;
      Visit(*sub, s);
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GraphStatistics>> GraphStatistics::Compute(Model& model, const AnalysisContext&, const Settings&) {
  auto s = std::make_unique<GraphStatistics>();
  Visit(model.graph(), s.get());
  return s;
}

nlohmann::json GraphStatistics::ToJson() const {
  return {{"nodes", nodes},           {"subgraphs", subgraphs},
          {"initializers", initializers}, {"parameters", parameters},
          {"parameter_bytes", parameter_bytes}, {"op_counts", op_counts},
          {"bytes_by_type", bytes_by_type}};
}

}  // namespace onnxc
