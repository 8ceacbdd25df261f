// The sparsity record: per sparsified layer the pattern, the axis, the
// achieved sparsity, the output error, and the mask bit-packed as AMCT
// records it (one bit per weight element in the tensor's own row-major
// order, 1 = kept, least significant bit first, base64). A deployment tool
// or a later fine-tuning run can re-apply exactly this mask.
#ifndef ONNXC_PASSES_SPARSITY_SPARSITY_RECORD_H_
#define ONNXC_PASSES_SPARSITY_SPARSITY_RECORD_H_

#include <string>
#include <vector>

#include "ir/tensor.h"
#include "nlohmann/json.hpp"

namespace onnxc {

// Bit i set when element i of `weight` is non-zero; base64.
std::string PackKeptMask(const Tensor& weight);
// The inverse (for tests and tools): one bool per element.
std::vector<bool> UnpackKeptMask(const std::string& base64, int64_t elements);

}  // namespace onnxc

#endif  // ONNXC_PASSES_SPARSITY_SPARSITY_RECORD_H_
