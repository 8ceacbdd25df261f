#include "absl/strings/str_cat.h"
#include "passes/pass/registry.h"
#include "passes/quantization/qdq_lowering.h"

namespace onnxc {
namespace {

// lower-qdq: the QOperator form of a QDQ model, as ONNX Runtime fuses it.
class LowerQdqPass : public Pass {
 public:
  static constexpr char kName[] = "lower-qdq";
  static constexpr char kDescription[] =
      "turns QDQ node units into the integer ops ONNX Runtime's CPU provider fuses them into (QLinearConv, "
      "QLinearMatMul, QGemm, QLinearAdd, ...; the QOperator format), under ORT's own conditions";
  static std::vector<OptionSpec> Options() {
    return {{"int8-allowed", OptionSpec::Type::kBool, "false",
             "int8 activations fuse as int8 (ORT on ARM); false: ORT on x86, int8 pairs become uint8"}};
  }
  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    QdqLoweringOptions o;
    o.int8_allowed = options().GetBool("int8-allowed");
    auto r = LowerQdq(model, o);
    if (!r.ok()) return r.status();
    PassResult res;
    for (const auto& [op, count] : r->fused) {
      res.changes += count;
      res.notes.push_back(absl::StrCat(count, " x ", op));
      res.details["fused"][op] = count;
    }
    res.changes += r->int8_to_uint8;
    res.details["int8_to_uint8"] = r->int8_to_uint8;
    res.details["left_float"] = r->left_float;
    if (r->left_float > 0) res.notes.push_back(absl::StrCat(r->left_float, " ops with quantized inputs left in float"));
    return res;
  }
};

ONNXC_REGISTER_PASS(LowerQdqPass);

}  // namespace
}  // namespace onnxc
