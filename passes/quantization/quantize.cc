// quantize: post-training quantization into QDQ form (see quantizer.h),
// calibrated on --calib-data (the calibration-stats analysis, cached).
//
//   quantize{method=entropy,activation-type=uint8,per-channel=true}
//
// Settings come from (later wins): the defaults, the `quantization` block of
// the compress config, the file in config=..., then these options.
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/text_format.h"
#include "analysis/calibration/calibration_data.h"
#include "ir/atomic_file.h"
#include "ir/export.h"
#include "passes/pass/registry.h"
#include "analysis/layer_statistics/layer_statistics.h"
#include "passes/quantization/adaround.h"
#include "passes/quantization/bias_correction.h"
#include "passes/quantization/amct_record.h"
#include "passes/quantization/deployment_target.h"
#include "passes/quantization/fake_quant.h"
#include "passes/quantization/model_preparation.h"
#include "passes/quantization/quantization_options.h"
#include "passes/quantization/quantization_run_settings.h"
#include "passes/quantization/quantizer.h"
#include "passes/quantization/range_method_choice.h"
#include "passes/quantization/search_n.h"
#include "passes/quantization/speed_estimate.h"
#include "passes/quantization/target_emulation.h"
#include "passes/quantization/weight_quantizers.h"

namespace onnxc {
namespace {

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
    if (config.already_quantized() == QuantizationConfig::KEEP) {
      // Its quantizer chose what stays float (ORT's dynamic scheme keeps
      // attention products and residual sums float on purpose).
      const std::string quantized = DescribeQuantizedOps(model);
      if (!quantized.empty()) {
        PassResult r;
        r.notes.push_back(absl::StrCat("the model is quantized already (", quantized,
                                       "): left as it is; already-quantized=extend quantizes its float ops too"));
        r.details = {{"already_quantized", quantized}};
        return r;
      }
    }
    auto prepared = PrepareForQuantization(model, config, ctx.settings ? ctx.settings->isolation : Isolation::kChildProcess);
    if (!prepared.ok()) return prepared.status();
    QuantizeOptions qo;
    if (auto* keep = ctx.state->Find<KeepFloatDecisions>()) {
      qo.keep_float = keep->nodes;
      qo.wide_activations = keep->wide_activations;
    }
    const bool weight_only = config.scheme() == QuantizationConfig::W8A16 || config.scheme() == QuantizationConfig::W4A16;
    // Weight-only and dynamic schemes have no calibrated activations to widen.
    if (!qo.wide_activations.empty() && (weight_only || config.scheme() == QuantizationConfig::DYNAMIC))
      return absl::InvalidArgumentError(absl::StrCat(
          "quantize: fallback{precision=a16} gave ", qo.wide_activations.size(),
          " nodes 16-bit activations, but scheme=",
          absl::AsciiStrToLower(QuantizationConfig::Scheme_Name(config.scheme())),
          " has no calibrated activations; use scheme=w8a8 or fallback's default precision=float"));
    const LayerStatistics* grams = nullptr;  // owned by the analysis manager
    LayerGramLookup layer_gram;
    // Every weight method but RTN fits the weights to calibration inputs.
    const std::string weight_method = QuantizationConfig::WeightMethod_Name(config.weight_method());
    if (config.weight_method() != QuantizationConfig::RTN &&
        (ctx.settings->calibration.data.empty() || ctx.settings->calibration.data == "random"))
      return absl::InvalidArgumentError(absl::StrCat("quantize: weight-method=", absl::AsciiStrToLower(weight_method),
                                                     " needs calibration data (--calib-data)"));
    if (weight_only && config.weight_method() != QuantizationConfig::RTN) {
      // GPTQ, AWQ: the Gram matrices of every MatMul/Gemm's calibration inputs, in one streaming pass.
      const CalibrationSettings calibration = CalibrationSettingsFor(config, *ctx.settings);
      LayerStatistics::Settings ls;
      ls.calibration = calibration;
      for (LinearLayerCandidate& c : FindLinearLayers(model))
        if (c.layer.ok() && (c.layer->kind == LinearLayer::Kind::kGemm || c.layer->kind == LinearLayer::Kind::kMatMul))
          ls.layers.push_back(c.layer->name());
      auto computed = ctx.analyses->Get<LayerStatistics>(model, ctx.ForAnalyses(), ls);
      if (!computed.ok()) return computed.status();
      grams = *computed;
      layer_gram = [grams](const Node* n) -> const LayerGram* {
        std::string name = !n->name().empty() ? n->name() : n->output(0)->name();
        auto it = grams->layers.find(name);
        return it == grams->layers.end() ? nullptr : &it->second;
      };
      prepared->push_back(absl::StrCat(weight_method, ": input Gram matrices of ", grams->layers.size(),
                                       " MatMul/Gemm layers from ", grams->samples, " calibration samples"));
    }
    if (weight_only || config.scheme() == QuantizationConfig::DYNAMIC) {
      // No calibration: weights only, or activations quantized at run time.
      auto report =
          weight_only ? QuantizeWeightOnly(model, *settings, qo, layer_gram) : QuantizeDynamic(model, *settings, qo);
      if (!report.ok()) return report.status();
      report->notes.insert(report->notes.end(), prepared->begin(), prepared->end());
      return Finish(model, ctx, config, *report, "none (" + QuantizationConfig::Scheme_Name(config.scheme()) + ")");
    }
    auto stats = ctx.analyses->Get<CalibrationStats>(model, ctx.ForAnalyses(),
                                                     CalibrationSettingsFor(config, *ctx.settings));
    if (!stats.ok()) return stats.status();

