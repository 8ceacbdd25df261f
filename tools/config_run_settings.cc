#include "tools/config_run_settings.h"

#include "passes/quantization/deployment_target.h"
#include "passes/quantization/quantization_run_settings.h"
#include "passes/sparsity/sparsity_run_settings.h"

namespace onnxc {

std::string DefaultPipeline(const CompressConfig& config, const CalibrationSettings& calibration) {
  if (!config.pipeline().empty()) return config.pipeline();
  if (calibration.shard.count > 1) return "optimize,calibrate";
  return calibration.data.empty() && calibration.stats_in.empty() ? "cleanup" : "optimize,quantize";
}

absl::Status SetFamilySettings(const CompressConfig& config, const std::string& target, const std::string& output,
                               const std::string& fake_quant_path, RunSettings* settings) {
  QuantizationRunSettings quantization;
  quantization.config = config.quantization();
  if (!target.empty()) {
    auto t = FindDeploymentTarget(target);
    if (!t.ok()) return t.status();
    quantization.config.set_target(target);
  }
  if (!output.empty()) quantization.record_path = output + ".quant_record.pbtxt";
  quantization.fake_quant_path = fake_quant_path;
  settings->families.Set(quantization);
  SparsityRunSettings sparsity;
  if (!output.empty()) sparsity.record_path = output + ".sparsity_record.json";
  settings->families.Set(sparsity);
  return absl::OkStatus();
}

}  // namespace onnxc
