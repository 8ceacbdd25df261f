// What the tool that runs the pipeline tells the quantization passes
// (RunSettings::families): the config file's quantization block and where
// the record and the fake-quant model go. A pass's own options override the
// config (see quantization_options.h).
#ifndef ONNXC_PASSES_QUANTIZATION_QUANTIZATION_RUN_SETTINGS_H_
#define ONNXC_PASSES_QUANTIZATION_QUANTIZATION_RUN_SETTINGS_H_

#include <string>
#include <utility>
#include <vector>

#include "passes/quantization/quantization_config.pb.h"

namespace onnxc {

struct QuantizationRunSettings {
  QuantizationConfig config;    // the compress config's `quantization { ... }` block
  std::string record_path;      // where quantize writes its record (compress: <output>.quant_record.pbtxt)
  std::string fake_quant_path;  // --fake-quant-output
};

// Nodes `quantize` keeps in float, with the reason (StableNodeId, reason),
// and nodes it gives 16-bit activations (fallback{precision=a16}): left in
// PassContext::state by the fallback pass, read by quantize.
struct KeepFloatDecisions {
  std::vector<std::pair<std::string, std::string>> nodes;
  std::vector<std::pair<std::string, std::string>> wide_activations;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_QUANTIZATION_RUN_SETTINGS_H_
