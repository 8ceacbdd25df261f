// cse: common-subexpression elimination. Two nodes with the same op, domain,
// attributes and inputs compute the same thing; the later one is replaced by
// the earlier. Identical constant initializers are merged first, so nodes
// reading equal constants also match. One pass in topological order, with a
// hash map: linear in graph size.
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ir/rewrite.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

std::string NodeKey(const Node& n) {
  std::string key = absl::StrCat(n.domain(), "|", n.op_type(), "|", n.num_outputs(), "|");
  for (const Value* in : n.inputs()) absl::StrAppend(&key, reinterpret_cast<uintptr_t>(in), ",");
  for (const Attribute& a : n.attributes()) {
    onnx::AttributeProto p = a.proto();
    p.clear_doc_string();
    absl::StrAppend(&key, "|", p.SerializeAsString());
  }
  return key;
}

// A hash of what NodeKey holds but the attributes' bytes: nodes in a chain
// read different values, so most never need their full key built.
size_t CheapKey(const Node& n) {
  size_t h = absl::HashOf(n.domain(), n.op_type(), n.num_outputs(), n.attributes().size());
  for (const Value* in : n.inputs()) h = absl::HashOf(h, in);
  return h;
}

class CommonSubexpressionElimination : public Pass {
 public:
  static constexpr char kName[] = "cse";
  static constexpr char kDescription[] =
      "merges identical nodes and identical constant initializers (subgraphs too)";
  static std::vector<OptionSpec> Options() {
    return {{"max-constant-bytes", OptionSpec::Type::kInt, "4096",
             "merge identical initializers up to this size (0: never)"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    int64_t merged_constants = 0, merged_nodes = 0;
    std::vector<Graph*> graphs;
    model.graph().ForEachGraph([&](Graph* g) { graphs.push_back(g); });
    const int64_t max_bytes = options().GetInt("max-constant-bytes");
    for (Graph* g : graphs) {
      // Constants: equal type, shape and bytes. Keyed by a hash of them (no
      // copy of the bytes); equal hashes are confirmed byte by byte.
      absl::flat_hash_map<size_t, absl::InlinedVector<Value*, 1>> constants;  // no allocation per entry
      constants.reserve(g->initializers().size());
      std::vector<Value*> inits(g->initializers().begin(), g->initializers().end());
      for (Value* v : inits) {
        if (!v->has_initializer() || v->is_graph_input() || v->IsGraphOutput()) continue;
        const Tensor& t = *v->initializer();
        if (static_cast<int64_t>(t.byte_size()) > max_bytes || t.type() == onnx::TensorProto::STRING) continue;
        const absl::string_view bytes(t.raw(), t.byte_size());
        auto& same_hash = constants[absl::HashOf(t.type(), t.dims(), bytes)];
        Value* equal = nullptr;
        for (Value* c : same_hash) {
          const Tensor& u = *c->initializer();
          if (u.type() == t.type() && u.dims() == t.dims() && absl::string_view(u.raw(), u.byte_size()) == bytes) {
            equal = c;
            break;
          }
        }
        if (equal == nullptr) {
          same_hash.push_back(v);
          continue;
        }
        g->ReplaceAllUsesWith(v, equal);
        g->RemoveInitializer(v);
        ++merged_constants;
      }
      // Nodes, in topological order so inputs are already canonical.
      absl::flat_hash_map<size_t, absl::InlinedVector<Node*, 1>> seen;
      seen.reserve(g->num_nodes());
      for (Node* n : g->NodeSnapshot()) {
        if (!IsDeterministic(*n)) continue;
        auto& same_hash = seen[CheapKey(*n)];
        Node* keep = nullptr;
        if (!same_hash.empty()) {
          const std::string key = NodeKey(*n);
          for (Node* c : same_hash)
            if (NodeKey(*c) == key) {
              keep = c;
              break;
            }
        }
        if (keep == nullptr) {
          same_hash.push_back(n);
          continue;
        }
        bool interface = false;
        for (Value* out : n->outputs()) interface |= out != nullptr && !out->output_of().empty();
        if (interface) continue;  // its output names are the graph's interface
        for (int i = 0; i < n->num_outputs(); ++i) {
          if (n->output(i) == nullptr) continue;
          if (keep->output(i) == nullptr) { interface = true; break; }
        }
        if (interface) continue;
        for (int i = 0; i < n->num_outputs(); ++i)
          if (n->output(i)) g->ReplaceAllUsesWith(n->output(i), keep->output(i));
        g->EraseNode(n);
        ++merged_nodes;
      }
    }
    r.changes = merged_constants + merged_nodes;
    r.notes.push_back(absl::StrCat(merged_nodes, " nodes and ", merged_constants, " constants merged"));
    r.details = {{"nodes", merged_nodes}, {"constants", merged_constants}};
    return r;
  }
};

ONNXC_REGISTER_PASS(CommonSubexpressionElimination);

}  // namespace
}  // namespace onnxc
