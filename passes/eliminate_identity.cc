// eliminate-identity: removes Identity nodes by reading their input directly.
// An Identity that names a graph output is removed only if its input can take
// the output's name (it is an ordinary node output of the same graph);
// otherwise it stays, because output names are the model's interface.
#include "absl/strings/str_cat.h"
#include "passes/registry.h"

namespace onnxc {
namespace {

int64_t EliminateIdentities(Graph& graph, std::vector<std::string>* notes) {
  int64_t removed = 0;
  for (Node* n : graph.NodeSnapshot()) {
    for (Graph* sub : n->subgraphs()) removed += EliminateIdentities(*sub, notes);
    if (!n->IsOp("Identity") || n->num_inputs() != 1 || n->num_outputs() != 1) continue;
    Value* in = n->input(0);
    Value* out = n->output(0);
    if (in == nullptr || out == nullptr) continue;
    if (!out->output_of().empty()) {
      bool renamable = in->producer() != nullptr && in->graph() == &graph && in->output_of().empty() &&
                       out->output_of().size() == 1 && out->IsGraphOutput();
      if (!renamable) {
        notes->push_back(absl::StrCat(n->Describe(), ": kept (gives graph output '", out->name(),
                                      "' its name)"));
        continue;
      }
      std::string name = out->name();
      // The graph output's declared type is part of the interface: keep it.
      if (out->has_type()) in->set_type(*out->type());
      graph.ReplaceAllUsesWith(out, in);
      graph.EraseNode(n);
      graph.RenameValue(in, name);
    } else {
      graph.ReplaceAllUsesWith(out, in);
      graph.EraseNode(n);
    }
    ++removed;
  }
  return removed;
}

class EliminateIdentity : public Pass {
 public:
  static constexpr char kName[] = "eliminate-identity";
  static constexpr char kDescription[] = "removes Identity nodes (subgraphs too), keeping output names";
  static std::vector<OptionSpec> Options() { return {}; }

  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    PassResult r;
    r.changes = EliminateIdentities(model.graph(), &r.notes);
    return r;
  }
};

ONNXC_REGISTER_PASS(EliminateIdentity);

}  // namespace
}  // namespace onnxc
