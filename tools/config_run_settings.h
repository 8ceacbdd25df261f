// What compress and the C API both derive from a compress config: the
// default pipeline, and the families' run settings (quantization config and
// target, where the quantization and sparsity records go).
#ifndef ONNXC_TOOLS_CONFIG_RUN_SETTINGS_H_
#define ONNXC_TOOLS_CONFIG_RUN_SETTINGS_H_

#include <string>

#include "absl/status/status.h"
#include "analysis/calibration/calibration_settings.h"
#include "passes/pass/pass.h"
#include "tools/compress_config.pb.h"

namespace onnxc {

// The config's pipeline; else optimize,calibrate for a calibration shard,
// optimize,quantize with calibration data or statistics, cleanup without.
std::string DefaultPipeline(const CompressConfig& config, const CalibrationSettings& calibration);

// Sets settings->families from the config. `target` (if not empty) must be a
// known deployment target and overrides the config's; records go next to
// `output` (none if it is empty); `fake_quant_path` as --fake-quant-output.
absl::Status SetFamilySettings(const CompressConfig& config, const std::string& target, const std::string& output,
                               const std::string& fake_quant_path, RunSettings* settings);

}  // namespace onnxc

#endif  // ONNXC_TOOLS_CONFIG_RUN_SETTINGS_H_
