#include "passes/quantization/qdq_lowering.h"

#include <cmath>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/constants.h"
#include "ir/rewrite.h"

namespace onnxc {
namespace {

using TP = onnx::TensorProto;

bool IsOnnx(const Node& n) { return n.domain().empty() || n.domain() == "ai.onnx"; }

// The quantization parameters of a DequantizeLinear / QuantizeLinear.
struct QParamsOf {
  Node* node = nullptr;
  Value* data = nullptr;  // DQ: the quantized input; Q: the quantized output
  Value* scale = nullptr;
  Value* zp = nullptr;    // nullptr: omitted (uint8 0)
  DataType type = TP::UINT8;
  bool per_tensor = true;
  float s = 0;
  int64_t z = 0;
};

std::optional<QParamsOf> ParamsOf(const Model& model, Node* n, Value* data) {
  if (n == nullptr || !IsOnnx(*n)) return std::nullopt;
  QParamsOf p;
  p.node = n;
  p.data = data;
  p.scale = n->input(1);
  p.zp = n->num_inputs() > 2 ? n->input(2) : nullptr;
  std::optional<Tensor> s = GetConstant(model, p.scale);
  if (!s || s->num_elements() == 0) return std::nullopt;
  p.per_tensor = s->num_elements() == 1;
  p.s = static_cast<float>(s->ScalarAt(0));
  if (p.zp != nullptr) {
    std::optional<Tensor> z = GetConstant(model, p.zp);
    if (!z) return std::nullopt;
    p.type = z->type();
    p.z = static_cast<int64_t>(z->ScalarAt(0));
    p.per_tensor = p.per_tensor && z->num_elements() == 1;
  }
  // Without a zero point, a DequantizeLinear's type is its input's.
  if (p.zp == nullptr && n->IsOp("DequantizeLinear")) {
    std::optional<Tensor> d = GetConstant(model, data);
    DataType t = d ? d->type() : data->elem_type();
    if (t != TP::UNDEFINED) p.type = t;
  }
  if (p.type != TP::UINT8 && p.type != TP::INT8 && p.type != TP::INT32) return std::nullopt;
  return p;
}

// The DequantizeLinear that produces `v`.
std::optional<QParamsOf> DqOf(const Model& model, Value* v) {
  if (v == nullptr || v->producer() == nullptr || !v->producer()->IsOp("DequantizeLinear")) return std::nullopt;
  Node* dq = v->producer();
  return ParamsOf(model, dq, dq->input(0));
}

// The QuantizeLinear that is the only reader of `v` (not a graph output).
std::optional<QParamsOf> SoleQOf(const Model& model, Value* v) {
  if (v == nullptr || v->uses().size() != 1 || !v->output_of().empty()) return std::nullopt;
  Node* q = v->uses()[0].node;
  if (!q->IsOp("QuantizeLinear") || v->uses()[0].index != 0) return std::nullopt;
  return ParamsOf(model, q, q->output(0));
}

bool SameParams(const QParamsOf& a, const QParamsOf& b) {
  return a.per_tensor && b.per_tensor && a.type == b.type && a.s == b.s && a.z == b.z;
}

class Lowering {
 public:
  Lowering(Model& model, Graph& g, const QdqLoweringOptions& o, QdqLoweringReport* report)
      : model_(model), g_(g), o_(o), report_(*report) {}

  void Run() {
    if (!o_.int8_allowed) RewriteInt8PairsToUint8();
    // Candidates first: fusing a node erases the QuantizeLinear after it, so
    // a snapshot of every node would hold erased ones.
    std::vector<Node*> ops;
    for (Node* n : g_.NodeSnapshot())
      if (IsOnnx(*n) && !n->IsOp("QuantizeLinear") && !n->IsOp("DequantizeLinear")) ops.push_back(n);
    for (Node* n : ops)
      if (!Fuse(n) && HasDqInput(n)) ++report_.left_float;
    RemoveUnusedDq();
  }

 private:
  bool HasDqInput(const Node* n) const {
    for (Value* in : n->inputs())
      if (in != nullptr && in->producer() != nullptr && in->producer()->IsOp("DequantizeLinear")) return true;
    return false;
  }

