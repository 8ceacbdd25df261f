// calibrate: computes the calibration statistics quantize would use, and
// saves them with --calib-stats-out; rewrites nothing. With --calib-shard
// k/n, several processes (an MPI job, a Slurm array) each calibrate one
// shard; a later run merges the saved files (--calib-stats-in) and quantizes:
//
//   compress --input m.onnx --calib-data d/ --calib-shard 0/2 --calib-stats-out s0.pb   (and 1/2 -> s1.pb)
//   compress --input m.onnx --output q.onnx --calib-stats-in s0.pb,s1.pb
//
// compress runs `optimize,calibrate` for a shard, so the statistics name the
// tensors of the optimised model, as quantize sees them in the merging run.
#include "absl/strings/str_cat.h"
#include "analysis/calibration/calibration_stats.h"
#include "passes/pass/registry.h"
#include "passes/quantization/model_preparation.h"
#include "passes/quantization/quantization_options.h"

namespace onnxc {
namespace {

class Calibrate : public Pass {
 public:
  static constexpr char kName[] = "calibrate";
  static constexpr char kDescription[] =
      "computes the calibration statistics quantize would use (saved with --calib-stats-out; one shard with "
      "--calib-shard k/n); changes nothing";
  static std::vector<OptionSpec> Options() { return QuantizationSettingOptions(); }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto settings = ResolveQuantizationSettings(options(), *ctx.settings, kName, /*read_skip=*/false);
    if (!settings.ok()) return settings.status();
    auto prepared = PrepareForQuantization(model, settings->config(), ctx.settings ? ctx.settings->isolation : Isolation::kChildProcess);
    if (!prepared.ok()) return prepared.status();
    CalibrationSettings calibration = CalibrationSettingsFor(settings->config(), *ctx.settings);
    auto stats = ctx.analyses->Get<CalibrationStats>(model, ctx.ForAnalyses(), calibration);
    if (!stats.ok()) return stats.status();
    PassResult r;
    r.changes = static_cast<int64_t>(prepared->size());
    r.notes = *prepared;
    if (!prepared->empty()) r.preserved = PreservedAnalyses::None().Preserve<CalibrationStats>();
    r.notes.push_back(absl::StrCat("statistics of ", (*stats)->tensors.size(), " tensors over ", (*stats)->samples,
                                   " samples: ", (*stats)->source));
    r.details = {{"tensors", (*stats)->tensors.size()}, {"samples", (*stats)->samples}, {"source", (*stats)->source}};
    if (!calibration.stats_out.empty()) {
      r.notes.push_back(absl::StrCat("saved to ", calibration.StatsOutPath()));
      r.details["saved"] = calibration.StatsOutPath();
    }
    return r;
  }
};

ONNXC_REGISTER_PASS(Calibrate);

}  // namespace
}  // namespace onnxc
