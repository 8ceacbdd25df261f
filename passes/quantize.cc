// quantize: post-training quantization into QDQ form (see quantizer.h),
// calibrated on --calib-data (the calibration-stats analysis, cached).
//
//   quantize{method=entropy,activation-type=uint8,per-channel=true}
//
// Settings come from (later wins): the defaults, the `quantization` block of
// the compress config, the file in config=..., then these options.
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "ir/export.h"
#include "passes/pass_utils.h"
#include "passes/quant_params.h"
#include "passes/quantize_common.h"
#include "passes/quantizer.h"
#include "passes/registry.h"
#include "passes/weight_quantizers.h"

namespace onnxc {
namespace {

// Fake-quant simulation model: quantized weights folded back to float
// (DequantizeLinear of constants computed), activation Q/DQ pairs kept.
void FoldConstantDequantize(Model& model) {
  Graph& g = model.graph();
  for (Node* n : g.NodeSnapshot()) {
    if (!n->IsOp("DequantizeLinear")) continue;
    std::optional<Tensor> x = GetConstant(model, n->input(0)), s = GetConstant(model, n->input(1));
    std::optional<Tensor> z = n->input(2) ? GetConstant(model, n->input(2)) : std::nullopt;
    if (!x || !s || (n->input(2) && !z)) continue;
    QuantizedWeight q;
    q.data = *x;
    q.axis = s->num_elements() > 1 ? static_cast<int>(n->GetInt("axis", 1)) : -1;
    if (q.axis < 0 && s->num_elements() > 1) q.axis += static_cast<int>(x->rank());
    for (int64_t i = 0; i < s->num_elements(); ++i) {
      q.scales.push_back(static_cast<float>(s->ScalarAt(i)));
      q.zero_points.push_back(z ? static_cast<int32_t>(z->ScalarAt(i)) : 0);
    }
    Value* f = AddConstant(model, g, n->output(0)->name() + "_fake_quant", Dequantize(q));
    if (BypassNode(g, n, f)) continue;
  }
  std::vector<Value*> dead;
  for (Value* v : g.initializers())
    if (!v->IsUsed() && !v->is_graph_input()) dead.push_back(v);
  for (Value* v : dead) g.RemoveInitializer(v);
}

class Quantize : public Pass {
 public:
  static constexpr char kName[] = "quantize";
  static constexpr char kDescription[] =
      "post-training quantization into QDQ form, calibrated on --calib-data (W8A8 by default)";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    std::vector<OptionSpec> o = QuantizationSettingOptions();
    o.push_back({"skip", T::kList, "", "node names (globs) kept in float"});
    o.push_back({"record", T::kString, "", "write the per-layer record (protobuf text) here"});
    o.push_back({"fake-quant", T::kString, "", "also write a fake-quant simulation model here"});
    return o;
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto settings = ResolveQuantizationSettings(options(), *ctx.settings);
    if (!settings.ok()) return settings.status();
    const QuantizationConfig& config = settings->config();
    QuantizeOptions qo;
    if (auto* keep = ctx.analyses->GetCached<KeepFloatDecisions>()) qo.keep_float = keep->nodes;
    const bool weight_only = config.scheme() == QuantizationConfig::W8A16 || config.scheme() == QuantizationConfig::W4A16;
    if (weight_only || config.scheme() == QuantizationConfig::DYNAMIC) {
      // No calibration: weights only, or activations quantized at run time.
      auto report = weight_only ? QuantizeWeightOnly(model, *settings, qo) : QuantizeDynamic(model, *settings, qo);
      if (!report.ok()) return report.status();
      return Finish(model, ctx, config, *report, "none (" + QuantizationConfig::Scheme_Name(config.scheme()) + ")");
    }
    RunSettings run = CalibrationRunSettings(config, *ctx.settings);
    PassContext calib_ctx{ctx.analyses, &run};
    auto stats = ctx.analyses->Get<CalibrationStats>(model, calib_ctx);
    if (!stats.ok()) return stats.status();

    qo.stats = *stats;
    auto report = QuantizeModel(model, *settings, qo);
    if (!report.ok()) return report.status();
    return Finish(model, ctx, config, *report,
                  absl::StrCat((*stats)->source, ", activation method ",
                               CalibrationMethod_Name(config.activation().method())));
  }

 private:
  // Report, record file and fake-quant model, for every scheme.
  absl::StatusOr<PassResult> Finish(Model& model, PassContext& ctx, const QuantizationConfig& config,
                                    QuantizeReport& qr, const std::string& calibration) {
    QuantizeReport* report = &qr;
    report->record.set_model(model.path());
    report->record.set_scheme(QuantizationConfig::Scheme_Name(config.scheme()));
    report->record.set_calibration(calibration);

    PassResult r;
    r.changes = report->quantized_nodes + report->folded_activations;
    r.notes = report->notes;
    for (const auto& s : report->record.skipped()) r.notes.push_back(absl::StrCat("kept in float: ", s));
    r.details = {{"quantized_nodes", report->quantized_nodes},
                 {"qdq_pairs", report->qdq_pairs},
                 {"folded_activations", report->folded_activations},
                 {"kept_float", std::vector<std::string>(report->record.skipped().begin(), report->record.skipped().end())},
                 {"calibration", report->record.calibration()}};
    std::string record_path = options().GetString("record");
    if (record_path.empty() && ctx.settings->extra.count("quant-record")) record_path = ctx.settings->extra.at("quant-record");
    if (!record_path.empty()) {
      std::string text;
      google::protobuf::TextFormat::PrintToString(report->record, &text);
      std::ofstream f(record_path);
      if (!(f << text)) return absl::InternalError(absl::StrCat("cannot write record ", record_path));
      r.details["record"] = record_path;
    }
    std::string fake = options().GetString("fake-quant");
    if (fake.empty() && ctx.settings->extra.count("fake-quant")) fake = ctx.settings->extra.at("fake-quant");
    if (!fake.empty()) {
      auto sim = model.Clone();
      FoldConstantDequantize(*sim);
      absl::Status s = SaveModel(*sim, fake);
      if (!s.ok()) return s;
      r.details["fake_quant_model"] = fake;
    }
    return r;
  }
};

ONNXC_REGISTER_PASS(Quantize);

}  // namespace
}  // namespace onnxc
