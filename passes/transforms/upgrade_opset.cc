// upgrade-opset{to=N}: moves a model to a newer default-domain opset with
// ONNX's own version converter (libonnx 1.12: up to opset 17), run in a
// child process because the converter crashes on some models. Weights never
// go through it: tensors over 64 KiB travel as placeholders and are put back
// by name, so Constant-node weights, subgraphs, metadata and names stay as
// they were. quantize runs it by itself when the model's opset has no
// QuantizeLinear/DequantizeLinear (before 10) or no per-channel Q/DQ (13).
#include <map>

#include "absl/strings/str_cat.h"
#include "ir/child_process.h"
#include "ir/export.h"
#include "ir/import.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx/version_converter/convert.h"
#include "passes/pass/registry.h"
#include "passes/transforms/upgrade_opset.h"

namespace onnxc {
namespace {

constexpr int64_t kMaxInlineBytes = 64 << 10;
constexpr int kConverterMaxOpset = 17;  // what libonnx 1.12 knows

// Every tensor of the original model over the inline limit, by name:
// initializers and Constant-node values, in every graph.
void CollectLargeTensors(const Graph& g, std::map<std::string, const Tensor*>* init,
                         std::map<std::string, const onnx::TensorProto*>* constants) {
  for (const Value* v : g.initializers())
    if (v->has_initializer() && static_cast<int64_t>(v->initializer()->byte_size()) > kMaxInlineBytes)
      (*init)[v->name()] = v->initializer();
  for (const auto& n : g.nodes()) {
    if (n->IsOp("Constant") && n->output(0) != nullptr)
      if (const Attribute* a = n->attr("value"); a && a->type() == onnx::AttributeProto::TENSOR)
        (*constants)[n->output(0)->name()] = &a->t();
    for (const Graph* sub : n->subgraphs()) CollectLargeTensors(*sub, init, constants);
  }
}

// The converted graph's copies of the tensors in `init` and `constants`
// (placeholders from the export, or the converter's copies) shrunk to
// placeholders, so only the structure crosses the pipe. Tensors the
// converter made stay as they are.
void ShrinkLargeTensors(onnx::GraphProto* g, const std::map<std::string, const Tensor*>& init,
                        const std::map<std::string, const onnx::TensorProto*>& constants) {
  auto shrink = [](onnx::TensorProto* t) {
    t->clear_float_data();
    t->clear_int32_data();
    t->clear_int64_data();
    t->clear_double_data();
    t->set_raw_data(std::string(1, '\0'));
  };
  for (auto& t : *g->mutable_initializer())
    if (init.count(t.name())) shrink(&t);
  for (auto& n : *g->mutable_node())
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t() && n.op_type() == "Constant" && n.output_size() == 1 && constants.count(n.output(0)))
        shrink(a.mutable_t());
      if (a.has_g()) ShrinkLargeTensors(a.mutable_g(), init, constants);
      for (auto& sub : *a.mutable_graphs()) ShrinkLargeTensors(&sub, init, constants);
    }
}

// The original data back into the converted graph, by name.
absl::Status RestoreLargeTensors(onnx::GraphProto* g, const std::map<std::string, const Tensor*>& init,
                                 const std::map<std::string, const onnx::TensorProto*>& constants) {
  for (auto& t : *g->mutable_initializer()) {
    auto it = init.find(t.name());
    if (it == init.end()) continue;
    // ToProto appends dims, so the placeholder is emptied first.
    std::string name = t.name();
    t.Clear();
    it->second->ToProto(&t);  // external data stays external
    t.set_name(name);
  }
  for (auto& n : *g->mutable_node())
    for (auto& a : *n.mutable_attribute()) {
      auto it = n.output_size() == 1 ? constants.find(n.output(0)) : constants.end();
      if (a.has_t() && n.op_type() == "Constant" && it != constants.end()) {
        std::string name = a.t().name();
        *a.mutable_t() = *it->second;
        a.mutable_t()->set_name(name);
      }
      if (a.has_g()) {
        absl::Status s = RestoreLargeTensors(a.mutable_g(), init, constants);
        if (!s.ok()) return s;
      }
      for (auto& sub : *a.mutable_graphs()) {
        absl::Status s = RestoreLargeTensors(&sub, init, constants);
        if (!s.ok()) return s;
      }
    }
  return absl::OkStatus();
}

