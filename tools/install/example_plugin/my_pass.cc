// my-pass: a pass plugin. It counts the nodes of one op type and reports
// them; it changes nothing. Built out of tree against the installed package.
#include <onnxcompress/onnxcompress.h>

#include "absl/strings/str_cat.h"

namespace {

class MyPass : public onnxc::Pass {
 public:
  static constexpr char kName[] = "my-pass";
  static constexpr char kDescription[] = "counts the nodes of one op type (a plugin; changes nothing)";
  static std::vector<onnxc::OptionSpec> Options() {
    return {{"op", onnxc::OptionSpec::Type::kString, "Conv", "the op type to count"}};
  }
  absl::StatusOr<onnxc::PassResult> Run(onnxc::Model& model, onnxc::PassContext&) override {
    onnxc::PassResult r;  // changes = 0: the model is untouched
    int64_t n = 0;
    for (const auto& node : model.graph().nodes()) n += node->op_type() == options().GetString("op");
    r.notes.push_back(absl::StrCat(n, " ", options().GetString("op"), " nodes"));
    r.details = {{"count", n}};
    return r;
  }
};

void RegisterMyPasses(onnxc::PassRegistry& registry) { registry.Register<MyPass>(); }

}  // namespace

ONNXC_PASS_PLUGIN("my-passes", "1.0", RegisterMyPasses);
