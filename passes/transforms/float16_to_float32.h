// Computing a float16/bfloat16 model in float32 between Casts at its inputs
// and outputs (float16_to_float32.cc; also the pass float16-to-float32).
#ifndef ONNXC_PASSES_TRANSFORMS_FLOAT16_TO_FLOAT32_H_
#define ONNXC_PASSES_TRANSFORMS_FLOAT16_TO_FLOAT32_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "ir/model.h"

namespace onnxc {

struct Float16Conversion {
  int64_t tensors = 0;  // initializers and Constant values widened
  int64_t casts = 0;    // Casts added at the interface or retargeted to float32
  int64_t values = 0;   // values retyped
};

absl::StatusOr<Float16Conversion> ConvertFloat16ToFloat32(Model& model);
// Whether the model has 16-bit float weights or inputs.
bool HasFloat16(const Model& model);

}  // namespace onnxc

#endif  // ONNXC_PASSES_TRANSFORMS_FLOAT16_TO_FLOAT32_H_