    qo.stats = *stats;
    std::optional<RangeMethodChoice> method_choice;
    if (config.activation().method() == AUTO) {
      auto chosen = ChooseRangeMethod(model, *settings, qo, CalibrationSettingsFor(config, *ctx.settings),
                                      ctx.ForAnalyses().executor, ctx.settings->reporter);
      if (!chosen.ok()) return chosen.status();
      QuantizationConfig c = config;
      c.mutable_activation()->set_method(chosen->method);
      auto s = QuantizationSettings::FromConfig(std::move(c), "method=auto");
      if (!s.ok()) return s.status();
      *settings = *std::move(s);  // `config` refers into it: now the chosen method
      method_choice = *std::move(chosen);
    }
    auto target = FindDeploymentTarget(config.target());
    if (!target.ok()) return target.status();
    // SearchN needs the float layer outputs: a copy of the model before the
    // rewrite (copy-on-write: weights are not copied).
    const bool adaround = config.weight_method() == QuantizationConfig::ADAROUND;
    std::unique_ptr<Model> float_model =
        (*target)->amct_record || config.bias_correction() || adaround ? model.Clone() : nullptr;
    absl::StatusOr<QuantizeReport> report;
    std::string guard_note;
    if ((*target)->speed_guard && !config.has_keep_depthwise_float() && HasDepthwiseConv(model)) {
      report = QuantizeWithSpeedGuard(model, *settings, qo, **target, ctx, &guard_note);
    } else {
      report = QuantizeModel(model, *settings, qo);
    }
    if (!report.ok()) return report.status();
    if (!guard_note.empty()) report->notes.push_back(guard_note);
    if (method_choice) report->notes.push_back(method_choice->Note());
    report->notes.insert(report->notes.end(), prepared->begin(), prepared->end());
    std::set<std::string> rerounded;  // their biases are refit already
    if (adaround) {
      CalibrationSettings calibration = CalibrationSettingsFor(config, *ctx.settings);
      if (config.reconstruction_samples() > 0 &&
          (calibration.samples <= 0 || calibration.samples > config.reconstruction_samples()))
        calibration.samples = config.reconstruction_samples();
      auto ar = AdaRoundWeights(*float_model, model, calibration, ctx.ForAnalyses());
      if (!ar.ok()) return ar.status();
      report->notes.insert(report->notes.end(), ar->notes.begin(), ar->notes.end());
      for (const AdaRoundLayer& l : ar->layers)
        if (!l.kept_nearest) rerounded.insert(l.node);
    }
    if (config.bias_correction()) {
      auto bc = CorrectBiases(*float_model, model, CalibrationSettingsFor(config, *ctx.settings),
                              ctx.ForAnalyses().executor, ctx.settings->reporter, 2.0, rerounded);
      if (!bc.ok()) return bc.status();
      report->notes.insert(report->notes.end(), bc->notes.begin(), bc->notes.end());
    }
    if ((*target)->amct_record) {
      absl::Status s = AddShiftBits(*float_model, ctx, CalibrationSettingsFor(config, *ctx.settings), &report->record);
      if (!s.ok()) return s;
      report->notes.push_back("SearchN: shift_bit per output channel in the record");
    }
    auto done = Finish(model, ctx, config, *report,
                       absl::StrCat((*stats)->source, ", activation method ",
                                    CalibrationMethod_Name(config.activation().method())));
    if (done.ok() && method_choice) done->details["range_method_auto"] = method_choice->ToJson();
    return done;
  }

