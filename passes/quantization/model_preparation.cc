#include "passes/quantization/model_preparation.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "passes/transforms/float16_to_float32.h"
#include "passes/transforms/upgrade_opset.h"

namespace onnxc {

std::string DescribeQuantizedOps(const Model& model) {
  std::map<std::string, int64_t> counts;
  const_cast<Model&>(model).graph().ForEachGraph([&](Graph* g) {
    for (const auto& n : g->nodes()) {
      const std::string& op = n->op_type();
      if (op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear" || op == "QGemm" ||
          op == "MatMulNBits" || absl::StartsWith(op, "QLinear") || absl::EndsWith(op, "Integer") ||
          absl::EndsWith(op, "IntegerToFloat"))
        ++counts[op];
    }
  });
  std::string out;
  for (const auto& [op, k] : counts) absl::StrAppend(&out, out.empty() ? "" : ", ", k, " ", op);
  return out;
}

absl::StatusOr<std::vector<std::string>> PrepareForQuantization(Model& model, const QuantizationConfig& config,
                                                               Isolation isolation) {
  std::vector<std::string> notes;
  const bool static_scheme = config.scheme() == QuantizationConfig::W8A8 ||
                             config.scheme() == QuantizationConfig::W8A16_ACT ||
                             config.scheme() == QuantizationConfig::DYNAMIC;
  const int64_t opset = model.OpsetVersion("");
  const bool wants_per_channel = config.weight().per_channel();
  if (static_scheme && (opset < 10 || (opset < 13 && wants_per_channel))) {
    absl::Status s = UpgradeOpset(model, 13, isolation);
    if (!s.ok())
      return absl::Status(s.code(), absl::StrCat("opset ", opset, " has no ",
                                                 opset < 10 ? "QuantizeLinear/DequantizeLinear" : "per-channel Q/DQ",
                                                 " and the upgrade to 13 failed: ", s.message()));
    notes.push_back(absl::StrCat("opset ", opset, " upgraded to 13 with ONNX's version converter (",
                                 opset < 10 ? "QuantizeLinear/DequantizeLinear need 10" : "per-channel Q/DQ need 13",
                                 ")"));
  }
  if (static_scheme && HasFloat16(model)) {
    auto c = ConvertFloat16ToFloat32(model);
    if (!c.ok()) return c.status();
    notes.push_back(absl::StrCat("16-bit float model computed in float32 between Casts at its inputs and outputs "
                                 "(which keep their types): ",
                                 c->tensors, " tensors widened, ", c->casts, " Casts"));
  }
  return notes;
}

}  // namespace onnxc
