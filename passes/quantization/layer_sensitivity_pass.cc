// layer-sensitivity: reports the LayerSensitivity analysis (per quantizable
// layer, the error when only that layer is quantized); rewrites nothing.
#include "absl/strings/str_format.h"
#include "passes/pass/registry.h"
#include "passes/quantization/model_preparation.h"
#include "passes/quantization/layer_sensitivity.h"
#include "passes/quantization/quantization_options.h"

namespace onnxc {
namespace {

class LayerSensitivityPass : public Pass {
 public:
  static constexpr char kName[] = "layer-sensitivity";
  static constexpr char kDescription[] =
      "reports the layer-sensitivity analysis: per quantizable layer, the error (cosine, SQNR, MSE at the layer's "
      "output and at the model's outputs) when only that layer is quantized, measured on calibration samples; "
      "ranked worst first. Takes quantize's options, so it measures what quantize will do";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    std::vector<OptionSpec> o = QuantizationSettingOptions();
    o.push_back({"eval-samples", T::kInt, "16", "calibration samples to measure on (the first N)"});
    o.push_back({"rank-by", T::kString, "output-sqnr",
                 "output-sqnr | output-cosine | layer-cosine (AMCT) | layer-sqnr | revert-sqnr (needs revert)"});
    o.push_back({"revert", T::kBool, "false",
                 "also measure each layer kept float with all others quantized (L more runs)"});
    o.push_back({"show", T::kInt, "5", "how many of the worst layers to name in the notes"});
    return o;
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto settings = ResolveQuantizationSettings(options(), *ctx.settings, kName, /*read_skip=*/false);
    if (!settings.ok()) return settings.status();
    auto prepared = PrepareForQuantization(model, settings->config(), ctx.settings ? ctx.settings->isolation : Isolation::kChildProcess);
    if (!prepared.ok()) return prepared.status();
    LayerSensitivity::Settings request;
    request.config = settings->config();
    request.calibration = CalibrationSettingsFor(settings->config(), *ctx.settings);
    request.samples = options().GetInt("eval-samples");
    request.rank_by = options().GetString("rank-by");
    request.revert = options().GetBool("revert");
    ctx.state->Set(LastSensitivityRequest{request});
    bool cached = ctx.analyses->GetCached<LayerSensitivity>(request) != nullptr;
    auto sens = ctx.analyses->Get<LayerSensitivity>(model, ctx.ForAnalyses(), request);
    if (!sens.ok()) return sens.status();
    const LayerSensitivity& s = **sens;
    PassResult r;
    r.changes = static_cast<int64_t>(prepared->size());  // a converted model, or none
    r.preserved = prepared->empty() ? PreservedAnalyses::All() : PreservedAnalyses::None().Preserve<LayerSensitivity>().Preserve<CalibrationStats>();
    r.notes = *prepared;
    r.details = s.ToJson();
    int measured = static_cast<int>(s.ranking.size());
    r.notes.push_back(absl::StrFormat("%d layers measured (%d not quantizable alone) on %d samples, %d runs, %.1f s%s; "
                                      "ranked by %s, worst first",
                                      measured, static_cast<int>(s.layers.size()) - measured,
                                      static_cast<int>(s.sample_count), static_cast<int>(s.runs), s.seconds,
                                      cached ? " (cached)" : "", s.rank_by));
    for (int k = 0; k < std::min<int>(measured, options().GetInt("show")); ++k) {
      const LayerSensitivityEntry& e = s.layers[s.ranking[k]];
      r.notes.push_back(absl::StrFormat("#%d %s (%s): output SQNR %.1f dB, cosine %.6f; layer cosine %.6f",
                                        k + 1, e.node, e.op_type, e.output.sqnr_db, e.output.cosine,
                                        e.layer.cosine));
    }
    return r;
  }
};

ONNXC_REGISTER_PASS(LayerSensitivityPass);

}  // namespace
}  // namespace onnxc
