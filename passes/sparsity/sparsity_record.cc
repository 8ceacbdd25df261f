#include "passes/sparsity/sparsity_record.h"

#include "absl/strings/escaping.h"

namespace onnxc {

std::string PackKeptMask(const Tensor& weight) {
  std::vector<float> w = weight.ToFloatVector();
  std::string bits((w.size() + 7) / 8, '\0');
  for (size_t i = 0; i < w.size(); ++i)
    if (w[i] != 0.0f) bits[i / 8] = static_cast<char>(bits[i / 8] | (1 << (i % 8)));
  return absl::Base64Escape(bits);
}

std::vector<bool> UnpackKeptMask(const std::string& base64, int64_t elements) {
  std::string bits;
  std::vector<bool> kept(elements, false);
  if (!absl::Base64Unescape(base64, &bits)) return kept;
  for (int64_t i = 0; i < elements && static_cast<size_t>(i / 8) < bits.size(); ++i)
    kept[i] = (static_cast<unsigned char>(bits[i / 8]) >> (i % 8)) & 1;
  return kept;
}

}  // namespace onnxc
