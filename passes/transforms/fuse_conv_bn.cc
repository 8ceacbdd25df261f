// fuse-conv-bn: folds an inference BatchNormalization into the Conv,
// ConvTranspose, Gemm or MatMul(+Add) that feeds it.
//
//   s = gamma / sqrt(var + eps),  W'[c] = W[c] * s[c],  b'[c] = (b[c] - mean[c]) * s[c] + beta[c]
//
// New weights are computed in double and stored in the original type
// (float32 or float16). A weight other nodes also read is copied, never
// changed under them. Each BatchNormalization that cannot be folded gets a
// reason in the report.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/constants.h"
#include "ir/name_match.h"
#include "ir/rewrite.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

constexpr int64_t kNewestKnownOpset = 22;  // BatchNormalization semantics checked up to here

std::vector<double> ToDoubles(const Tensor& t) {
  if (t.type() == onnx::TensorProto::DOUBLE) return {t.data<double>(), t.data<double>() + t.num_elements()};
  std::vector<float> f = t.ToFloatVector();  // bulk, not element by element
  return {f.begin(), f.end()};
}

Tensor FromDoubles(DataType type, const std::vector<int64_t>& dims, const std::vector<double>& v) {
  Tensor t(type, dims);
  if (type == onnx::TensorProto::FLOAT16) {
    uint16_t* out = t.mutable_data<uint16_t>();
    for (size_t i = 0; i < v.size(); ++i) out[i] = FloatToHalf(static_cast<float>(v[i]));
  } else if (type == onnx::TensorProto::DOUBLE) {
    std::copy(v.begin(), v.end(), t.mutable_data<double>());
  } else {
    float* out = t.mutable_data<float>();
    for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  }
  return t;
}

bool FloatType(DataType t) {
  return t == onnx::TensorProto::FLOAT || t == onnx::TensorProto::FLOAT16 || t == onnx::TensorProto::DOUBLE;
}

struct Outcome {
  bool candidate = false;  // the BN follows an op we fold into
  std::string declined;    // reason, empty when folded
};

