#include "passes/quantization/target_emulation.h"

#include "absl/strings/str_cat.h"
#include "passes/quantization/qdq_lowering.h"

namespace onnxc {

absl::StatusOr<EmulatedModel> EmulateTarget(const Model& quantized, const DeploymentTarget& target,
                                            const ExecutorOptions& base) {
  EmulatedModel e;
  e.model = quantized.Clone();
  e.executor = base;
  using Runtime = DeploymentTarget::Runtime;
  if (target.runtime != Runtime::kOrtX86 && target.runtime != Runtime::kOrtArm) {
    e.how = target.runtime == Runtime::kOnnxSemantics
                ? "the QDQ model as written (exact ONNX semantics)"
                : "the QDQ model as written (int32 accumulation and per-output requantisation, to float rounding)";
    return e;
  }
  QdqLoweringOptions lo;
  lo.int8_allowed = target.runtime == Runtime::kOrtArm;
  auto report = LowerQdq(*e.model, lo);
  if (!report.ok()) return report.status();
  int fused = 0;
  for (const auto& [op, n] : report->fused) fused += n;
  if (target.int16_pairs) e.executor.kernels.int8_dot = KernelOptions::Int8Dot::kX86Int16Pairs;
  e.how = absl::StrCat(target.runtime == Runtime::kOrtArm ? "ONNX Runtime on ARM64" : "ONNX Runtime on x86",
                       target.int16_pairs ? " without VNNI (u8 x s8 products added in saturating int16 pairs)"
                                          : " (exact int32 accumulation)",
                       ": ", fused, " ops fused into integer kernels, ", report->left_float,
                       " quantized ops computed in float");
  return e;
}

}  // namespace onnxc
