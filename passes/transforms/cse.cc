// cse: common-subexpression elimination. Two nodes with the same op, domain,
// attributes and inputs compute the same thing; the later one is replaced by
// the earlier. Identical constant initializers are merged first, so nodes
// reading equal constants also match. One pass in topological order, with a
// hash map: linear in graph size.
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/rewrite.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

std::string NodeKey(const Node& n) {
  std::string key = absl::StrCat(n.domain(), "|", n.op_type(), "|", n.num_outputs(), "|");
  for (const Value* in : n.inputs()) absl::StrAppend(&key, reinterpret_cast<uintptr_t>(in), ",");
  for (const Attribute& a : n.attributes()) {
    onnx::AttributeProto p = a.proto();
    p.clear_doc_string();
    absl::StrAppend(&key, "|", p.SerializeAsString());
  }
  return key;
}

class CommonSubexpressionElimination : public Pass {
 public:
  static constexpr char kName[] = "cse";
  static constexpr char kDescription[] =
      "merges identical nodes and identical constant initializers (subgraphs too)";
  static std::vector<OptionSpec> Options() {
    return {{"max-constant-bytes", OptionSpec::Type::kInt, "4096",
             "merge identical initializers up to this size (0: never)"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    int64_t merged_constants = 0, merged_nodes = 0;
    std::vector<Graph*> graphs;
    model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
    const int64_t max_bytes = options().GetInt("max-constant-bytes");
    for (Graph* g : graphs) {
      // Constants: equal type, shape and bytes.
      absl::flat_hash_map<std::string, Value*> constants;
      std::vector<Value*> inits(g->initializers().begin(), g->initializers().end());
      for (Value* v : inits) {
        if (!v->has_initializer() || v->is_graph_input() || v->IsGraphOutput()) continue;
        const Tensor& t = *v->initializer();
        if (static_cast<int64_t>(t.byte_size()) > max_bytes || t.type() == onnx::TensorProto::STRING) continue;
        std::string key = absl::StrCat(t.type(), "|", absl::StrJoin(t.dims(), ","), "|",
                                       std::string(t.raw(), t.byte_size()));
        auto [it, fresh] = constants.emplace(std::move(key), v);
        if (fresh) continue;
        g->ReplaceAllUsesWith(v, it->second);
        g->RemoveInitializer(v);
        ++merged_constants;
      }
      // Nodes, in topological order so inputs are already canonical.
      absl::flat_hash_map<std::string, Node*> seen;
      for (Node* n : g->NodeSnapshot()) {
        if (!IsDeterministic(*n)) continue;
        auto [it, fresh] = seen.emplace(NodeKey(*n), n);
        if (fresh) continue;
        Node* keep = it->second;
        bool interface = false;
        for (Value* out : n->outputs()) interface |= out != nullptr && !out->output_of().empty();
        if (interface) continue;  // its output names are the graph's interface
        for (int i = 0; i < n->num_outputs(); ++i) {
          if (n->output(i) == nullptr) continue;
          if (keep->output(i) == nullptr) { interface = true; break; }
        }
        if (interface) continue;
        for (int i = 0; i < n->num_outputs(); ++i)
          if (n->output(i)) g->ReplaceAllUsesWith(n->output(i), keep->output(i));
        g->EraseNode(n);
        ++merged_nodes;
      }
    }
    r.changes = merged_constants + merged_nodes;
    r.notes.push_back(absl::StrCat(merged_nodes, " nodes and ", merged_constants, " constants merged"));
    r.details = {{"nodes", merged_nodes}, {"constants", merged_constants}};
    return r;
  }
};

ONNXC_REGISTER_PASS(CommonSubexpressionElimination);

}  // namespace
}  // namespace onnxc