class FuseConvBn : public Pass {
 public:
  static constexpr char kName[] = "fuse-conv-bn";
  static constexpr char kDescription[] =
      "folds inference BatchNormalization into the preceding Conv, ConvTranspose, Gemm or "
      "MatMul(+Add) (subgraphs too)";
  static std::vector<OptionSpec> Options() {
    return {{"skip", OptionSpec::Type::kList, "",
             "conv or BatchNormalization node names (globs) to leave unfused"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    skip_ = options().GetList("skip");
    std::vector<Graph*> graphs;
    model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
    int64_t folded = 0, declined = 0;
    nlohmann::json declines = nlohmann::json::array();
    for (Graph* g : graphs) {
      for (Node* bn : g->NodeSnapshot()) {
        if (!bn->IsOp("BatchNormalization")) continue;
        std::string producer = bn->input(0) && bn->input(0)->producer()
                                   ? bn->input(0)->producer()->Describe() : "";
        Outcome o = TryFold(model, *g, bn);
        if (!o.candidate) continue;
        if (o.declined.empty()) {
          ++folded;
        } else {
          ++declined;
          r.notes.push_back(absl::StrCat(producer, " + ", bn->Describe(), ": declined (", o.declined, ")"));
          declines.push_back({{"node", bn->name()}, {"reason", o.declined}});
        }
      }
    }
    r.changes = folded;
    r.notes.insert(r.notes.begin(), absl::StrCat(folded, " folded, ", declined, " declined"));
    r.details = {{"folded", folded}, {"declined", declines}};
    return r;
  }

 private:
  Outcome TryFold(Model& model, Graph& g, Node* bn) {
    Outcome o;
    Value* x = bn->input(0);
    Node* p = x ? x->producer() : nullptr;
    if (p == nullptr || p->graph() != &g) return o;
    Node* add = nullptr;  // MatMul -> Add -> BN
    if (p->IsOp("Add") && p->num_inputs() == 2) {
      for (int i = 0; i < 2; ++i) {
        Value* in = p->input(i);
        if (in && in->producer() && in->producer()->IsOp("MatMul") && GetConstant(model, p->input(1 - i))) {
          add = p;
          p = in->producer();
          break;
        }
      }
    }
    const bool conv = p->IsOp("Conv"), convt = p->IsOp("ConvTranspose"), gemm = p->IsOp("Gemm"),
               matmul = p->IsOp("MatMul");
    if (!conv && !convt && !gemm && !matmul) return o;
    o.candidate = true;
    auto decline = [&](std::string why) { o.declined = std::move(why); return o; };

    if (MatchesAny(bn->name(), skip_) || MatchesAny(p->name(), skip_)) return decline("skipped by option");
    int64_t opset = model.OpsetVersion("");
    if (opset > kNewestKnownOpset) return decline(absl::StrCat("unknown opset ", opset));
    if (bn->GetInt("training_mode", 0) != 0) return decline("training mode");
    for (int i = 1; i < bn->num_outputs(); ++i)
      if (bn->output(i) && bn->output(i)->IsUsed()) return decline("training mode (running statistics are outputs)");
    if (opset < 9 && bn->GetInt("spatial", 1) == 0) return decline("per-activation statistics (spatial=0)");
    if (opset < 7 && bn->attr("is_test") && bn->GetInt("is_test", 0) == 0) return decline("training mode (is_test=0)");
    Value* y = p->output(0);
    Value* last = add ? add->output(0) : y;
    if (!SoleUser(y, add ? add : bn) || (add && !SoleUser(last, bn)))
      return decline(absl::StrCat("the ", p->op_type(), " output is also used elsewhere"));
    std::optional<Tensor> params[4];
    for (int i = 0; i < 4; ++i) {
      params[i] = GetConstant(model, bn->input(i + 1));
      if (!params[i]) return decline("non-constant BatchNormalization parameters");
    }
    std::optional<Tensor> w = GetConstant(model, p->input(1));
    if (!w) return decline(absl::StrCat("non-constant ", p->op_type(), " weights"));
    if (!FloatType(w->type())) return decline(absl::StrCat("weights of type ", DataTypeName(w->type())));
    const int64_t n = params[0]->num_elements();
    for (auto& t : params)
      if (t->num_elements() != n) return decline("BatchNormalization parameters of different sizes");

    double eps = bn->GetFloat("epsilon", 1e-5f);
    std::vector<double> gamma = ToDoubles(*params[0]), beta = ToDoubles(*params[1]),
                        mean = ToDoubles(*params[2]), var = ToDoubles(*params[3]);
    std::vector<double> s(n), shift(n);
    for (int64_t c = 0; c < n; ++c) {
      s[c] = gamma[c] / std::sqrt(var[c] + eps);
      shift[c] = beta[c] - mean[c] * s[c];
    }

    // Scale the weights along the output-channel axis.
    const auto& wd = w->dims();
    std::vector<double> wv = ToDoubles(*w);
    int bias_index = 2;
    std::vector<double> bias(n, 0.0);
    DataType bias_type = w->type();
    if (conv) {
      if (wd.empty() || wd[0] != n) return decline("weight and BatchNormalization channel counts differ");
      int64_t inner = w->num_elements() / n;
      for (int64_t c = 0; c < n; ++c)
        for (int64_t k = 0; k < inner; ++k) wv[c * inner + k] *= s[c];
    } else if (convt) {
      int64_t group = p->GetInt("group", 1);
      if (wd.size() < 2 || group < 1 || wd[1] * group != n || wd[0] % group != 0)
        return decline("weight and BatchNormalization channel counts differ");
      int64_t cin = wd[0], cout_g = wd[1], inner = w->num_elements() / (cin * cout_g);
      for (int64_t i = 0; i < cin; ++i) {
        int64_t gi = i / (cin / group);
        for (int64_t j = 0; j < cout_g; ++j)
          for (int64_t k = 0; k < inner; ++k) wv[(i * cout_g + j) * inner + k] *= s[gi * cout_g + j];
      }
    } else {  // Gemm or MatMul: weight is 2-D, output features on axis 1 (axis 0 if transB)
      if (wd.size() != 2) return decline("weight is not 2-D");
      if (matmul) {
        auto xs = p->input(0) ? p->input(0)->shape() : std::nullopt;
        if (!xs || xs->size() != 2)
          return decline("MatMul input rank must be 2 (channel axis 1); unknown or other rank "
                         "(run shape-inference first)");
      }
      bool trans = gemm && p->GetInt("transB", 0) != 0;
      int64_t rows = wd[0], cols = wd[1];
      if ((trans ? rows : cols) != n) return decline("weight and BatchNormalization channel counts differ");
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) wv[i * cols + j] *= s[trans ? i : j];
      bias_index = gemm ? 2 : -1;
    }

    // The existing bias, as a length-n vector.
    Value* bias_value = nullptr;
    if (add) {
      bias_value = add->input(0) == y ? add->input(1) : add->input(0);
    } else if (bias_index >= 0 && p->input(bias_index)) {
      bias_value = p->input(bias_index);
    }
    if (bias_value != nullptr) {
      std::optional<Tensor> b = GetConstant(model, bias_value);
      if (!b) return decline(absl::StrCat("non-constant ", p->op_type(), " bias"));
      bias_type = b->type();
      std::vector<double> bv = ToDoubles(*b);
      double scale = gemm ? p->GetFloat("beta", 1.0f) : 1.0;
      if (static_cast<int64_t>(bv.size()) == n) {
        for (int64_t c = 0; c < n; ++c) bias[c] = scale * bv[c];
      } else if (bv.size() == 1) {
        for (int64_t c = 0; c < n; ++c) bias[c] = scale * bv[0];
      } else {
        return decline(absl::StrCat("bias of ", bv.size(), " elements does not broadcast per channel"));
      }
    }
    for (int64_t c = 0; c < n; ++c) bias[c] = bias[c] * s[c] + shift[c];

    // Rewrite. Nothing has been changed before this point.
    SetConstantInput(model, g, p, 1, FromDoubles(w->type(), wd, wv), "_fused_w");
    Tensor new_bias = FromDoubles(bias_type, {n}, bias);
    if (add) {
      SetConstantInput(model, g, add, add->input(0) == y ? 1 : 0, std::move(new_bias), "_fused_b");
    } else if (matmul) {
      Value* b = AddConstant(model, g, p->name().empty() ? "matmul_fused_b" : p->name() + "_fused_b",
                             std::move(new_bias));
      Node* new_add = g.CreateNode("Add", {y, b}, 1, bn, p->name().empty() ? "" : p->name() + "_bias");
      last = new_add->output(0);
    } else {
      if (gemm) p->SetAttr(Attribute::Float("beta", 1.0f));
      SetConstantInput(model, g, p, 2, std::move(new_bias), "_fused_b");
    }
    Value* z = bn->output(0);
    std::string name = z->name();
    bool renamed = z->IsGraphOutput();
    if (z->has_type() && !last->has_type()) last->set_type(*z->type());
    g.ReplaceAllUsesWith(z, last);
    for (Value* out : bn->outputs())
      if (out && out != z && out->IsUsed()) return o;  // checked above; unreachable
    g.EraseNode(bn);
    if (renamed) g.RenameValue(last, name);
    return o;
  }

  // Writes `t` as input `index` of `node`: in place when only this node reads
  // the old initializer, else as a new initializer.
  void SetConstantInput(Model& model, Graph& g, Node* node, int index, Tensor t, const char* suffix) {
    Value* old = node->input(index);
    if (old != nullptr && old->has_initializer() && old->graph() == &g && SoleUser(old, node) &&
        old->initializer()->dims() == t.dims()) {
      *old->mutable_initializer() = std::move(t);
      return;
    }
    std::string base = node->name().empty() ? node->op_type() : node->name();
    node->SetInput(index, AddConstant(model, g, base + suffix, std::move(t)));
  }

  std::vector<std::string> skip_;
};

ONNXC_REGISTER_PASS(FuseConvBn);

}  // namespace
}  // namespace onnxc
