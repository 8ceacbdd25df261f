#include "passes/pass_utils.h"

#include <fnmatch.h>

namespace onnxc {

std::optional<Tensor> GetConstant(const Model& model, const Value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->has_initializer() && (!v->is_graph_input() || model.ir_version() < 4))
    return *v->initializer();
  const Node* p = v->producer();
  if (p != nullptr && p->IsOp("Constant") && p->attributes().size() == 1 &&
      p->attributes()[0].name() == "value") {
    auto t = Tensor::FromProto(p->attributes()[0].t(), model.dir());
    if (t.ok()) return std::move(*t);
  }
  return std::nullopt;
}

Value* AddConstant(Model& model, Graph& graph, const std::string& base_name, Tensor t) {
  Value* v = graph.AddInitializer(graph.FreshName(base_name), std::move(t));
  if (model.ir_version() < 4 && graph.parent_node() == nullptr) {
    onnx::TypeProto type;
    type.mutable_tensor_type()->set_elem_type(v->initializer()->type());
    auto* shape = type.mutable_tensor_type()->mutable_shape();
    for (int64_t d : v->initializer()->dims()) shape->add_dim()->set_dim_value(d);
    graph.AddInput(v->name());
    v->set_type(type);
  }
  return v;
}

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

void RemoveIfUnusedConstant(Graph& graph, Value* v) {
  if (v != nullptr && v->has_initializer() && !v->IsUsed() && !v->is_graph_input()) graph.RemoveInitializer(v);
}

bool IsDeterministic(const Node& n) {
  const std::string& op = n.op_type();
  return op.rfind("Random", 0) != 0 && op != "Multinomial" && op != "Bernoulli" &&
         !(op == "Dropout" && n.input(2) != nullptr) && n.subgraphs().empty();
}

bool MatchesAny(const std::string& name, const std::vector<std::string>& globs) {
  for (const std::string& g : globs)
    if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

}  // namespace onnxc
