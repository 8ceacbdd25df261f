// count-ops: counts the nodes of one op type; changes nothing.
#include "absl/strings/str_cat.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

int64_t Count(const Graph& g, const std::string& op) {
  int64_t n = 0;
  for (const auto& node : g.nodes()) {
    n += node->op_type() == op;
    for (const Graph* sub : node->subgraphs()) n += Count(*sub, op);
  }
  return n;
}

class CountOps : public Pass {
 public:
  static constexpr char kName[] = "count-ops";
  static constexpr char kDescription[] = "counts the nodes of one op type (changes nothing)";
  static std::vector<OptionSpec> Options() {
    return {{"op", OptionSpec::Type::kString, "Conv", "the op type to count"}};
  }
  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    PassResult r;  // changes = 0: the model is untouched, every analysis stays valid
    int64_t n = Count(model.graph(), options().GetString("op"));
    r.notes.push_back(absl::StrCat(n, " ", options().GetString("op"), " nodes"));
    r.details = {{"count", n}};
    return r;
  }
};

ONNXC_REGISTER_PASS(CountOps);  // registration: this line, nothing else

}  // namespace
}  // namespace onnxc
