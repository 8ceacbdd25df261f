// Quantization settings shared by the passes that must agree with `quantize`
// on what "quantized" means: `quantize` itself, `layer-sensitivity` and
// `fallback` (which quantize candidate models to measure them).
//
// Settings come from (later wins): the defaults, the `quantization` block of
// the compress config (QuantizationRunSettings::config), the file in
// config=..., then the pass's own options.
#ifndef ONNXC_PASSES_QUANTIZATION_QUANTIZATION_OPTIONS_H_
#define ONNXC_PASSES_QUANTIZATION_QUANTIZATION_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_settings.h"
#include "passes/pass/pass.h"
#include "passes/pass/pass_options.h"
#include "passes/quantization/quantization_settings.h"

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

// The calibration settings the calibration-stats analysis must be computed
// with for this config (the run's, with calibration_samples applied). Every
// pass that asks for CalibrationStats uses this, so whichever computes it
// first computes the statistics `quantize` would have.
CalibrationSettings CalibrationSettingsFor(const QuantizationConfig& config, const RunSettings& run);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_QUANTIZATION_OPTIONS_H_