// Whether the value has a known rank in `g` (inputs, outputs, value_info).
bool HasRank(const onnx::GraphProto& g, const std::string& name) {
  auto ranked = [&](const onnx::ValueInfoProto& v) {
    return v.name() == name && v.type().tensor_type().shape().dim_size() > 0;  // ranks 0 = unknown here
  };
  for (const auto& v : g.value_info())
    if (ranked(v)) return true;
  for (const auto& v : g.input())
    if (ranked(v)) return true;
  for (const auto& v : g.output())
    if (ranked(v)) return true;
  for (const auto& t : g.initializer())
    if (t.name() == name) return true;
  return false;
}

// The element type of a value of `g` (float when no one says).
int32_t ElemType(const onnx::GraphProto& g, const std::string& name) {
  for (const auto* list : {&g.value_info(), &g.input(), &g.output()})
    for (const auto& v : *list)
      if (v.name() == name && v.type().tensor_type().elem_type() != 0) return v.type().tensor_type().elem_type();
  return onnx::TensorProto::FLOAT;
}

// ONNX's Softmax 12 -> 13 adapter needs the input's rank, which old models
// often leave unknown (a Reshape to a computed shape). Before 13 these ops
// flatten to 2-D around `axis`, so Flatten(axis) -> op(axis=1) ->
// Reshape(Shape(x)) computes the same at any opset, and the Flatten's output
// is declared 2-D for the adapter.
void MakeSoftmaxRanksKnown(onnx::GraphProto* g, int* counter) {
  std::vector<onnx::NodeProto> nodes(g->node().begin(), g->node().end());
  g->clear_node();
  for (auto& n : nodes) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) MakeSoftmaxRanksKnown(a.mutable_g(), counter);
      for (auto& sub : *a.mutable_graphs()) MakeSoftmaxRanksKnown(&sub, counter);
    }
    const bool softmax_like = (n.op_type() == "Softmax" || n.op_type() == "LogSoftmax" || n.op_type() == "Hardmax") &&
                              (n.domain().empty() || n.domain() == "ai.onnx");
    if (!softmax_like || n.input_size() != 1 || n.output_size() != 1 || HasRank(*g, n.input(0))) {
      *g->add_node() = std::move(n);
      continue;
    }
    int64_t axis = 1;
    for (const auto& a : n.attribute())
      if (a.name() == "axis") axis = a.i();
    const std::string tag = absl::StrCat(n.output(0), "__upgrade_", (*counter)++);
    const std::string flat = tag + "_flat", soft = tag + "_2d", shape = tag + "_shape";
    onnx::NodeProto* f = g->add_node();
    f->set_op_type("Flatten");
    f->set_name(tag + "_Flatten");
    f->add_input(n.input(0));
    f->add_output(flat);
    auto* fa = f->add_attribute();
    fa->set_name("axis");
    fa->set_type(onnx::AttributeProto::INT);
    fa->set_i(axis);
    onnx::ValueInfoProto* vi = g->add_value_info();
    vi->set_name(flat);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(ElemType(*g, n.input(0)));
    auto* shape2d = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape2d->add_dim();
    shape2d->add_dim();
    onnx::NodeProto* sh = g->add_node();
    sh->set_op_type("Shape");
    sh->set_name(tag + "_Shape");
    sh->add_input(n.input(0));
    sh->add_output(shape);
    const std::string out = n.output(0);
    n.set_input(0, flat);
    n.set_output(0, soft);
    n.clear_attribute();
    auto* na = n.add_attribute();
    na->set_name("axis");
    na->set_type(onnx::AttributeProto::INT);
    na->set_i(1);
    *g->add_node() = std::move(n);
    onnx::NodeProto* r = g->add_node();
    r->set_op_type("Reshape");
    r->set_name(tag + "_Reshape");
    r->add_input(soft);
    r->add_input(shape);
    r->add_output(out);
  }
}

}  // namespace

