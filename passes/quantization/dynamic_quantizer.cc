// Dynamic quantization, as ONNX Runtime's quantize_dynamic writes it:
//
//   x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zp)
//   MatMulInteger(x_q, W_q int8, x_zp, W_zp) -> int32 -> Cast(float)
//     -> Mul(x_scale * W_scale) [-> Add(bias)]
//
// ConvInteger likewise for Conv, rescaled per output channel by a Mul with a
// [C,1,1] scale. Weights are int8 symmetric per output channel; no
// calibration is needed.
#include <array>

#include "absl/strings/str_cat.h"
#include "ir/constants.h"
#include "ir/rewrite.h"
#include "passes/quantization/quant_params.h"
#include "passes/quantization/weight_quantizers.h"

namespace onnxc {

absl::StatusOr<QuantizeReport> QuantizeDynamic(Model& model, const QuantizationSettings& settings,
                                               const QuantizeOptions& options) {
  QuantizeReport report;
  if (model.OpsetVersion("") < 11)
    return absl::FailedPreconditionError("dynamic quantization needs opset 11 (DynamicQuantizeLinear)");
  Graph& g = model.graph();
  absl::flat_hash_map<std::string, std::string> keep(options.keep_float.begin(), options.keep_float.end());
  absl::flat_hash_map<const Value*, std::array<Value*, 3>> dynamic_of;  // x -> (x_q, x_scale, x_zp)
  for (auto& [cn, id] : StableNodeIds(g)) {
    Node* n = const_cast<Node*>(cn);
    bool matmul = n->IsOp("MatMul"), conv = n->IsOp("Conv");
    if (!matmul && !conv) continue;
    if (options.only && !options.only->contains(id)) continue;
    NodeSettings s = settings.For(*n);
    std::string why = s.skip ? s.skip_reason : keep.contains(id) ? keep[id] : "";
    std::optional<Tensor> w = GetConstant(model, n->input(1));
    if (why.empty() && (!w || w->type() != onnx::TensorProto::FLOAT)) why = "weight is not constant float";
    if (why.empty() && matmul && w->rank() != 2) why = "MatMul weight is not 2-D";
    if (why.empty() && n->input(0)->elem_type() != onnx::TensorProto::FLOAT &&
        n->input(0)->elem_type() != onnx::TensorProto::UNDEFINED)
      why = "input is not float";
    std::optional<Tensor> bias;
    if (why.empty() && conv && n->input(2) != nullptr && !(bias = GetConstant(model, n->input(2)))) why = "bias is not constant";
    if (!why.empty()) {
      report.record.add_skipped(absl::StrCat(id, " (", why, ")"));
      continue;
    }
    std::string base = n->name().empty() ? n->op_type() : n->name();
    Value* x = n->input(0);
    auto dyn = dynamic_of.find(x);
    if (dyn == dynamic_of.end()) {
      Node* before = x->producer() ? g.NodeAfter(x->producer()) : g.nodes().front().get();
      Node* d = g.CreateNode("DynamicQuantizeLinear", {x}, 3, before, g.FreshName(x->name() + "_DynamicQuantizeLinear"));
      dyn = dynamic_of.emplace(x, std::array<Value*, 3>{d->output(0), d->output(1), d->output(2)}).first;
    }
    auto [xq, xs, xz] = dyn->second;
    // Per output channel: MatMul's axis 1 (N), Conv's axis 0.
    int axis = matmul ? 1 : 0;
    QuantizedWeight qw = QuantizeWeight(*w, INT8, true, axis);
    Value* wq = g.AddInitializer(g.FreshName(n->input(1)->name() + "_quantized"), qw.data);
    // Symmetric: every zero point is 0, so one scalar serves all channels
    // (ONNX Runtime's ConvInteger accepts only a scalar).
    Value* wz = g.AddInitializer(g.FreshName(n->input(1)->name() + "_zero_point"),
                                 ZeroPointTensor({0}, onnx::TensorProto::INT8, false));
    Node* integer;
    if (matmul) {
      integer = g.CreateNode("MatMulInteger", {xq, wq, xz, wz}, 1, n, g.FreshName(base + "_MatMulInteger"));
    } else {
      integer = g.CreateNode("ConvInteger", {xq, wq, xz, wz}, 1, n, g.FreshName(base + "_ConvInteger"));
      for (const Attribute& a : n->attributes()) integer->SetAttr(Attribute(a.proto()));
    }
    Node* cast = g.CreateNode("Cast", {integer->output(0)}, 1, n, g.FreshName(base + "_Cast"));
    cast->SetAttr(Attribute::Int("to", onnx::TensorProto::FLOAT));
    // scale = x_scale * W_scale, shaped to broadcast over the output channel.
    std::vector<int64_t> shape = matmul ? std::vector<int64_t>{static_cast<int64_t>(qw.scales.size())}
                                        : std::vector<int64_t>{static_cast<int64_t>(qw.scales.size()), 1, 1};
    if (conv) shape.resize(static_cast<size_t>(w->rank()) - 1, 1);
    Tensor shaped(onnx::TensorProto::FLOAT, shape);
    std::copy(qw.scales.begin(), qw.scales.end(), shaped.mutable_data<float>());
    Value* wsv = g.AddInitializer(g.FreshName(n->input(1)->name() + "_scale"), std::move(shaped));
    Node* scale = g.CreateNode("Mul", {xs, wsv}, 1, n, g.FreshName(base + "_scale"));
    Node* out = g.CreateNode("Mul", {cast->output(0), scale->output(0)}, 1, n, g.FreshName(base + "_rescale"));
    Value* result = out->output(0);
    if (bias) {
      Tensor b(onnx::TensorProto::FLOAT, shape);
      std::vector<float> bv = bias->ToFloatVector();
      std::copy(bv.begin(), bv.end(), b.mutable_data<float>());
      Value* bvv = g.AddInitializer(g.FreshName(n->input(2)->name() + "_shaped"), std::move(b));
      result = g.CreateNode("Add", {result, bvv}, 1, n, g.FreshName(base + "_bias"))->output(0);
    }
    Value* old_w = n->input(1);
    Value* old_b = conv ? n->input(2) : nullptr;
    if (!BypassNode(g, n, result)) {
      report.record.add_skipped(absl::StrCat(id, " (its output name could not be kept)"));
      continue;
    }
    RemoveIfUnusedConstant(g, old_w);
    RemoveIfUnusedConstant(g, old_b);
    auto* layer = report.record.add_layer();
    layer->set_node(id);
    layer->set_op_type(matmul ? "MatMul" : "Conv");
    for (float sc : qw.scales) layer->mutable_weight()->add_scale(sc);
    layer->mutable_weight()->set_type(INT8);
    layer->mutable_weight()->set_axis(axis);
    ++report.quantized_nodes;
  }
  report.notes.insert(report.notes.begin(), absl::StrCat(report.quantized_nodes, " nodes quantized dynamically, ",
                                                         report.record.skipped_size(), " kept in float"));
  return report;
}

}  // namespace onnxc