  // ORT's QDQS8ToU8Transformer: an int8 Q whose output reaches exactly one
  // consumer (through one DequantizeLinear) becomes uint8 with zero point + 128.
  void RewriteInt8PairsToUint8() {
    for (Node* q : g_.NodeSnapshot()) {
      if (!q->IsOp("QuantizeLinear") || !IsOnnx(*q)) continue;
      auto qp = ParamsOf(model_, q, q->output(0));
      if (!qp || qp->type != TP::INT8 || !qp->per_tensor || qp->zp == nullptr) continue;
      Value* out = q->output(0);
      if (!out->output_of().empty() || out->uses().size() != 1) continue;
      Node* dq = out->uses()[0].node;
      auto dqp = ParamsOf(model_, dq, out);
      if (!dq->IsOp("DequantizeLinear") || !dqp || !SameParams(*qp, *dqp)) continue;
      Value* dq_out = dq->output(0);
      if (dq_out->uses().size() != 1 || !dq_out->output_of().empty()) continue;
      Tensor zp(TP::UINT8, {});
      zp.mutable_data<uint8_t>()[0] = static_cast<uint8_t>(qp->z + 128);
      Value* z = g_.AddInitializer(g_.FreshName(qp->zp->name() + "_u8"), std::move(zp));
      q->SetInput(2, z);
      dq->SetInput(2, z);
      SetElemType(out, TP::UINT8);
      ++report_.int8_to_uint8;
    }
  }

  void SetElemType(Value* v, DataType t) {
    if (!v->has_type()) return;
    onnx::TypeProto type = *v->type();
    type.mutable_tensor_type()->set_elem_type(t);
    v->set_type(type);
  }

  // Replaces `n` (and the Q after it) by `op`, whose output takes over the
  // Q's output.
  // `attrs`: the attributes of `n` to keep (empty: all).
  Node* Replace(Node* n, const QParamsOf* q, const std::string& op, const std::string& domain,
                const std::vector<Value*>& inputs, const std::set<std::string>& attrs = {}) {
    Node* f = g_.CreateNode(op, inputs, 1, n, g_.FreshName(n->name().empty() ? op : n->name() + "_" + op), domain);
    for (const Attribute& a : n->attributes())
      if (a.graphs().empty() && (attrs.empty() || attrs.count(a.name()))) f->SetAttr(Attribute(a.proto()));
    Value* target = q ? q->node->output(0) : n->output(0);
    if (target->has_type()) f->output(0)->set_type(*target->type());
    BypassNode(g_, q ? q->node : n, f->output(0));
    if (q) {
      if (n->output(0)->uses().empty() && n->output(0)->output_of().empty()) g_.EraseNode(n);
    }
    ++report_.fused[op];
    return f;
  }

  bool Int8Blocked(const QParamsOf& x) const { return x.type == TP::INT8 && !o_.int8_allowed; }

  bool Fuse(Node* n) {
    const std::string& op = n->op_type();
    if (op == "Conv") return FuseConv(n);
    if (op == "MatMul") return FuseMatMul(n);
    if (op == "Gemm") return FuseGemm(n);
    if (op == "Add" || op == "Mul") return FuseBinary(n);
    if (op == "AveragePool" || op == "GlobalAveragePool" || op == "Sigmoid" || op == "LeakyRelu") return FuseUnary(n);
    if (op == "Concat") return FuseConcat(n);
    static const std::set<std::string> kDrop = {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Slice",
                                                "Gather", "GatherElements", "Expand", "Tile", "MaxPool",
                                                "DepthToSpace", "Resize"};
    if (kDrop.count(op)) return FuseDataMovement(n);
    return false;
  }

  bool FuseConv(Node* n) {
    auto x = DqOf(model_, n->input(0)), w = DqOf(model_, n->input(1));
    auto y = SoleQOf(model_, n->output(0));
    if (!x || !w || !y || !x->per_tensor || !y->per_tensor || x->type != y->type) return false;
    if (Int8Blocked(*x) || (x->type == TP::INT8 && w->type != TP::INT8)) return false;
    std::vector<Value*> in = {x->data, x->scale, x->zp, w->data, w->scale, w->zp, y->scale, y->zp};
    if (n->num_inputs() > 2 && n->input(2) != nullptr) {
      auto b = DqOf(model_, n->input(2));
      if (!b || b->type != TP::INT32 || b->z != 0) return false;
      in.push_back(b->data);
    }
    Replace(n, &*y, "QLinearConv", "", in);
    return true;
  }

  bool FuseMatMul(Node* n) {
    auto a = DqOf(model_, n->input(0)), b = DqOf(model_, n->input(1));
    if (!a || !b || !a->per_tensor || a->type == TP::INT32 || b->type == TP::INT32) return false;
    if (Int8Blocked(*a) || (a->type == TP::INT8 && b->type != TP::INT8)) return false;
    auto y = SoleQOf(model_, n->output(0));
    if (y) {
      if (!y->per_tensor || y->type != a->type) return false;
      Replace(n, &*y, "QLinearMatMul", "", {a->data, a->scale, a->zp, b->data, b->scale, b->zp, y->scale, y->zp});
    } else {
      Replace(n, nullptr, "MatMulIntegerToFloat", "com.microsoft", {a->data, b->data, a->scale, b->scale, a->zp, b->zp});
    }
    return true;
  }

