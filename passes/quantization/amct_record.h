// AMCT's record file (ScaleOffsetRecord, protobuf text format), written next
// to the model for target ascend so Ascend tools that read AMCT records
// (ATC) take our quantization: per layer, keyed by node name,
//   scale_d, offset_d   the input activation's scale and int8 zero point
//   scale_w, offset_w   the weight's scales (per output channel for Conv) and 0s
//   shift_bit           SearchN's N per channel
// AMCT writes this text with its own (unpublished for ONNX) proto; the field
// names are the ones its documentation gives.
#ifndef ONNXC_PASSES_QUANTIZATION_AMCT_RECORD_H_
#define ONNXC_PASSES_QUANTIZATION_AMCT_RECORD_H_

#include <string>

#include "passes/quantization/quantization_config.pb.h"

namespace onnxc {

std::string AmctRecordText(const QuantizationRecord& record);
// "m.onnx.quant_record.pbtxt" -> "m.onnx.amct_record.txt"
std::string AmctRecordPath(const std::string& record_path);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_AMCT_RECORD_H_
