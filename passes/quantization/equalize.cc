// equalize: data-free cross-layer equalization (Nagel et al. 2019, AIMET's
// CLE). For two convolutions in a row, Conv1 -> [Relu | LeakyRelu | PRelu |
// Clip(0, none)] -> Conv2, output channel i of Conv1 can be divided by any
// s_i > 0 and Conv2's input channel i multiplied by it without changing the
// function, because those activations are positively homogeneous:
// f(x / s) = f(x) / s. With
//   s_i = sqrt(r1_i / r2_i),  r1_i = max |W1[i, ...]|,  r2_i = max |W2[:, i, ...]|
// both ranges become sqrt(r1_i r2_i): the channels of Conv1 no longer span
// orders of magnitude, which is what per-tensor weight scales and the
// per-tensor range of the activation between them need. Depthwise convs take
// part on either side (their channel i is both input and output i), so a
// Conv -> depthwise -> Conv chain is equalized pair by pair; the pairs are
// swept `iterations` times, as the method converges.
// Clip with a finite max (ReLU6) is not homogeneous: such pairs are left
// alone unless relu6-as-relu=true, which is not exact (AIMET does the same
// replacement) and says so in the notes.
// Exact up to float rounding: the test checks the outputs in ONNX Runtime.
#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/constants.h"
#include "passes/pass/registry.h"
#include "passes/quantization/channel_scaling.h"

