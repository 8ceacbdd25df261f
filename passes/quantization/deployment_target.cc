#include "passes/quantization/deployment_target.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onnxc {
namespace {

using Runtime = DeploymentTarget::Runtime;

std::vector<DeploymentTarget> MakeTargets() {
  std::vector<DeploymentTarget> t;
  auto add = [&](std::string name, std::string summary, Runtime runtime, bool int16_pairs, bool amct) {
    DeploymentTarget d;
    d.name = std::move(name);
    d.summary = std::move(summary);
    d.runtime = runtime;
    d.int16_pairs = int16_pairs;
    d.amct_record = amct;
    t.push_back(std::move(d));
  };
  add("portable",
      "holds on every CPU ONNX Runtime runs on: pair-safe int8 weights (no int16 saturation on x86 without VNNI), "
      "uint8 asymmetric activations",
      Runtime::kOrtX86, /*int16_pairs=*/true, false);
  add("x86-avx2",
      "ONNX Runtime on x86 without VNNI: pair-safe int8 weights, uint8 activations, depthwise convs float where "
      "the speed estimate finds that faster",
      Runtime::kOrtX86, true, false);
  t.back().speed_guard = true;
  add("x86-vnni", "ONNX Runtime on x86 with VNNI (int32 dot products): full int8 weights, uint8 activations",
      Runtime::kOrtX86, false, false);
  add("arm64", "ONNX Runtime on ARM64 (exact int32 accumulation): full int8 weights, uint8 activations",
      Runtime::kOrtArm, false, false);
  add("tensorrt", "TensorRT: symmetric int8 activations and per-channel weights, Q/DQ on every quantized input",
      Runtime::kIntegerExact, false, false);
  add("ascend",
      "Huawei Ascend (AMCT conventions): int8 asymmetric activations, symmetric per-channel weights, "
      "Conv/ConvTranspose/Gemm/MatMul/AveragePool, AMCT record with SearchN shift_bit",
      Runtime::kIntegerExact, false, /*amct=*/true);
  add("generic", "exact ONNX semantics: full int8 weights, uint8 activations, the check runs the QDQ model as written",
      Runtime::kOnnxSemantics, false, false);
  return t;
}

}  // namespace

const std::vector<DeploymentTarget>& AllDeploymentTargets() {
  static const std::vector<DeploymentTarget>* targets = new std::vector<DeploymentTarget>(MakeTargets());
  return *targets;
}

std::string DeploymentTargetNames() {
  std::vector<std::string> names;
  for (const DeploymentTarget& t : AllDeploymentTargets()) names.push_back(t.name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<const DeploymentTarget*> FindDeploymentTarget(const std::string& name) {
  const std::string want = name.empty() ? "portable" : name;
  for (const DeploymentTarget& t : AllDeploymentTargets())
    if (t.name == want) return &t;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown target '", name, "'; targets: ", DeploymentTargetNames()));
}

void DeploymentTarget::Apply(QuantizationConfig* c) const {
  WeightSettings* w = c->mutable_weight();
  ActivationSettings* a = c->mutable_activation();
  if (!w->has_range()) w->set_range(int16_pairs ? INT16_PAIR_SAFE : FULL);
  if (name == "tensorrt") {
    if (!a->has_type()) a->set_type(INT8);
    if (!a->has_symmetric()) a->set_symmetric(true);
  }
  if (name == "ascend") {
    if (!a->has_type()) a->set_type(INT8);
    if (!a->has_symmetric()) a->set_symmetric(false);
    if (c->quantize_op_type_size() == 0)
            // Relu/Clip too: they fold into the output range of the op before them.
      for (const char* op : {"Conv", "ConvTranspose", "Gemm", "MatMul", "AveragePool", "Relu", "Clip"})
        c->add_quantize_op_type(op);
    // AMCT quantizes Gemm and MatMul weights per tensor.
    for (const char* op : {"Gemm", "MatMul"}) {
      bool set = false;
      for (const auto& o : c->op_type_override()) set |= o.op_type() == op && o.weight().has_per_channel();
      if (set) continue;
      OpTypeOverride* o = c->add_op_type_override();
      o->set_op_type(op);
      o->mutable_weight()->set_per_channel(false);
    }
  }
}

std::string DeploymentTarget::SuitsHost(const CpuFeatures& cpu) const {
  if (runtime != Runtime::kOrtX86 && runtime != Runtime::kOrtArm) return "";
  if (runtime == Runtime::kOrtArm)
    return cpu.arm64 ? "suits this machine (ARM64)" : "made for ARM64; this machine is not one";
  if (!cpu.x86) return "made for x86; this machine is not x86";
  if (!int16_pairs && cpu.SaturatesU8S8())
    return "DOES NOT suit this machine: it has no VNNI, so ONNX Runtime's u8 x s8 kernels here add weight pairs "
           "in saturating int16 and this model's full-range weights can overflow; use --target x86-avx2 or portable";
  if (int16_pairs && !cpu.SaturatesU8S8())
    return "suits this machine (it has VNNI, where --target x86-vnni keeps full 8-bit weights)";
  return "suits this machine";
}

}  // namespace onnxc
