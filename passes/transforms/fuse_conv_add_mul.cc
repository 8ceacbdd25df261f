// fuse-conv-add-mul: folds a per-channel (or scalar) constant Add, Sub, Mul
// or Div that follows a Conv into the Conv's bias and weights:
//   Mul/Div by c:  W'[k] = W[k] * c[k],  b'[k] = b[k] * c[k]
//   Add/Sub of c:  b'[k] = b[k] + c[k]
// Computed in double, stored in the weights' type. Runs until no more fold
// (Conv -> Mul -> Add becomes one Conv).
#include "absl/strings/str_cat.h"
#include "ir/constants.h"
#include "ir/name_match.h"
#include "ir/rewrite.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

// Per-output-channel values of `c` for a Conv output of rank `rank` with
// `channels` channels, or nullopt if `c` broadcasts along other axes.
std::optional<std::vector<double>> PerChannel(const Tensor& c, int64_t rank, int64_t channels) {
  const auto& d = c.dims();
  if (static_cast<int64_t>(d.size()) > rank) return std::nullopt;
  int64_t channel_axis = static_cast<int64_t>(d.size()) - (rank - 1);  // axis 1 of the output, right-aligned
  for (int64_t i = 0; i < static_cast<int64_t>(d.size()); ++i) {
    if (i == channel_axis) {
      if (d[i] != 1 && d[i] != channels) return std::nullopt;
    } else if (d[i] != 1) {
      return std::nullopt;
    }
  }
  std::vector<double> v(channels);
  for (int64_t k = 0; k < channels; ++k) v[k] = c.ScalarAt(c.num_elements() == 1 ? 0 : k);
  return v;
}

Tensor Store(DataType type, const std::vector<int64_t>& dims, const std::vector<double>& v) {
  Tensor t(type, dims);
  for (size_t i = 0; i < v.size(); ++i) {
    if (type == onnx::TensorProto::FLOAT16) t.mutable_data<uint16_t>()[i] = FloatToHalf(static_cast<float>(v[i]));
    else t.mutable_data<float>()[i] = static_cast<float>(v[i]);
  }
  return t;
}

class FuseConvAddMul : public Pass {
 public:
  static constexpr char kName[] = "fuse-conv-add-mul";
  static constexpr char kDescription[] =
      "folds constant per-channel Add/Sub/Mul/Div after a Conv into its bias and weights";
  static std::vector<OptionSpec> Options() {
    return {{"skip", OptionSpec::Type::kList, "", "Conv node names (globs) to leave alone"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    std::vector<std::string> skip = options().GetList("skip");
    std::vector<Graph*> graphs;
    model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
    for (Graph* g : graphs) {
      // Convs first: folding erases the Mul/Add nodes after them, so a
      // snapshot of all nodes would hold pointers to erased nodes.
      std::vector<Node*> convs;
      for (const auto& n : g->nodes())
        if (n->IsOp("Conv") && !MatchesAny(n->name(), skip)) convs.push_back(n.get());
      for (Node* n : convs)
        while (FoldNext(model, *g, n)) ++r.changes;
    }
    r.notes.push_back(absl::StrCat(r.changes, " Add/Sub/Mul/Div folded into Conv"));
    return r;
  }

 private:
  bool FoldNext(Model& model, Graph& g, Node* conv) {
    Value* y = conv->output(0);
    if (y == nullptr || y->uses().size() != 1 || !y->output_of().empty()) return false;
    Node* op = y->uses()[0].node;
    int y_index = y->uses()[0].index;
    if (op->graph() != &g || op->num_inputs() != 2) return false;
    bool mul = op->IsOp("Mul"), div = op->IsOp("Div"), add = op->IsOp("Add"), sub = op->IsOp("Sub");
    if (!mul && !div && !add && !sub) return false;
    if ((div || sub) && y_index != 0) return false;  // c / y and c - y are not affine in y's scale
    Value* z = op->output(0);  // must be removable before anything changes
    if (z == nullptr || (!z->output_of().empty() && !(z->output_of().size() == 1 && z->IsGraphOutput())))
      return false;
    std::optional<Tensor> w = GetConstant(model, conv->input(1));
    std::optional<Tensor> c = GetConstant(model, op->input(1 - y_index));
    if (!w || !c || w->dims().empty()) return false;
    if (w->type() != onnx::TensorProto::FLOAT && w->type() != onnx::TensorProto::FLOAT16) return false;
    int64_t channels = w->dims()[0];
    auto out_shape = y->shape();
    int64_t rank = out_shape ? static_cast<int64_t>(out_shape->size()) : static_cast<int64_t>(w->dims().size());
    auto per = PerChannel(*c, rank, channels);
    if (!per) return false;
    std::vector<double> bias(channels, 0.0);
    DataType bias_type = w->type();
    if (conv->input(2) != nullptr) {
      std::optional<Tensor> b = GetConstant(model, conv->input(2));
      if (!b || b->num_elements() != channels) return false;
      bias_type = b->type();
      for (int64_t k = 0; k < channels; ++k) bias[k] = b->ScalarAt(k);
    }
    if (mul || div) {
      for (int64_t k = 0; k < channels; ++k)
        if (div && (*per)[k] == 0) return false;
      std::vector<float> wf = w->ToFloatVector();  // bulk read
      std::vector<double> wv(wf.begin(), wf.end());
      int64_t inner = w->num_elements() / channels;
      for (int64_t k = 0; k < channels; ++k) {
        double f = div ? 1.0 / (*per)[k] : (*per)[k];
        for (int64_t i = 0; i < inner; ++i) wv[k * inner + i] *= f;
        bias[k] *= f;
      }
      Replace(model, g, conv, 1, Store(w->type(), w->dims(), wv));
    } else {
      for (int64_t k = 0; k < channels; ++k) bias[k] += sub ? -(*per)[k] : (*per)[k];
    }
    Replace(model, g, conv, 2, Store(bias_type, {channels}, bias));
    return BypassNode(g, op, y);
  }

  void Replace(Model& model, Graph& g, Node* conv, int index, Tensor t) {
    Value* old = conv->input(index);
    if (old != nullptr && old->has_initializer() && SoleUser(old, conv) && old->graph() == &g &&
        old->initializer()->dims() == t.dims()) {
      *old->mutable_initializer() = std::move(t);
      return;
    }
    conv->SetInput(index, AddConstant(model, g, (conv->name().empty() ? "conv" : conv->name()) +
                                                     (index == 1 ? "_folded_w" : "_folded_b"),
                                      std::move(t)));
  }
};

ONNXC_REGISTER_PASS(FuseConvAddMul);

}  // namespace
}  // namespace onnxc
