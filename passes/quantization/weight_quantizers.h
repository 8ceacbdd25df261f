// Quantization schemes that need no calibration:
//
// - Weight-only (W4A16, W8A16): MatMul and Gemm weights become blocks of 4-
//   or 8-bit codes along the input axis (block_size, 128 by default), each
//   block with its own scale, run by ONNX Runtime's com.microsoft.MatMulNBits
//   (what its MatMul4BitsQuantizer emits). Activations stay float.
// - Dynamic: MatMul/Gemm and Conv weights become int8; activations are
//   quantized at run time by DynamicQuantizeLinear and multiplied by
//   MatMulInteger / ConvInteger, then rescaled (ONNX Runtime's
//   quantize_dynamic pattern, which it fuses into DynamicQuantizeMatMul).
#ifndef ONNXC_PASSES_QUANTIZATION_WEIGHT_QUANTIZERS_H_
#define ONNXC_PASSES_QUANTIZATION_WEIGHT_QUANTIZERS_H_

#include <functional>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "analysis/layer_statistics/layer_statistics.h"
#include "ir/model.h"
#include "passes/quantization/quantizer.h"

namespace onnxc {

// Weight-only GPTQ and AWQ (config weight_method): the statistics of a
// MatMul/Gemm's calibration inputs (nullptr, or no lookup: round to nearest).
using LayerGramLookup = std::function<const LayerGram*(const Node*)>;

absl::StatusOr<QuantizeReport> QuantizeWeightOnly(Model& model, const QuantizationSettings& settings,
                                                  const QuantizeOptions& options,
                                                  const LayerGramLookup& layer_gram = nullptr);
absl::StatusOr<QuantizeReport> QuantizeDynamic(Model& model, const QuantizationSettings& settings,
                                               const QuantizeOptions& options);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_WEIGHT_QUANTIZERS_H_