  bool FuseGemm(Node* n) {
    auto a = DqOf(model_, n->input(0)), b = DqOf(model_, n->input(1));
    // QGemm needs explicit zero points on A and B.
    if (!a || !b || a->zp == nullptr || b->zp == nullptr || !a->per_tensor) return false;
    if (a->type == TP::INT8 && b->type != TP::INT8) return false;
    Value* c = nullptr;
    if (n->num_inputs() > 2 && n->input(2) != nullptr) {
      auto cq = DqOf(model_, n->input(2));
      if (!cq || cq->type != TP::INT32 || cq->z != 0 || n->GetFloat("alpha", 1) != 1 || n->GetFloat("beta", 1) != 1)
        return false;
      c = cq->data;
    }
    auto y = SoleQOf(model_, n->output(0));
    std::vector<Value*> in = {a->data, a->scale, a->zp, b->data, b->scale, b->zp, c};
    if (y) {
      if (!y->per_tensor || y->type != a->type) return false;
      in.push_back(y->scale);
      in.push_back(y->zp);
    }
    Replace(n, y ? &*y : nullptr, "QGemm", "com.microsoft", in, {"alpha", "transA", "transB"});
    return true;
  }

  bool FuseBinary(Node* n) {
    auto a = DqOf(model_, n->input(0)), b = DqOf(model_, n->input(1));
    auto y = SoleQOf(model_, n->output(0));
    if (!a || !b || !y || !a->per_tensor || !b->per_tensor || !y->per_tensor) return false;
    if (a->type != b->type || a->type != y->type) return false;
    Replace(n, &*y, n->op_type() == "Add" ? "QLinearAdd" : "QLinearMul", "com.microsoft",
            {a->data, a->scale, a->zp, b->data, b->scale, b->zp, y->scale, y->zp});
    return true;
  }

  bool FuseUnary(Node* n) {
    auto x = DqOf(model_, n->input(0));
    auto y = SoleQOf(model_, n->output(0));
    if (!x || !y || !x->per_tensor || !y->per_tensor || x->type != y->type) return false;
    Replace(n, &*y, "QLinear" + n->op_type(), "com.microsoft", {x->data, x->scale, x->zp, y->scale, y->zp});
    return true;
  }

  bool FuseConcat(Node* n) {
    auto y = SoleQOf(model_, n->output(0));
    if (!y || !y->per_tensor) return false;
    std::vector<Value*> in = {y->scale, y->zp};
    for (Value* v : n->inputs()) {
      auto x = DqOf(model_, v);
      if (!x || !x->per_tensor || x->type != y->type) return false;
      in.insert(in.end(), {x->data, x->scale, x->zp});
    }
    Replace(n, &*y, "QLinearConcat", "com.microsoft", in);
    return true;
  }

  // DQ -> op -> Q with equal parameters: the op runs on the integers.
  bool FuseDataMovement(Node* n) {
    auto x = DqOf(model_, n->input(0));
    auto y = SoleQOf(model_, n->output(0));
    if (!x || !y || !SameParams(*x, *y) || x->type == TP::INT32) return false;
    if (n->IsOp("MaxPool") && !(x->s > 0)) return false;
    if (n->IsOp("Resize") && (n->GetString("mode", "nearest") != "nearest" ||
                              n->GetString("coordinate_transformation_mode", "") == "tf_crop_and_resize"))
      return false;
    if (n->num_outputs() > 1)
      for (int i = 1; i < n->num_outputs(); ++i)
        if (n->output(i) && n->output(i)->IsUsed()) return false;
    n->SetInput(0, x->data);
    Value* out = n->output(0);
    if (y->node->output(0)->has_type()) out->set_type(*y->node->output(0)->type());
    else SetElemType(out, x->type);
    BypassNode(g_, y->node, out);
    ++report_.fused[n->op_type() + " (on integers)"];
    return true;
  }

  void RemoveUnusedDq() {
    for (Node* n : g_.NodeSnapshot()) {
      if (!n->IsOp("DequantizeLinear") && !n->IsOp("QuantizeLinear")) continue;
      Value* out = n->output(0);
      if (out->uses().empty() && out->output_of().empty()) {
        std::vector<Value*> ins(n->inputs().begin(), n->inputs().end());
        g_.EraseNode(n);
        for (Value* v : ins) RemoveIfUnusedConstant(g_, v);
      }
    }
  }

  Model& model_;
  Graph& g_;
  const QdqLoweringOptions& o_;
  QdqLoweringReport& report_;
};

}  // namespace

absl::StatusOr<QdqLoweringReport> LowerQdq(Model& model, const QdqLoweringOptions& options) {
  // ORT's graph transformers recurse into If/Loop bodies, and so does this.
  // Fusing never touches nodes that hold subgraphs, so the list stays valid.
  std::vector<Graph*> graphs;
  model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
  QdqLoweringReport report;
  for (Graph* g : graphs) Lowering(model, *g, options, &report).Run();
  if (!report.fused.empty() && model.OpsetVersion("com.microsoft") < 1) model.SetOpsetVersion("com.microsoft", 1);
  return report;
}

}  // namespace onnxc
