// verify-sparsity: which Conv/ConvTranspose/Gemm/MatMul weights satisfy an
// N:M pattern along their reduction axis (also through DequantizeLinear, so
// quantized models and models sparsified by other tools can be checked).
// Changes nothing.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/layer_statistics/linear_layer.h"
#include "passes/pass/registry.h"
#include "passes/sparsity/nm_pattern.h"

namespace onnxc {
namespace {

class VerifySparsity : public Pass {
 public:
  static constexpr char kName[] = "verify-sparsity";
  static constexpr char kDescription[] =
      "reports which Conv/ConvTranspose/Gemm/MatMul weights satisfy an N:M pattern along their reduction axis "
      "(weights read through DequantizeLinear included); changes nothing";
  static std::vector<OptionSpec> Options() {
    return {{"pattern", OptionSpec::Type::kString, "2:4", "N:M: at most N non-zeros in every M weights"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto p = NmPattern::Parse(options().GetString("pattern"));
    if (!p.ok()) return p.status();
    PassResult r;
    nlohmann::json layers = nlohmann::json::array();
    int satisfied = 0, checked = 0;
    for (LinearLayerCandidate& c : FindLinearLayers(model, p->group, /*through_dequantize=*/true)) {
      nlohmann::json e;
      e["node"] = c.node->name();
      e["op_type"] = c.node->op_type();
      if (!c.layer.ok()) {
        e["note"] = std::string(c.layer.status().message());
        layers.push_back(e);
        continue;
      }
      auto w = c.layer->ReadWeight(model);
      if (!w.ok()) return w.status();
      int64_t groups = 0, bad = 0, zeros = 0;
      for (const Eigen::MatrixXd& m : c.layer->ToMatrices(*w)) {
        for (int64_t row = 0; row < m.rows(); ++row)
          for (int64_t col = 0; col < m.cols(); col += p->group) {
            int nonzero = (m.row(row).segment(col, std::min<int64_t>(p->group, m.cols() - col)).array() != 0.0).count();
            ++groups;
            bad += nonzero > p->keep;
          }
      }
      for (float x : w->ToFloatVector()) zeros += x == 0.0f;
      ++checked;
      satisfied += bad == 0;
      e["satisfies"] = bad == 0;
      e["groups"] = groups;
      e["groups_violating"] = bad;
      e["sparsity"] = w->num_elements() ? static_cast<double>(zeros) / w->num_elements() : 0.0;
      e["quantized"] = c.layer->dequantized;
      layers.push_back(e);
      r.notes.push_back(absl::StrFormat("%s (%s): %s, %.1f%% zero%s", c.layer->name(), c.node->op_type(),
                                        bad == 0 ? absl::StrCat("satisfies ", p->ToString())
                                                 : absl::StrFormat("%d of %d groups have more than %d non-zeros", bad,
                                                                   groups, p->keep),
                                        100.0 * e["sparsity"].get<double>(), c.layer->dequantized ? " (quantized)" : ""));
    }
    r.notes.insert(r.notes.begin(),
                   absl::StrFormat("%d of %d layers satisfy %s", satisfied, checked, p->ToString()));
    r.details["pattern"] = p->ToString();
    r.details["layers"] = layers;
    r.details["satisfied"] = satisfied;
    r.details["checked"] = checked;
    return r;
  }
};

ONNXC_REGISTER_PASS(VerifySparsity);

}  // namespace
}  // namespace onnxc
