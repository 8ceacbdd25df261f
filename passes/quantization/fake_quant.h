// The fake-quant simulation model (AMCT's "fake quant" output): quantized
// weights folded back to float (each constant DequantizeLinear computed),
// activation Q/DQ pairs kept, so any float runtime simulates the quantized
// model.
#ifndef ONNXC_PASSES_QUANTIZATION_FAKE_QUANT_H_
#define ONNXC_PASSES_QUANTIZATION_FAKE_QUANT_H_

#include "ir/model.h"

namespace onnxc {

// Rewrites a quantized model in place into its fake-quant form.
void FoldConstantDequantize(Model& model);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_FAKE_QUANT_H_
