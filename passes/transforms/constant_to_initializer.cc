// constant-to-initializer: turns Constant nodes into initializers of the same
// name, so later passes see one kind of constant. Exporters such as
// PaddleOCR's put weights in Constant nodes; folding and fusion need them as
// initializers.
#include "absl/strings/str_cat.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

// The Constant's value as a tensor, or nullopt for forms left alone
// (sparse_value).
absl::StatusOr<std::optional<Tensor>> ConstantValue(const Node& n, const std::string& model_dir) {
  if (n.attributes().size() != 1) return std::optional<Tensor>();
  const Attribute& a = n.attributes()[0];
  const auto& p = a.proto();
  onnx::TensorProto t;
  if (a.name() == "value") {
    t = p.t();
  } else if (a.name() == "value_float") {
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_float_data(p.f());
  } else if (a.name() == "value_floats") {
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(p.floats_size());
    *t.mutable_float_data() = p.floats();
  } else if (a.name() == "value_int") {
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_int64_data(p.i());
  } else if (a.name() == "value_ints") {
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(p.ints_size());
    *t.mutable_int64_data() = p.ints();
  } else if (a.name() == "value_string") {
    t.set_data_type(onnx::TensorProto::STRING);
    t.add_string_data(p.s());
  } else if (a.name() == "value_strings") {
    t.set_data_type(onnx::TensorProto::STRING);
    t.add_dims(p.strings_size());
    *t.mutable_string_data() = p.strings();
  } else {
    return std::optional<Tensor>();
  }
  t.clear_name();
  auto tensor = Tensor::FromProto(std::move(t), model_dir);
  if (!tensor.ok()) return tensor.status();
  return std::optional<Tensor>(std::move(*tensor));
}

absl::StatusOr<int64_t> Convert(Model& model, Graph& graph) {
  int64_t converted = 0;
  for (Node* n : graph.NodeSnapshot()) {
    for (Graph* sub : n->subgraphs()) {
      auto c = Convert(model, *sub);
      if (!c.ok()) return c;
      converted += *c;
    }
    if (!n->IsOp("Constant") || n->num_outputs() != 1 || n->output(0) == nullptr) continue;
    auto value = ConstantValue(*n, model.dir());
    if (!value.ok())
      return absl::Status(value.status().code(),
                          absl::StrCat("Constant ", n->Describe(), ": ", value.status().message()));
    if (!value->has_value()) continue;
    Value* out = n->output(0);
    std::string name = out->name();
    Value* init = graph.AddInitializer(graph.FreshName(name + "_const"), std::move(**value));
    if (out->has_type()) init->set_type(*out->type());
    graph.ReplaceAllUsesWith(out, init);
    graph.EraseNode(n);
    graph.RenameValue(init, name);
    ++converted;
  }
  return converted;
}

class ConstantToInitializer : public Pass {
 public:
  static constexpr char kName[] = "constant-to-initializer";
  static constexpr char kDescription[] =
      "replaces Constant nodes by initializers of the same name (subgraphs too)";
  static std::vector<OptionSpec> Options() { return {}; }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    if (model.ir_version() < 4) {
      // IR < 4 lists every initializer as a graph input too, which would make
      // the constants overridable; leave such models as they are.
      r.notes.push_back("skipped: IR version < 4 requires initializers to be graph inputs");
      return r;
    }
    auto n = Convert(model, model.graph());
    if (!n.ok()) return n.status();
    r.changes = *n;
    return r;
  }
};

ONNXC_REGISTER_PASS(ConstantToInitializer);

}  // namespace
}  // namespace onnxc
