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
#include "passes/quantizer.h"
#include "passes/registry.h"
#include "passes/weight_quantizers.h"

namespace onnxc {
namespace {

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read quantization config ", path));
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

template <typename Enum>
absl::StatusOr<Enum> ParseEnum(const std::string& option, const std::string& value,
                               const std::vector<std::pair<std::string, Enum>>& choices) {
  std::string names;
  for (const auto& [name, e] : choices) {
    if (name == value) return e;
    absl::StrAppend(&names, names.empty() ? "" : ", ", name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("quantize: option ", option, "=", value, " is not one of: ", names));
}

// The settings for this run, in order of precedence.
absl::StatusOr<QuantizationSettings> ResolveSettings(const PassOptions& o, const RunSettings& run) {
  QuantizationConfig config;
  auto it = run.extra.find("quantization-config");
  if (it != run.extra.end() && !google::protobuf::TextFormat::ParseFromString(it->second, &config))
    return absl::InvalidArgumentError("the compress config's quantization block is invalid");
  if (!o.GetString("config").empty()) {
    auto text = ReadText(o.GetString("config"));
    if (!text.ok()) return text.status();
    auto parsed = QuantizationSettings::Parse(*text, o.GetString("config"));
    if (!parsed.ok()) return parsed.status();
    config.MergeFrom(parsed->config());
  }
  if (o.Has("scheme")) {
    auto s = ParseEnum<QuantizationConfig::Scheme>(
        "scheme", o.GetString("scheme"),
        {{"w8a8", QuantizationConfig::W8A8}, {"w8a16-act", QuantizationConfig::W8A16_ACT},
         {"w8a16", QuantizationConfig::W8A16}, {"w4a16", QuantizationConfig::W4A16},
         {"dynamic", QuantizationConfig::DYNAMIC}});
    if (!s.ok()) return s.status();
    config.set_scheme(*s);
  }
  if (o.Has("method")) {
    auto m = ParseEnum<CalibrationMethod>(
        "method", o.GetString("method"),
        {{"minmax", MINMAX}, {"moving-average", MOVING_AVERAGE}, {"percentile", PERCENTILE},
         {"entropy", ENTROPY}, {"mse", MSE}, {"ifmr", IFMR}});
    if (!m.ok()) return m.status();
    config.mutable_activation()->set_method(*m);
  }
  if (o.Has("activation-type")) {
    auto t = ParseEnum<QuantType>("activation-type", o.GetString("activation-type"),
                                  {{"uint8", UINT8}, {"int8", INT8}, {"uint16", UINT16}, {"int16", INT16}});
    if (!t.ok()) return t.status();
    config.mutable_activation()->set_type(*t);
  }
  if (config.scheme() == QuantizationConfig::W8A16_ACT && !config.activation().has_type())
    config.mutable_activation()->set_type(UINT16);
  if (o.Has("symmetric-activations")) config.mutable_activation()->set_symmetric(o.GetBool("symmetric-activations"));
  if (o.Has("per-channel")) config.mutable_weight()->set_per_channel(o.GetBool("per-channel"));
  if (o.Has("percentile")) config.mutable_activation()->set_percentile(o.GetFloat("percentile"));
  if (o.Has("samples")) config.set_calibration_samples(static_cast<int32_t>(o.GetInt("samples")));
  for (const std::string& s : o.GetList("skip")) config.add_skip_node(s);
  return QuantizationSettings::FromConfig(std::move(config), "quantize options");
}

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
    return {{"config", T::kString, "", "quantization config file (protobuf text, passes/quantization_config.proto)"},
            {"scheme", T::kString, "w8a8", "w8a8 | w8a16-act (16-bit activations) | w8a16 | w4a16 (weight-only) | dynamic"},
            {"method", T::kString, "minmax", "activation range: minmax | moving-average | percentile | entropy | mse | ifmr"},
            {"activation-type", T::kString, "uint8", "uint8 | int8 | uint16 | int16"},
            {"symmetric-activations", T::kBool, "false", "symmetric activation ranges (zero point 0 / 128)"},
            {"per-channel", T::kBool, "true", "one weight scale per output channel"},
            {"percentile", T::kFloat, "99.999", "percentile kept by method=percentile"},
            {"samples", T::kInt, "0", "calibration samples to use (0: all)"},
            {"skip", T::kList, "", "node names (globs) kept in float"},
            {"record", T::kString, "", "write the per-layer record (protobuf text) here"},
            {"fake-quant", T::kString, "", "also write a fake-quant simulation model here"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto settings = ResolveSettings(options(), *ctx.settings);
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
    RunSettings run = *ctx.settings;
    if (config.calibration_samples() > 0) run.extra["calib-samples"] = absl::StrCat(config.calibration_samples());
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
