// Makes the models users bring quantizable before anything is calibrated:
//   - float16/bfloat16 models are computed in float32 between Casts at their
//     inputs and outputs (float16-to-float32): QuantizeLinear takes float32
//     before opset 19 and ONNX Runtime's int8 kernels take float32 scales;
//   - opsets without QuantizeLinear/DequantizeLinear (before 10), or without
//     per-channel Q/DQ (before 13) when per-channel weights are asked, are
//     upgraded to 13 with ONNX's version converter (upgrade-opset).
// quantize, calibrate, layer-sensitivity and fallback all start with it, so
// the statistics are those of the model quantize rewrites.
#ifndef ONNXC_PASSES_QUANTIZATION_MODEL_PREPARATION_H_
#define ONNXC_PASSES_QUANTIZATION_MODEL_PREPARATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/child_process.h"
#include "ir/model.h"
#include "passes/quantization/quantization_config.pb.h"

namespace onnxc {

// The quantized ops the model holds already, in all its graphs, as
// "12 QuantizeLinear, 3 QLinearConv" (empty: none): Q/DQ, QLinear*,
// *Integer, DynamicQuantizeLinear, QGemm, MatMulNBits.
std::string DescribeQuantizedOps(const Model& model);

// What was done, a line each (empty: the model was left as it was).
absl::StatusOr<std::vector<std::string>> PrepareForQuantization(Model& model, const QuantizationConfig& config,
                                                               Isolation isolation = Isolation::kChildProcess);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_MODEL_PREPARATION_H_
