// Quantization settings shared by the passes that must agree with `quantize`
// on what "quantized" means: `quantize` itself, `layer-sensitivity` and
// `fallback` (which quantize candidate models to measure them).
//
// Settings come from (later wins): the defaults, the `quantization` block of
// the compress config (RunSettings.extra["quantization-config"]), the file in
// config=..., then the pass's own options.
#ifndef ONNXC_PASSES_QUANTIZE_COMMON_H_
#define ONNXC_PASSES_QUANTIZE_COMMON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "passes/pass.h"
#include "passes/pass_options.h"
#include "passes/quantization_settings.h"

namespace onnxc {

// The options every quantizing pass takes: config, scheme, method,
// activation-type, symmetric-activations, per-channel, percentile, samples.
// (`quantize` adds skip, record and fake-quant.)
std::vector<OptionSpec> QuantizationSettingOptions();

// The settings for this run. `pass_name` prefixes error messages; the `skip`
// option is read only when `read_skip` (the pass declares it).
absl::StatusOr<QuantizationSettings> ResolveQuantizationSettings(const PassOptions& o, const RunSettings& run,
                                                                 const std::string& pass_name = "quantize",
                                                                 bool read_skip = true);

// The RunSettings the calibration-stats analysis must be computed with for
// these settings (calibration_samples -> extra["calib-samples"]). Every pass
// that asks for CalibrationStats uses this, so whichever computes it first
// computes the statistics `quantize` would have.
RunSettings CalibrationRunSettings(const QuantizationConfig& config, const RunSettings& run);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZE_COMMON_H_
