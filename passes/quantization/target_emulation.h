// A quantized model as its deployment target computes it, for the output
// check ("what it cost"): ONNX Runtime's x86 and ARM targets get ORT's QDQ
// fusion (qdq_lowering.h) and integer kernels with its accumulation (int16
// pair saturation on x86 without VNNI); TensorRT and Ascend accumulate in
// int32 and requantise per output, which the QDQ graph computes to float
// rounding, so they and `generic` run the QDQ model as written.
#ifndef ONNXC_PASSES_QUANTIZATION_TARGET_EMULATION_H_
#define ONNXC_PASSES_QUANTIZATION_TARGET_EMULATION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ir/model.h"
#include "kernels/executor.h"
#include "passes/quantization/deployment_target.h"

namespace onnxc {

struct EmulatedModel {
  std::unique_ptr<Model> model;  // what to run
  ExecutorOptions executor;      // how the kernels must add products
  std::string how;               // for people: "ONNX Runtime x86 without VNNI: ..."
};

absl::StatusOr<EmulatedModel> EmulateTarget(const Model& quantized, const DeploymentTarget& target,
                                            const ExecutorOptions& base);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_TARGET_EMULATION_H_
