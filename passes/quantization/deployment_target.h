// Deployment targets: documented presets of quantization choices for the
// runtime and CPU a model will run on. A target fills every quantization
// setting the user did not set (weight range and signedness, activation
// type and symmetry, per-channel axes, which layer classes stay float,
// where Q/DQ go, what the record holds) and says how the runtime computes,
// so the output check can compute the same way.
//
//   portable   the default: holds on every CPU ONNX Runtime runs on. int8
//              weights kept pair-safe (x86 without VNNI cannot saturate on
//              them), uint8 asymmetric activations.
//   x86-avx2   ONNX Runtime on x86 without VNNI: pair-safe weights, uint8
//              activations, and the speed guard: depthwise convs stay float
//              when the speed estimate says that is faster there.
//   x86-vnni   ONNX Runtime on x86 with AVX512-VNNI / AVX-VNNI: full int8
//              weights (int32 accumulation), uint8 activations.
//   arm64      ONNX Runtime on ARM64: full int8 weights, uint8 activations.
//   tensorrt   TensorRT: symmetric int8 activations and weights, per-channel
//              weights, Q/DQ on every quantized input.
//   ascend     Huawei Ascend via AMCT's conventions: int8 asymmetric
//              activations (offset_d), int8 symmetric per-channel weights,
//              Conv/ConvTranspose/Gemm/MatMul/AveragePool only, and an AMCT
//              record with scale_d, offset_d, scale_w, offset_w and SearchN's
//              shift_bit.
//   generic    exact ONNX semantics: full int8, every op class quantized; the
//              check computes the QDQ model as written.
#ifndef ONNXC_PASSES_QUANTIZATION_DEPLOYMENT_TARGET_H_
#define ONNXC_PASSES_QUANTIZATION_DEPLOYMENT_TARGET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cpu_features.h"
#include "passes/quantization/quantization_config.pb.h"

namespace onnxc {

struct DeploymentTarget {
  // How the target runtime computes a QDQ model, for the output check.
  enum class Runtime {
    kOnnxSemantics,  // the QDQ graph as written (float between Q/DQ)
    kOrtX86,         // ONNX Runtime's x86 CPU kernels (QDQ fused to QLinear*, int8 activations to uint8)
    kOrtArm,         // ONNX Runtime's ARM64 kernels (int8 activations allowed)
    kIntegerExact,   // fused integer kernels with exact int32 accumulation (TensorRT, Ascend)
  };
  std::string name;
  std::string summary;
  Runtime runtime = Runtime::kOnnxSemantics;
  // x86 without VNNI: u8 x s8 products added in pairs into saturating int16.
  bool int16_pairs = false;
  bool amct_record = false;  // write AMCT's record and SearchN's shift_bit
  // Quantize depthwise convs or keep them float, whichever the speed
  // estimate for this target's CPUs finds faster (unless the config says).
  bool speed_guard = false;
  // Fills the config's unset fields with the target's choices.
  void Apply(QuantizationConfig* config) const;
  // Whether a model quantized for this target computes as intended on `cpu`,
  // with the reason ("" when the target is not about CPUs).
  std::string SuitsHost(const CpuFeatures& cpu) const;
};

const std::vector<DeploymentTarget>& AllDeploymentTargets();
// "" gives the default (portable).
absl::StatusOr<const DeploymentTarget*> FindDeploymentTarget(const std::string& name);
// "portable, x86-avx2, ..."
std::string DeploymentTargetNames();

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_DEPLOYMENT_TARGET_H_
