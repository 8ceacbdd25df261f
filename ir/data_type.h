// Element types of ONNX tensors and their sizes.
#ifndef ONNXC_IR_DATA_TYPE_H_
#define ONNXC_IR_DATA_TYPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "onnx/onnx_pb.h"

namespace onnxc {

// The IR uses ONNX's own enum so nothing is lost or renumbered.
using DataType = onnx::TensorProto_DataType;

// Bytes per element; 0 for STRING and UNDEFINED (variable or unknown size).
size_t ElementSize(DataType type);

// "FLOAT", "INT8", ... for messages.
std::string DataTypeName(DataType type);

// IEEE half and bfloat16 <-> float conversions (round to nearest even).
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float BFloat16ToFloat(uint16_t b);
uint16_t FloatToBFloat16(float f);

}  // namespace onnxc

#endif  // ONNXC_IR_DATA_TYPE_H_
