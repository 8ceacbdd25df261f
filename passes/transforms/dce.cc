// dce: removes nodes whose outputs nobody reads, in every graph, and
// initializers nobody reads (graph inputs are the model's interface and stay).
#include "absl/strings/str_cat.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

int64_t EliminateDeadNodes(Graph& graph, bool ir3) {
  int64_t removed = 0;
  // Inner graphs first: their dead nodes may be the only readers of outer values.
  for (auto& n : graph.nodes())
    for (Graph* sub : n->subgraphs()) removed += EliminateDeadNodes(*sub, ir3);
  // Reverse order: erasing a consumer may make its producers dead.
  std::vector<Node*> nodes = graph.NodeSnapshot();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* n = *it;
    bool used = false;
    for (const Value* out : n->outputs()) used |= out != nullptr && out->IsUsed();
    if (!used) {
      graph.EraseNode(n);
      ++removed;
    }
  }
  std::vector<Value*> unused;
  for (Value* v : graph.initializers())
    if (!v->IsUsed() && !v->is_graph_input()) unused.push_back(v);
  for (Value* v : unused) graph.RemoveInitializer(v);
  removed += static_cast<int64_t>(unused.size());
  // IR < 4 lists every initializer as a graph input too; there such inputs
  // are storage, not interface, and go when nothing reads them.
  if (ir3 && graph.parent_node() == nullptr) {
    for (int i = static_cast<int>(graph.inputs().size()) - 1; i >= 0; --i) {
      Value* v = graph.inputs()[i];
      if (v->has_initializer() && !v->IsUsed()) {
        graph.RemoveInput(i);
        graph.RemoveInitializer(v);
        ++removed;
      }
    }
  }
  return removed;
}

class DeadCodeElimination : public Pass {
 public:
  static constexpr char kName[] = "dce";
  static constexpr char kDescription[] =
      "removes nodes and initializers that no graph output depends on (subgraphs too)";
  static std::vector<OptionSpec> Options() { return {}; }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    r.changes = EliminateDeadNodes(model.graph(), model.ir_version() < 4);
    return r;
  }
};

ONNXC_REGISTER_PASS(DeadCodeElimination);

}  // namespace
}  // namespace onnxc
