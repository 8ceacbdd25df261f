#include "ir/rewrite.h"

namespace onnxc {

bool SoleUser(const Value* v, const Node* user) {
  if (!v->output_of().empty()) return false;
  for (const Use& u : v->uses())
    if (u.node != user) return false;
  return true;
}

bool BypassNode(Graph& graph, Node* node, Value* replacement) {
  Value* out = node->output(0);
  for (int i = 1; i < node->num_outputs(); ++i)
    if (node->output(i) && node->output(i)->IsUsed()) return false;
  if (out == nullptr) return false;
  if (!out->output_of().empty()) {
    bool renamable = replacement->producer() != nullptr && replacement->graph() == &graph &&
                     replacement->output_of().empty() && out->output_of().size() == 1 &&
                     out->IsGraphOutput();
    if (!renamable) return false;
    std::string name = out->name();
    if (out->has_type()) replacement->set_type(*out->type());
    graph.ReplaceAllUsesWith(out, replacement);
    graph.EraseNode(node);
    graph.RenameValue(replacement, name);
    return true;
  }
  graph.ReplaceAllUsesWith(out, replacement);
  graph.EraseNode(node);
  return true;
}

bool IsDeterministic(const Node& n) {
  const std::string& op = n.op_type();
  return op.rfind("Random", 0) != 0 && op != "Multinomial" && op != "Bernoulli" &&
         !(op == "Dropout" && n.input(2) != nullptr) && n.subgraphs().empty();
}

}  // namespace onnxc
