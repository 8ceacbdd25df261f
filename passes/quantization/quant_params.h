// Quantization arithmetic, matching ONNX Runtime's quantizer (what most
// runtimes expect): the range always includes zero; asymmetric
// scale = (rmax - rmin) / (qmax - qmin), zero point = round(qmin - rmin / scale);
// symmetric ranges are +-absmax with zero point 0 (int8, in [-127, 127]) or
// 128 (uint8); a scale below float's smallest normal becomes 1 with zero
// point 0; rounding is half to even, then clamped.
#ifndef ONNXC_PASSES_QUANTIZATION_QUANT_PARAMS_H_
#define ONNXC_PASSES_QUANTIZATION_QUANT_PARAMS_H_

#include <cstdint>
#include <vector>

#include "ir/tensor.h"
#include "passes/quantization/quantization_config.pb.h"

namespace onnxc {

struct QuantLimits {
  int32_t qmin, qmax;
};
QuantLimits LimitsOf(QuantType type, bool symmetric);
DataType OnnxTypeOf(QuantType type);
int BitsOf(QuantType type);
// The 16-bit type of the same signedness (16-bit types unchanged).
QuantType Widened(QuantType type);

struct QParams {
  float scale = 1;
  int32_t zero_point = 0;
};
QParams ComputeQParams(float rmin, float rmax, QuantType type, bool symmetric);

// round-half-to-even(x / scale) + zero_point, clamped.
int32_t QuantizeValue(float x, const QParams& p, const QuantLimits& l);

// A weight quantized per tensor (axis = -1) or per channel along `axis`.
struct QuantizedWeight {
  Tensor data;  // of OnnxTypeOf(type)
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  int axis = -1;
};
// `reduced`: ONNX Runtime's reduce_range, symmetric int8 in [-64, 64].
QuantizedWeight QuantizeWeight(const Tensor& w, QuantType type, bool symmetric, int axis, bool reduced = false);

// Bias as int32 with scale = input_scale * weight_scale[c], zero point 0.
QuantizedWeight QuantizeBias(const Tensor& bias, float input_scale, const std::vector<float>& weight_scales);

// The float values a quantized tensor stands for (per-channel aware).
Tensor Dequantize(const QuantizedWeight& q);

// A scalar or 1-D tensor of scales / zero points for Q/DQ nodes.
Tensor ScaleTensor(const std::vector<float>& scales, bool per_channel);
Tensor ZeroPointTensor(const std::vector<int32_t>& zps, DataType type, bool per_channel);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_QUANT_PARAMS_H_