namespace onnxc {
namespace {

// A convolution whose float weight (and bias) are unshared initializers.
struct ConvWeights {
  Node* node = nullptr;
  Tensor* weight = nullptr;
  Tensor* bias = nullptr;  // may be absent
  int64_t out = 0, in_per_group = 0, groups = 1, spatial = 1;
  bool depthwise() const { return groups > 1 && groups == out && in_per_group == 1; }
};

std::optional<ConvWeights> ReadConv(Node* n) {
  if (n == nullptr || !n->IsOp("Conv") || n->num_inputs() < 2 || n->input(1) == nullptr) return std::nullopt;
  Value* w = n->input(1);
  if (!w->has_initializer() || w->is_graph_input() || w->uses().size() != 1 ||
      w->initializer()->type() != onnx::TensorProto::FLOAT || w->initializer()->rank() < 3)
    return std::nullopt;
  ConvWeights c;
  c.node = n;
  c.weight = w->mutable_initializer();
  const auto& d = c.weight->dims();
  c.out = d[0];
  c.in_per_group = d[1];
  for (size_t i = 2; i < d.size(); ++i) c.spatial *= d[i];
  c.groups = n->GetInt("group", 1);
  if (c.groups != 1 && !c.depthwise()) return std::nullopt;  // other grouped convs mix channels per group
  if (n->num_inputs() > 2 && n->input(2) != nullptr) {
    Value* b = n->input(2);
    if (!b->has_initializer() || b->is_graph_input() || b->uses().size() != 1 ||
        b->initializer()->type() != onnx::TensorProto::FLOAT || b->initializer()->num_elements() != c.out)
      return std::nullopt;
    c.bias = b->mutable_initializer();
  }
  return c;
}

// The only consumer of `v`, if it has exactly one and is not a graph output.
Node* OnlyConsumer(const Value* v) {
  if (v == nullptr || v->uses().size() != 1 || v->IsGraphOutput()) return nullptr;
  return v->uses()[0].node;
}

struct Pair {
  ConvWeights first, second;
  bool relu6 = false;
};

// Max |w| of output channel i of `c` (first of a pair).
double OutputRange(const ConvWeights& c, int64_t i) {
  const float* w = c.weight->data<float>();
  const int64_t per = c.in_per_group * c.spatial;
  double r = 0;
  for (int64_t k = 0; k < per; ++k) r = std::max(r, static_cast<double>(std::fabs(w[i * per + k])));
  return r;
}

// Max |w| over the weights that read input channel i of `c` (second of a pair).
double InputRange(const ConvWeights& c, int64_t i) {
  const float* w = c.weight->data<float>();
  double r = 0;
  if (c.depthwise()) {
    for (int64_t k = 0; k < c.spatial; ++k) r = std::max(r, static_cast<double>(std::fabs(w[i * c.spatial + k])));
    return r;
  }
  for (int64_t o = 0; o < c.out; ++o)
    for (int64_t k = 0; k < c.spatial; ++k)
      r = std::max(r, static_cast<double>(std::fabs(w[(o * c.in_per_group + i) * c.spatial + k])));
  return r;
}

// Spread of Conv1's per-channel ranges (max / min over live channels).
double Spread(const ConvWeights& c) {
  double lo = 0, hi = 0;
  for (int64_t i = 0; i < c.out; ++i) {
    const double r = OutputRange(c, i);
    if (r <= 0) continue;
    lo = lo == 0 ? r : std::min(lo, r);
    hi = std::max(hi, r);
  }
  return lo > 0 ? hi / lo : 1.0;
}

void Equalize(Pair& p) {
  ConvWeights &a = p.first, &b = p.second;
  float* wa = a.weight->mutable_data<float>();
  float* wb = b.weight->mutable_data<float>();
  float* ba = a.bias ? a.bias->mutable_data<float>() : nullptr;
  const int64_t per_a = a.in_per_group * a.spatial;
  for (int64_t i = 0; i < a.out; ++i) {
    const double r1 = OutputRange(a, i), r2 = InputRange(b, i);
    if (r1 <= 0 || r2 <= 0) continue;
    const double s = std::clamp(std::sqrt(r1 / r2), 1e-6, 1e6);
    for (int64_t k = 0; k < per_a; ++k) wa[i * per_a + k] = static_cast<float>(wa[i * per_a + k] / s);
    if (ba) ba[i] = static_cast<float>(ba[i] / s);
    if (b.depthwise()) {
      for (int64_t k = 0; k < b.spatial; ++k) wb[i * b.spatial + k] = static_cast<float>(wb[i * b.spatial + k] * s);
    } else {
      for (int64_t o = 0; o < b.out; ++o)
        for (int64_t k = 0; k < b.spatial; ++k) {
          float& w = wb[(o * b.in_per_group + i) * b.spatial + k];
          w = static_cast<float>(w * s);
        }
    }
  }
}

class EqualizePass : public Pass {
 public:
  static constexpr char kName[] = "equalize";
  static constexpr char kDescription[] =
      "data-free cross-layer equalization of consecutive convs (through Relu/LeakyRelu/PRelu and depthwise convs); "
      "the function is unchanged";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    return {{"iterations", T::kInt, "10", "sweeps over the conv pairs"},
            {"relu6-as-relu", T::kBool, "false",
             "also equalize through Clip(0, 6), as if it were Relu (not exact: clipped values move)"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    const bool relu6_as_relu = options().GetBool("relu6-as-relu");
    const int64_t iterations = std::max<int64_t>(1, options().GetInt("iterations"));
    std::vector<Pair> pairs;
    int64_t relu6_skipped = 0;
    for (Node* n : model.graph().NodeSnapshot()) {
      std::optional<ConvWeights> first = ReadConv(n);
      if (!first || n->num_outputs() != 1) continue;
      // Through any chain of per-channel homogeneous ops to the next conv.
      Node* next = OnlyConsumer(n->output(0));
      bool relu6 = false, through = true;
      while (next && !next->IsOp("Conv")) {
        bool clip6 = false;
        if (!CommutesWithChannelScaling(model, next, /*channels_on_axis_1=*/true, &clip6)) {
          through = false;
          break;
        }
        relu6 = relu6 || clip6;
        next = OnlyConsumer(next->output(0));
      }
      if (!through) continue;
      if (relu6 && !relu6_as_relu) {
        ++relu6_skipped;
        continue;
      }
      std::optional<ConvWeights> second = ReadConv(next);
      if (!second || second->node->input(0) == nullptr) continue;
      const int64_t channels_in = second->depthwise() ? second->out : second->in_per_group;
      if (channels_in != first->out) continue;
      pairs.push_back(Pair{*first, *second, relu6});
    }
    if (pairs.empty()) {
      r.notes.push_back("equalize: no Conv -> (Relu|LeakyRelu|PRelu) -> Conv pairs");
      if (relu6_skipped) r.notes.push_back(absl::StrCat(relu6_skipped, " pairs through Clip(0, 6) left alone (relu6-as-relu=true would take them)"));
      return r;
    }
    double before = 0, after = 0;
    for (const Pair& p : pairs) before = std::max(before, Spread(p.first));
    for (int64_t it = 0; it < iterations; ++it)
      for (Pair& p : pairs) Equalize(p);
    int64_t relu6_pairs = 0;
    for (const Pair& p : pairs) {
      after = std::max(after, Spread(p.first));
      relu6_pairs += p.relu6;
    }
    r.changes = static_cast<int64_t>(pairs.size());
    r.notes.push_back(absl::StrFormat(
        "%d conv pairs equalized (%d sweeps): the widest spread of a conv's per-channel weight ranges %.3g -> %.3g",
        static_cast<int>(pairs.size()), static_cast<int>(iterations), before, after));
    if (relu6_pairs)
      r.notes.push_back(absl::StrCat(relu6_pairs, " of them through Clip(0, 6) treated as Relu: not exact"));
    if (relu6_skipped)
      r.notes.push_back(absl::StrCat(relu6_skipped, " pairs through Clip(0, 6) left alone (relu6-as-relu=true would take them, not exactly)"));
    r.details = {{"pairs", static_cast<int64_t>(pairs.size())}, {"spread_before", before}, {"spread_after", after},
                 {"relu6_pairs", relu6_pairs}};
    return r;
  }
};

ONNXC_REGISTER_PASS(EqualizePass);

}  // namespace
}  // namespace onnxc