absl::Status UpgradeOpset(Model& model, int64_t to, Isolation isolation) {
  const int64_t from = model.OpsetVersion("");
  if (from >= to) return absl::OkStatus();
  if (to > kConverterMaxOpset)
    return absl::InvalidArgumentError(absl::StrCat("upgrade-opset: ONNX 1.12's converter goes up to opset ",
                                                   kConverterMaxOpset, ", not ", to));
  std::map<std::string, const Tensor*> init;
  std::map<std::string, const onnx::TensorProto*> constants;
  CollectLargeTensors(model.graph(), &init, &constants);
  auto bytes = RunInChildProcess(
      [&]() -> absl::StatusOr<std::string> {
        ExportOptions opts;
        opts.max_tensor_bytes = kMaxInlineBytes;
        onnx::ModelProto exported = ExportModel(model, opts);
        // Some adapters (Softmax 12 -> 13) need the input ranks, which old
        // exporters did not write.
        onnx::shape_inference::InferShapes(exported);
        if (from < 13 && to >= 13) {
          int counter = 0;
          MakeSoftmaxRanksKnown(exported.mutable_graph(), &counter);
        }
        onnx::ModelProto converted = onnx::version_conversion::ConvertVersion(exported, static_cast<int>(to));
        ShrinkLargeTensors(converted.mutable_graph(), init, constants);
        return converted.SerializeAsString();
      },
      "ONNX's version converter", isolation);
  if (!bytes.ok())
    return absl::Status(bytes.status().code(), absl::StrCat("upgrade-opset ", from, " -> ", to, ": ",
                                                            bytes.status().message()));
  onnx::ModelProto proto;
  if (!proto.ParseFromString(*bytes)) return absl::InternalError("upgrade-opset: the converter returned garbage");
  absl::Status restored = RestoreLargeTensors(proto.mutable_graph(), init, constants);
  if (!restored.ok()) return restored;
  auto upgraded = ImportModel(std::move(proto), model.dir(), model.path());
  if (!upgraded.ok()) return upgraded.status();
  (*upgraded)->set_path(model.path());
  model.Swap(**upgraded);
  return absl::OkStatus();
}

namespace {

class UpgradeOpsetPass : public Pass {
 public:
  static constexpr char kName[] = "upgrade-opset";
  static constexpr char kDescription[] =
      "moves the model to a newer opset with ONNX's version converter (isolated in a child process; weights, "
      "Constant nodes, subgraphs, metadata and names kept)";
  static std::vector<OptionSpec> Options() {
    return {{"to", OptionSpec::Type::kInt, "13", "the default-domain opset to reach (at most 17)"}};
  }
  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    PassResult r;
    const int64_t from = model.OpsetVersion(""), to = options().GetInt("to");
    if (from >= to) {
      r.notes.push_back(absl::StrCat("opset ", from, " already >= ", to));
      return r;
    }
    absl::Status s = UpgradeOpset(model, to, ctx.settings ? ctx.settings->isolation : Isolation::kChildProcess);
    if (!s.ok()) return s;
    r.changes = 1;
    r.notes.push_back(absl::StrCat("opset ", from, " -> ", to, " (ONNX's version converter)"));
    r.details = {{"from", from}, {"to", to}};
    return r;
  }
};

ONNXC_REGISTER_PASS(UpgradeOpsetPass);

}  // namespace
}  // namespace onnxc
