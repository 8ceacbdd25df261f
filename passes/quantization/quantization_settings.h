// Quantization settings resolved per node: the config's common settings,
// overridden by op type, overridden by node-name globs (name > type > common).
#ifndef ONNXC_PASSES_QUANTIZATION_QUANTIZATION_SETTINGS_H_
#define ONNXC_PASSES_QUANTIZATION_QUANTIZATION_SETTINGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "ir/node.h"
#include "passes/quantization/quantization_config.pb.h"

namespace onnxc {

struct NodeSettings {
  bool skip = false;
  std::string skip_reason;
  WeightSettings weight;
  ActivationSettings activation;
};

class QuantizationSettings {
 public:
  QuantizationSettings() = default;
  // Parses protobuf text format; unknown fields and bad values are refused
  // with a message naming them (and the line, for syntax errors). `origin`
  // names the source in messages.
  static absl::StatusOr<QuantizationSettings> Parse(const std::string& text, const std::string& origin);
  static absl::StatusOr<QuantizationSettings> FromConfig(QuantizationConfig config, const std::string& origin);

  NodeSettings For(const Node& node) const;
  const QuantizationConfig& config() const { return config_; }
  QuantizationConfig* mutable_config() { return &config_; }
  // Checks value ranges and combinations (also after edits to the config).
  absl::Status Validate(const std::string& origin) const;

 private:
  QuantizationConfig config_;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_QUANTIZATION_SETTINGS_H_
