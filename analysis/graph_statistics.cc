#include "analysis/graph_statistics.h"

#include "absl/strings/str_cat.h"
#include "passes/registry.h"

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

// statistics: reports the cached GraphStatistics analysis; rewrites nothing.
class Statistics : public Pass {
 public:
  static constexpr char kName[] = "statistics";
  static constexpr char kDescription[] =
      "reports node counts by op type and parameter sizes (an analysis; changes nothing)";
  static std::vector<OptionSpec> Options() { return {}; }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto stats = ctx.analyses->Get<GraphStatistics>(model, ctx);
    if (!stats.ok()) return stats.status();
    PassResult r;
    r.details = (*stats)->ToJson();
    r.notes.push_back(absl::StrCat((*stats)->nodes, " nodes, ", (*stats)->parameters,
                                   " parameters in ", (*stats)->parameter_bytes, " bytes"));
    return r;
  }
};

ONNXC_REGISTER_PASS(Statistics);

}  // namespace

absl::StatusOr<std::unique_ptr<GraphStatistics>> GraphStatistics::Compute(Model& model, PassContext&) {
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
