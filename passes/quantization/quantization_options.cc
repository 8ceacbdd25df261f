#include "passes/quantization/quantization_options.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "passes/quantization/deployment_target.h"
#include "passes/quantization/quantization_run_settings.h"

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
absl::StatusOr<Enum> ParseEnum(const std::string& pass, const std::string& option, const std::string& value,
                               const std::vector<std::pair<std::string, Enum>>& choices) {
  std::string names;
  for (const auto& [name, e] : choices) {
    if (name == value) return e;
    absl::StrAppend(&names, names.empty() ? "" : ", ", name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(pass, ": option ", option, "=", value, " is not one of: ", names));
}

}  // namespace

std::vector<OptionSpec> QuantizationSettingOptions() {
  using T = OptionSpec::Type;
  return {{"config", T::kString, "", "quantization config file (protobuf text, passes/quantization_config.proto)"},
          {"scheme", T::kString, "w8a8", "w8a8 | w8a16-act (16-bit activations) | w8a16 | w4a16 (weight-only) | dynamic"},
          {"method", T::kString, "minmax", "activation range: minmax | moving-average | percentile | entropy | mse | ifmr | auto (quantize: the one of "
           "minmax, mse, percentile whose outputs are closest to float's on calibration samples)"},
          {"activation-type", T::kString, "uint8", "uint8 | int8 | uint16 | int16"},
          {"symmetric-activations", T::kBool, "false", "symmetric activation ranges (zero point 0 / 128)"},
          {"per-channel", T::kBool, "true", "one weight scale per output channel"},
          {"percentile", T::kFloat, "99.999", "percentile kept by method=percentile"},
          {"samples", T::kInt, "0", "calibration samples to use (0: all)"},
          {"target", T::kString, "", "deployment target whose choices fill unset settings (default: portable)"},
          {"weight-method", T::kString, "rtn",
           "rtn (round to nearest) | adaround (w8a8: down or up per weight, by layer-wise reconstruction) | gptq, awq "
           "(weight-only schemes: Hessian-compensated rounding, activation-aware scales); all but rtn need --calib-data"},
          {"reconstruction-samples", T::kInt, "64", "calibration samples weight-method=adaround sums its statistics over (0: all)"},
          {"bias-correction", T::kBool, "false",
           "shift each quantized Conv/Gemm bias by its mean output error on calibration data"},
          {"already-quantized", T::kString, "keep",
           "a model that holds quantized ops already: keep (left as it is) | extend (quantize its float ops too)"}};
}

absl::StatusOr<QuantizationSettings> ResolveQuantizationSettings(const PassOptions& o, const RunSettings& run,
                                                                 const std::string& pass, bool read_skip) {
  QuantizationConfig config;
  if (const auto* family = run.families.Find<QuantizationRunSettings>()) config = family->config;
  if (!o.GetString("config").empty()) {
    auto text = ReadText(o.GetString("config"));
    if (!text.ok()) return text.status();
    auto parsed = QuantizationSettings::Parse(*text, o.GetString("config"));
    if (!parsed.ok()) return parsed.status();
    config.MergeFrom(parsed->config());
  }
  if (o.Has("scheme")) {
    auto s = ParseEnum<QuantizationConfig::Scheme>(
        pass, "scheme", o.GetString("scheme"),
        {{"w8a8", QuantizationConfig::W8A8}, {"w8a16-act", QuantizationConfig::W8A16_ACT},
         {"w8a16", QuantizationConfig::W8A16}, {"w4a16", QuantizationConfig::W4A16},
         {"dynamic", QuantizationConfig::DYNAMIC}});
    if (!s.ok()) return s.status();
    config.set_scheme(*s);
  }
  if (o.Has("bias-correction")) config.set_bias_correction(o.GetBool("bias-correction"));
  if (o.Has("weight-method")) {
    auto m = ParseEnum<QuantizationConfig::WeightMethod>(pass, "weight-method", o.GetString("weight-method"),
                                                         {{"rtn", QuantizationConfig::RTN}, {"gptq", QuantizationConfig::GPTQ},
                                                          {"awq", QuantizationConfig::AWQ}, {"adaround", QuantizationConfig::ADAROUND}});
    if (!m.ok()) return m.status();
    config.set_weight_method(*m);
  }
  if (o.Has("reconstruction-samples")) config.set_reconstruction_samples(static_cast<int32_t>(o.GetInt("reconstruction-samples")));
  if (o.Has("method")) {
    auto m = ParseEnum<CalibrationMethod>(
        pass, "method", o.GetString("method"),
        {{"minmax", MINMAX}, {"moving-average", MOVING_AVERAGE}, {"percentile", PERCENTILE},
         {"entropy", ENTROPY}, {"mse", MSE}, {"ifmr", IFMR}, {"auto", AUTO}});
    if (!m.ok()) return m.status();
    config.mutable_activation()->set_method(*m);
  }
  if (o.Has("activation-type")) {
    auto t = ParseEnum<QuantType>(pass, "activation-type", o.GetString("activation-type"),
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
  if (read_skip)
    for (const std::string& s : o.GetList("skip")) config.add_skip_node(s);
  if (o.Has("target")) config.set_target(o.GetString("target"));
  if (o.Has("already-quantized")) {
    auto a = ParseEnum<QuantizationConfig::AlreadyQuantized>(
        pass, "already-quantized", o.GetString("already-quantized"),
        {{"keep", QuantizationConfig::KEEP}, {"extend", QuantizationConfig::EXTEND}});
    if (!a.ok()) return a.status();
    config.set_already_quantized(*a);
  }
  // Other passes quantize copies to measure them; which method auto means is
  // only known once quantize has measured.
  if (config.activation().method() == AUTO && pass != "quantize")
    return absl::InvalidArgumentError(absl::StrCat(
        pass, ": method=auto is chosen by the quantize pass (it measures each method's outputs); give ", pass,
        " an explicit method (minmax, mse, ...)"));
  auto target = FindDeploymentTarget(config.target());
  if (!target.ok()) return absl::InvalidArgumentError(absl::StrCat(pass, ": ", target.status().message()));
  (*target)->Apply(&config);
  config.set_target((*target)->name);
  return QuantizationSettings::FromConfig(std::move(config), absl::StrCat(pass, " options"));
}

CalibrationSettings CalibrationSettingsFor(const QuantizationConfig& config, const RunSettings& run) {
  CalibrationSettings c = run.calibration;
  if (config.calibration_samples() > 0) c.samples = config.calibration_samples();
  return c;
}

}  // namespace onnxc