 private:
  // The speed guard (target x86-avx2): ONNX Runtime without VNNI runs
  // depthwise convolutions slower in int8 than in float, but keeping them
  // float adds a DequantizeLinear and a QuantizeLinear around each. Both
  // ways are quantized (on copy-on-write clones) and the one the speed
  // estimate (speed_estimate.h) finds faster on the first calibration sample
  // is kept.
  absl::StatusOr<QuantizeReport> QuantizeWithSpeedGuard(Model& model, const QuantizationSettings& settings,
                                                       const QuantizeOptions& qo, const DeploymentTarget& target,
                                                       PassContext& ctx, std::string* note) {
    auto data = CalibrationData::Open(model, ctx.settings->calibration.data, 1);
    if (!data.ok()) return data.status();
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!*sample) return QuantizeModel(model, settings, qo);
    const ExecutorOptions eo = ctx.ForAnalyses().executor;
    auto float_work = ProfileWork(model, (*sample)->inputs, eo);
    if (!float_work.ok()) return float_work.status();
    struct Way {
      bool keep_depthwise_float;
      std::unique_ptr<Model> model;
      QuantizeReport report;
      SpeedEstimate speed;
    };
    std::vector<Way> ways;
    for (bool keep : {false, true}) {
      QuantizationConfig c = settings.config();
      c.set_keep_depthwise_float(keep);
      auto s = QuantizationSettings::FromConfig(std::move(c), "speed guard");
      if (!s.ok()) return s.status();
      Way w{keep, model.Clone(), {}, {}};
      auto r = QuantizeModel(*w.model, *s, qo);
      if (!r.ok()) return r.status();
      w.report = *std::move(r);
      auto emulated = EmulateTarget(*w.model, target, eo);
      if (!emulated.ok()) return emulated.status();
      auto work = ProfileWork(*emulated->model, (*sample)->inputs, emulated->executor);
      if (!work.ok()) return work.status();
      w.speed = EstimateSpeed(*float_work, *work, OrtX86NoVnniCosts());
      ways.push_back(std::move(w));
    }
    Way& best = ways[1].speed.speedup() > ways[0].speed.speedup() ? ways[1] : ways[0];
    *note = absl::StrFormat(
        "speed guard: depthwise convs %s (estimated int8 vs float on %s: %.2fx with them int8, %.2fx with them "
        "float)",
        best.keep_depthwise_float ? "kept float" : "quantized", best.speed.cpu, ways[0].speed.speedup(),
        ways[1].speed.speedup());
    model.Swap(*best.model);
    return std::move(best.report);
  }

  // SearchN's shift_bit for every quantized Conv/ConvTranspose/Gemm/MatMul.
  absl::Status AddShiftBits(const Model& float_model, const PassContext& ctx, const CalibrationSettings& calibration,
                            QuantizationRecord* record) {
    std::map<std::string, const Node*> node_of;
    for (const auto& [n, id] : StableNodeIds(float_model.graph())) node_of[id] = n;
    std::vector<SearchNLayer> layers;
    std::vector<QuantizationRecord::Layer*> targets;
    for (QuantizationRecord::Layer& l : *record->mutable_layer()) {
      const std::string& op = l.op_type();
      if ((op != "Conv" && op != "ConvTranspose" && op != "Gemm" && op != "MatMul") || !l.has_weight() ||
          l.input_size() == 0 || !node_of.count(l.node()) || node_of[l.node()]->output(0) == nullptr)
        continue;
      SearchNLayer s;
      s.output = node_of[l.node()]->output(0)->name();
      s.channel_axis = op == "Conv" || op == "ConvTranspose" ? 1 : -1;
      s.scale_d = l.input(0).scale(0);
      s.scale_w.assign(l.weight().scale().begin(), l.weight().scale().end());
      layers.push_back(std::move(s));
      targets.push_back(&l);
    }
    auto bits = SearchShiftBits(float_model, layers, calibration, ctx.ForAnalyses().executor,
                                ctx.settings->reporter);
    if (!bits.ok()) return bits.status();
    for (size_t i = 0; i < layers.size(); ++i)
      for (int b : (*bits)[layers[i].output]) targets[i]->add_shift_bit(b);
    return absl::OkStatus();
  }

  // Report, record file and fake-quant model, for every scheme.
  absl::StatusOr<PassResult> Finish(Model& model, PassContext& ctx, const QuantizationConfig& config,
                                    QuantizeReport& qr, const std::string& calibration) {
    QuantizeReport* report = &qr;
    report->record.set_model(model.path());
    report->record.set_scheme(QuantizationConfig::Scheme_Name(config.scheme()));
    report->record.set_calibration(calibration);
    report->record.set_target(config.target());

    PassResult r;
    r.changes = report->quantized_nodes + report->folded_activations;
    r.notes = report->notes;
    // Branches that never ran during calibration would list every node:
    // the first few are named, the rest counted.
    int64_t unrun = 0;
    for (const auto& s : report->record.skipped()) {
      if (absl::StrContains(s, kNoStatistics) && ++unrun > 3) continue;
      r.notes.push_back(absl::StrCat("kept in float: ", s));
    }
    if (unrun > 3)
      r.notes.push_back(absl::StrCat("kept in float: ", unrun - 3, " more nodes with ", kNoStatistics,
                                     " (If branches that did not run during calibration)"));
    r.details = {{"quantized_nodes", report->quantized_nodes},
                 {"qdq_pairs", report->qdq_pairs},
                 {"folded_activations", report->folded_activations},
                 {"kept_float", std::vector<std::string>(report->record.skipped().begin(), report->record.skipped().end())},
                 {"calibration", report->record.calibration()},
                 {"target", config.target()}};
    const QuantizationRunSettings family = ctx.settings->families.GetOrDefault<QuantizationRunSettings>();
    std::string record_path = options().GetString("record");
    if (record_path.empty()) record_path = family.record_path;
    if (!record_path.empty()) {
      std::string text;
      google::protobuf::TextFormat::PrintToString(report->record, &text);
      absl::Status written = WriteFileAtomically(record_path, text);
      if (!written.ok()) return written;
      auto target = FindDeploymentTarget(config.target());
      if (target.ok() && (*target)->amct_record) {
        std::string amct = AmctRecordPath(record_path);
        written = WriteFileAtomically(amct, AmctRecordText(report->record));
        if (!written.ok()) return written;
        r.details["amct_record"] = amct;
      }
      r.details["record"] = record_path;
    }
    std::string fake = options().GetString("fake-quant");
    if (fake.empty()) fake = family.fake_quant_path;
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
