#include "ir/constants.h"

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

void RemoveIfUnusedConstant(Graph& graph, Value* v) {
  if (v != nullptr && v->has_initializer() && !v->IsUsed() && !v->is_graph_input()) graph.RemoveInitializer(v);
}

}  // namespace onnxc
