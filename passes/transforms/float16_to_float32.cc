// float16-to-float32: computes a float16 (or bfloat16) model in float32
// between Casts at its interface. Weights and constants are widened
// (exactly), internal Casts to 16-bit floats become Casts to float32, and
// every graph input and output keeps its 16-bit type: a Cast after each such
// input, one before each such output. Numerics change only by being more
// precise than the 16-bit model.
//
// quantize runs it on 16-bit float models: ONNX Runtime's int8 kernels
// (QLinearConv, QGemm, ...) take float32 scales, and QuantizeLinear takes
// only float32 before opset 19, so int8 inside a float16 model would run as
// a float16 simulation; in a float32 region it runs on the integer kernels,
// and callers still pass and get float16.
#include "absl/strings/str_cat.h"
#include "ir/constants.h"
#include "passes/pass/registry.h"
#include "passes/transforms/float16_to_float32.h"

namespace onnxc {
namespace {

using TP = onnx::TensorProto;

bool Is16BitFloat(DataType t) { return t == TP::FLOAT16 || t == TP::BFLOAT16; }

Tensor Widen(const Tensor& t) {
  Tensor out(TP::FLOAT, t.dims());
  std::vector<float> v = t.ToFloatVector();
  std::copy(v.begin(), v.end(), out.mutable_data<float>());
  return out;
}

void SetElemType(Value* v, DataType t) {
  if (!v->has_type()) return;
  onnx::TypeProto type = *v->type();
  type.mutable_tensor_type()->set_elem_type(t);
  v->set_type(type);
}

}  // namespace

absl::StatusOr<Float16Conversion> ConvertFloat16ToFloat32(Model& model) {
  Float16Conversion c;
  int64_t& tensors = c.tensors;
  int64_t& casts = c.casts;
  int64_t& values = c.values;
  std::vector<Graph*> graphs;
  model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
  for (Graph* g : graphs) {
    for (Value* v : g->initializers())
      if (v->has_initializer() && Is16BitFloat(v->initializer()->type())) {
        g->SetInitializer(v, Widen(*v->initializer()));
        SetElemType(v, TP::FLOAT);
        ++tensors;
      }
    for (Node* n : g->NodeSnapshot()) {
      if (n->IsOp("Cast") && Is16BitFloat(static_cast<DataType>(n->GetInt("to", 0)))) {
        n->SetAttr(Attribute::Int("to", TP::FLOAT));
        ++casts;
      }
      for (const char* name : {"value"}) {  // Constant, ConstantOfShape
        const Attribute* a = n->attr(name);
        if (a == nullptr || a->type() != onnx::AttributeProto::TENSOR || !Is16BitFloat(static_cast<DataType>(a->t().data_type()))) continue;
        auto t = Tensor::FromProto(a->t(), model.dir());
        if (!t.ok()) return t.status();
        onnx::TensorProto wide;
        Widen(*t).ToProto(&wide, /*inline_data=*/true);
        wide.set_name(a->t().name());
        n->SetAttr(Attribute::TensorValue(name, std::move(wide)));
        ++tensors;
      }
      for (Value* out : n->outputs())
        if (out != nullptr && Is16BitFloat(out->elem_type()) && !out->IsGraphOutput()) {
          SetElemType(out, TP::FLOAT);
          ++values;
        }
    }
  }
  // The main graph's interface keeps its types.
  Graph& g = model.graph();
  Node* first = g.nodes().empty() ? nullptr : g.nodes().front().get();
  for (Value* in : std::vector<Value*>(g.inputs().begin(), g.inputs().end())) {
    if (!Is16BitFloat(in->elem_type()) || in->has_initializer()) continue;
    std::vector<Use> uses = in->uses();
    if (uses.empty()) continue;
    Node* cast = g.CreateNode("Cast", {in}, 1, first, g.FreshName(in->name() + "_to_float32"));
    cast->SetAttr(Attribute::Int("to", TP::FLOAT));
    for (const Use& u : uses) u.node->SetInput(u.index, cast->output(0));
    ++casts;
  }
  for (int i = 0; i < static_cast<int>(g.outputs().size()); ++i) {
    Value* out = g.outputs()[i];
    if (!Is16BitFloat(out->elem_type()) || out->producer() == nullptr) continue;
    // The producer now computes float32 into a new value; a Cast writes the output.
    const DataType t = out->elem_type();
    const std::string name = out->name();
    Node* p = out->producer();
    Node* cast = g.CreateNode("Cast", {out}, 1, g.NodeAfter(p), g.FreshName(name + "_to_16bit"));
    cast->SetAttr(Attribute::Int("to", t));
    Value* wide = out;  // internal readers keep reading it, in float32
    if (wide->has_type()) cast->output(0)->set_type(*wide->type());
    g.SetOutput(i, cast->output(0));
    g.RenameValue(wide, g.FreshName(name + "_float32"));
    g.RenameValue(cast->output(0), name);
    SetElemType(wide, TP::FLOAT);
    ++casts;
  }
  return c;
}

bool HasFloat16(const Model& model) {
  bool found = false;
  const_cast<Model&>(model).graph().ForEachGraph([&](Graph* g) {
    for (const Value* v : g->initializers())
      found |= v->has_initializer() && Is16BitFloat(v->initializer()->type());
    for (const Value* v : g->inputs()) found |= Is16BitFloat(v->elem_type());
  });
  return found;
}

namespace {

class Float16ToFloat32 : public Pass {
 public:
  static constexpr char kName[] = "float16-to-float32";
  static constexpr char kDescription[] =
      "computes a float16/bfloat16 model in float32 between Casts at its inputs and outputs (which keep their "
      "types); weights widened exactly";
  static std::vector<OptionSpec> Options() { return {}; }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    auto c = ConvertFloat16ToFloat32(model);
    if (!c.ok()) return c.status();
    const int64_t tensors = c->tensors, casts = c->casts, values = c->values;
    r.changes = tensors + casts + values;
    r.notes.push_back(absl::StrCat(tensors, " tensors widened to float32, ", casts, " Casts added or retargeted, ",
                                   values, " values typed float32"));
    return r;
  }
};

ONNXC_REGISTER_PASS(Float16ToFloat32);

}  // namespace
}  // namespace onnxc
