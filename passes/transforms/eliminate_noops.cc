// eliminate-noops: removes nodes that pass their input through unchanged:
// Identity, Dropout in inference, Cast to the type the input already has,
// Reshape to the shape the input already has, Transpose with the identity
// permutation. A node that names a graph output stays unless its input can
// take that name (output names are the model's interface).
#include "absl/strings/str_cat.h"
#include "ir/constants.h"
#include "ir/rewrite.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

bool AllowedOp(const std::vector<std::string>& ops, const std::string& op) {
  return ops.empty() || std::find(ops.begin(), ops.end(), op) != ops.end();
}

// The shape Reshape would produce, or nullopt if it cannot be known here.
std::optional<std::vector<int64_t>> ReshapeTarget(const Model& model, const Node& n,
                                                  const std::vector<int64_t>& in) {
  std::optional<Tensor> shape = GetConstant(model, n.input(1));
  if (!shape || shape->type() != onnx::TensorProto::INT64) return std::nullopt;
  bool allowzero = n.GetInt("allowzero", 0) != 0;
  std::vector<int64_t> out;
  int64_t known = 1, infer = -1;
  for (int64_t i = 0; i < shape->num_elements(); ++i) {
    int64_t d = shape->data<int64_t>()[i];
    if (d == 0 && !allowzero) {
      if (i >= static_cast<int64_t>(in.size())) return std::nullopt;
      d = in[i];
    }
    // Dimensions come from the file: an overflowing product is no shape.
    if (d == -1) {
      infer = i;
    } else if (__builtin_mul_overflow(known, d, &known)) {
      return std::nullopt;
    }
    out.push_back(d);
  }
  if (infer >= 0) {
    int64_t total = 1;
    for (int64_t d : in)
      if (__builtin_mul_overflow(total, d, &total)) return std::nullopt;
    if (known == 0) return std::nullopt;
    out[infer] = total / known;
  }
  return out;
}

// The value the node passes through unchanged, or nullptr.
Value* PassThrough(const Model& model, const Node& n, const std::vector<std::string>& ops) {
  if (!n.domain().empty() && n.domain() != "ai.onnx") return nullptr;
  const std::string& op = n.op_type();
  if (!AllowedOp(ops, op)) return nullptr;
  Value* in = n.input(0);
  if (in == nullptr || n.num_outputs() < 1 || n.output(0) == nullptr) return nullptr;
  if (op == "Identity") return in;
  if (op == "Dropout") {
    if (n.input(2) != nullptr) {  // training_mode input (opset 12+)
      std::optional<Tensor> t = GetConstant(model, n.input(2));
      if (!t || t->num_elements() != 1 || t->ScalarAt(0) != 0) return nullptr;
    }
    if (model.OpsetVersion("") < 7 && n.attr("is_test") && n.GetInt("is_test", 0) == 0) return nullptr;
    return in;
  }
  if (op == "Cast") {
    DataType from = in->elem_type();
    return from != onnx::TensorProto::UNDEFINED && n.GetInt("to", -1) == from ? in : nullptr;
  }
  if (op == "Reshape") {
    auto shape = in->shape();
    if (!shape) return nullptr;
    for (int64_t d : *shape)
      if (d < 0) return nullptr;
    auto target = ReshapeTarget(model, n, *shape);
    return target && *target == *shape ? in : nullptr;
  }
  if (op == "Transpose") {
    std::vector<int64_t> perm = n.GetInts("perm");
    if (perm.empty()) return nullptr;
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] != static_cast<int64_t>(i)) return nullptr;
    return in;
  }
  return nullptr;
}

class EliminateNoops : public Pass {
 public:
  static constexpr char kName[] = "eliminate-noops";
  static constexpr char kDescription[] =
      "removes Identity, inference Dropout, no-op Cast, Reshape and Transpose (subgraphs too)";
  static std::vector<OptionSpec> Options() {
    return {{"ops", OptionSpec::Type::kList, "",
             "only these op types (default: Identity, Dropout, Cast, Reshape, Transpose)"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    std::vector<std::string> ops = options().GetList("ops");
    std::map<std::string, int64_t> removed;
    std::vector<Graph*> graphs;
    model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
    for (Graph* g : graphs) {
      for (Node* n : g->NodeSnapshot()) {
        Value* through = PassThrough(model, *n, ops);
        if (through == nullptr) continue;
        std::string op = n->op_type(), what = n->Describe();
        if (BypassNode(*g, n, through)) {
          ++removed[op];
          ++r.changes;
        } else {
          r.notes.push_back(absl::StrCat(what, ": kept (it names a graph output)"));
        }
      }
    }
    for (const auto& [op, count] : removed) r.notes.insert(r.notes.begin(), absl::StrCat(count, " ", op, " removed"));
    r.details["removed"] = removed;
    return r;
  }
};

ONNXC_REGISTER_PASS(EliminateNoops);

}  // namespace
}  // namespace onnxc
