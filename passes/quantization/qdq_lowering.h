// ONNX Runtime's QDQ fusion, reproduced: turns QDQ node units (DequantizeLinear
// inputs -> op -> QuantizeLinear) into the integer ops ORT's CPU provider runs
// at its default optimisation level, under the same conditions ORT checks
// (onnxruntime/core/optimizer/qdq_transformer/selectors_actions):
//   Conv -> QLinearConv; MatMul -> QLinearMatMul (MatMulIntegerToFloat when
//   no Q follows); Gemm -> com.microsoft QGemm (u8 or float output);
//   Add, Mul -> QLinearAdd, QLinearMul; AveragePool, GlobalAveragePool,
//   Sigmoid, LeakyRelu -> QLinear*; Concat -> QLinearConcat; data movement
//   (Reshape, Transpose, Squeeze, Unsqueeze, Flatten, Slice, Gather,
//   GatherElements, Expand, Tile, MaxPool, DepthToSpace, nearest Resize,
//   Split) with equal Q and DQ parameters runs on the integers directly.
// On x86 (int8 activations not allowed, ORT's default there) a Q/DQ pair
// with a single consumer is first rewritten from int8 to uint8 (zero point
// + 128), and a Conv or MatMul whose input stays int8 is not fused: it runs
// in float between its DequantizeLinear and QuantizeLinear.
//
// The result is a valid QOperator-format model (ONNX Runtime runs it); the
// output check runs it with the kernels to compute what the runtime computes.
#ifndef ONNXC_PASSES_QUANTIZATION_QDQ_LOWERING_H_
#define ONNXC_PASSES_QUANTIZATION_QDQ_LOWERING_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "ir/model.h"

namespace onnxc {

struct QdqLoweringOptions {
  // ORT's session.qdqisint8allowed: false on x86 (its default), true on ARM.
  bool int8_allowed = false;
};

struct QdqLoweringReport {
  std::map<std::string, int> fused;  // result op -> count ("QLinearConv": 20)
  int int8_to_uint8 = 0;             // Q/DQ pairs rewritten to uint8
  int left_float = 0;                // quantized ops left as DQ -> op -> Q (float compute)
};

absl::StatusOr<QdqLoweringReport> LowerQdq(Model& model, const QdqLoweringOptions& options);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_QDQ_LOWERING_H_
