// statistics: reports the cached GraphStatistics analysis; rewrites nothing.
#include "absl/strings/str_cat.h"
#include "analysis/graph_statistics.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

class Statistics : public Pass {
 public:
  static constexpr char kName[] = "statistics";
  static constexpr char kDescription[] =
      "reports node counts by op type and parameter sizes (an analysis; changes nothing)";
  static std::vector<OptionSpec> Options() { return {}; }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto stats = ctx.analyses->Get<GraphStatistics>(model, ctx.ForAnalyses());
    if (!stats.ok()) return stats.status();
    PassResult r;
    r.details = (*stats)->ToJson();
    r.notes.push_back(absl::StrCat((*stats)->nodes, " nodes, ", (*stats)->parameters,
                                   " parameters in ", (*stats)->parameter_bytes, " bytes"));
    return r;
  }
};

ONNXC_REGISTER_PASS(Statistics);

}  // namespace
}  // namespace onnxc
