// fold-constants: a deterministic node whose inputs are all constant is run
// through the kernels and replaced by its outputs as initializers (same
// names). Shape and Size of a value whose shape is fully known fold too,
// which is what lets Reshape chains of exported models collapse.
//
// Outputs above a size cap are left alone, and so are nodes whose outputs
// would be much larger than their inputs (Expand, Tile, ConstantOfShape
// would otherwise bloat the file).
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "kernels/executor.h"
#include "ir/constants.h"
#include "ir/rewrite.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

// Shape/Size of a statically shaped value.
std::optional<Tensor> FoldShape(const Node& n) {
  if (n.input(0) == nullptr) return std::nullopt;
  auto shape = n.input(0)->shape();
  if (!shape) return std::nullopt;
  for (int64_t d : *shape)
    if (d < 0) return std::nullopt;
  if (n.IsOp("Size")) {
    int64_t count = 1;
    for (int64_t d : *shape)
      if (__builtin_mul_overflow(count, d, &count)) return std::nullopt;  // dims from the file
    Tensor t(onnx::TensorProto::INT64, {});
    t.mutable_data<int64_t>()[0] = count;
    return t;
  }
  int64_t rank = static_cast<int64_t>(shape->size());
  int64_t start = n.GetInt("start", 0), end = n.GetInt("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  Tensor t(onnx::TensorProto::INT64, {end - start});
  for (int64_t i = start; i < end; ++i) t.mutable_data<int64_t>()[i - start] = (*shape)[i];
  return t;
}

class FoldConstants : public Pass {
 public:
  static constexpr char kName[] = "fold-constants";
  static constexpr char kDescription[] =
      "replaces deterministic nodes with all-constant inputs (and Shape/Size of static shapes) by their "
      "values, computed by the kernels";
  static std::vector<OptionSpec> Options() {
    return {{"max-bytes", OptionSpec::Type::kInt, "16777216", "largest output (bytes) to fold"},
            {"max-growth", OptionSpec::Type::kInt, "4",
             "fold only if outputs are at most this many times the inputs' bytes (or at most 4 KiB)"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    const int opset = static_cast<int>(model.OpsetVersion(""));
    const int64_t max_bytes = options().GetInt("max-bytes"), growth = options().GetInt("max-growth");
    std::vector<Graph*> graphs;
    model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
    std::map<std::string, int64_t> folded;
    int64_t too_big = 0;
    for (Graph* g : graphs) {
      for (Node* n : g->NodeSnapshot()) {
        if ((!n->domain().empty() && n->domain() != "ai.onnx") || !IsDeterministic(*n)) continue;
        if (n->IsOp("Constant")) continue;  // constant-to-initializer's job
        // Q/DQ of constants are a model's quantized form, not computations to
        // precompute: folding a weight's DequantizeLinear would undo the
        // quantization (ONNX Runtime does not fold them either).
        if (n->IsOp("DequantizeLinear") || n->IsOp("QuantizeLinear")) continue;
        std::vector<Tensor> outputs;
        if (n->IsOp("Shape") || n->IsOp("Size")) {
          std::optional<Tensor> t = FoldShape(*n);
          if (!t) continue;
          outputs.push_back(std::move(*t));
        } else {
          std::vector<std::optional<Tensor>> held;
          std::vector<const Tensor*> inputs;
          bool all_constant = true;
          int64_t in_bytes = 0;
          held.reserve(n->num_inputs());
          for (Value* in : n->inputs()) {
            if (in == nullptr) {
              held.emplace_back();
              continue;
            }
            held.push_back(GetConstant(model, in));
            if (!held.back()) { all_constant = false; break; }
            in_bytes += held.back()->byte_size();
          }
          if (!all_constant || n->num_inputs() == 0 || !IsSupported(*n, opset)) continue;
          for (auto& h : held) inputs.push_back(h ? &*h : nullptr);
          auto result = RunNode(*n, inputs, opset);
          if (!result.ok()) {
            r.notes.push_back(absl::StrCat(n->Describe(), ": not folded (", result.status().message(), ")"));
            continue;
          }
          int64_t out_bytes = 0;
          for (const Tensor& t : *result) out_bytes += t.byte_size();
          // Shape arithmetic folds (a few int64s); a node that makes a big
          // tensor from a small one (ConstantOfShape, Expand, Tile, Range)
          // stays: folded, it only grows the file (BlazeFace's 11 channel
          // pads of zeros: +150 KB on a 442 KB model at a 64 KiB cap).
          constexpr int64_t kSmallOutput = 4 << 10;
          if (out_bytes > max_bytes || (out_bytes > kSmallOutput && out_bytes > growth * std::max<int64_t>(in_bytes, 1))) {
            ++too_big;
            continue;
          }
          outputs = std::move(*result);
        }
        std::string op = n->op_type();
        if (Replace(model, *g, n, std::move(outputs))) {
          ++folded[op];
          ++r.changes;
        }
      }
    }
    r.details["folded"] = folded;
    r.notes.insert(r.notes.begin(), absl::StrCat(r.changes, " nodes folded", too_big ? absl::StrCat(", ", too_big, " left (outputs over the size cap, or much larger than their inputs)") : ""));
    return r;
  }

 private:
  // Replaces the node's outputs by initializers with the same names.
  bool Replace(Model& model, Graph& g, Node* n, std::vector<Tensor> outputs) {
    if (static_cast<int>(outputs.size()) < n->num_outputs()) return false;
    for (int i = 0; i < n->num_outputs(); ++i) {
      Value* out = n->output(i);
      if (out == nullptr || !out->output_of().empty()) {
        // A graph output of this graph may become an initializer; one that is
        // an output of another graph (a subgraph) is left alone.
        if (out != nullptr && !(out->output_of().size() == 1 && out->IsGraphOutput())) return false;
      }
    }
    std::vector<std::pair<Value*, std::string>> renames;
    for (int i = 0; i < n->num_outputs(); ++i) {
      Value* out = n->output(i);
      if (out == nullptr) continue;
      Value* c = AddConstant(model, g, out->name() + "_folded", std::move(outputs[i]));
      if (out->has_type()) c->set_type(*out->type());
      g.ReplaceAllUsesWith(out, c);
      renames.emplace_back(c, out->name());
    }
    g.EraseNode(n);
    for (auto& [v, name] : renames) g.RenameValue(v, name);
    return true;
  }
};

ONNXC_REGISTER_PASS(FoldConstants);

}  // namespace
}  // namespace onnxc
