#include "passes/quantization/quantization_settings.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "ir/name_match.h"

namespace onnxc {
namespace {

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    absl::StrAppend(&errors, "  line ", line + 1, ", column ", column + 1, ": ", message, "\n");
  }
  std::string errors;
};

absl::Status Bad(const std::string& origin, const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": ", field, " ", why));
}

absl::Status CheckActivation(const ActivationSettings& a, const std::string& origin, const std::string& where) {
  if (a.has_type() && (a.type() == INT4 || a.type() == UINT4))
    return Bad(origin, where + ".type", "cannot be 4-bit for activations (use INT8, UINT8, INT16 or UINT16)");
  if (a.has_percentile() && !(a.percentile() > 0 && a.percentile() <= 100))
    return Bad(origin, where + ".percentile", absl::StrCat("must be in (0, 100], got ", a.percentile()));
  if (a.has_num_quantized_bins() && (a.num_quantized_bins() < 2 || a.num_quantized_bins() > 2048))
    return Bad(origin, where + ".num_quantized_bins", absl::StrCat("must be in [2, 2048], got ", a.num_quantized_bins()));
  return absl::OkStatus();
}

absl::Status CheckWeight(const WeightSettings& w, QuantizationConfig::Scheme scheme, const std::string& origin,
                         const std::string& where) {
  bool four = w.has_type() && (w.type() == INT4 || w.type() == UINT4);
  if (four && scheme != QuantizationConfig::W4A16)
    return Bad(origin, where + ".type", "4-bit weights need scheme W4A16");
  if (w.has_type() && (w.type() == INT16 || w.type() == UINT16))
    return Bad(origin, where + ".type", "16-bit weights are not supported (use INT8)");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<QuantizationSettings> QuantizationSettings::Parse(const std::string& text,
                                                                 const std::string& origin) {
  QuantizationConfig config;
  Collector collector;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(text, &config))
    return absl::InvalidArgumentError(absl::StrCat(origin, " is not a valid quantization config:\n", collector.errors));
  return FromConfig(std::move(config), origin);
}

absl::StatusOr<QuantizationSettings> QuantizationSettings::FromConfig(QuantizationConfig config,
                                                                      const std::string& origin) {
  QuantizationSettings s;
  s.config_ = std::move(config);
  absl::Status v = s.Validate(origin);
  if (!v.ok()) return v;
  return s;
}

absl::Status QuantizationSettings::Validate(const std::string& origin) const {
  const QuantizationConfig& c = config_;
  absl::Status s = CheckActivation(c.activation(), origin, "activation");
  if (s.ok()) s = CheckWeight(c.weight(), c.scheme(), origin, "weight");
  if (!s.ok()) return s;
  if (c.block_size() < 16 || (c.block_size() & (c.block_size() - 1)) != 0)
    return Bad(origin, "block_size", absl::StrCat("must be a power of two >= 16, got ", c.block_size()));
  if (c.calibration_samples() < 0)
    return Bad(origin, "calibration_samples", absl::StrCat("must be >= 0, got ", c.calibration_samples()));
  if (c.reconstruction_samples() < 0)
    return Bad(origin, "reconstruction_samples", absl::StrCat("must be >= 0, got ", c.reconstruction_samples()));
  const bool weight_only = c.scheme() == QuantizationConfig::W4A16 || c.scheme() == QuantizationConfig::W8A16;
  const bool static_scheme = c.scheme() == QuantizationConfig::W8A8 || c.scheme() == QuantizationConfig::W8A16_ACT;
  if ((c.weight_method() == QuantizationConfig::GPTQ || c.weight_method() == QuantizationConfig::AWQ) && !weight_only)
    return Bad(origin, "weight_method",
               absl::StrCat(QuantizationConfig::WeightMethod_Name(c.weight_method()),
                            " applies to the weight-only schemes (w4a16, w8a16); for w8a8 use ADAROUND"));
  if (c.weight_method() == QuantizationConfig::ADAROUND && !static_scheme)
    return Bad(origin, "weight_method", "ADAROUND applies to the calibrated schemes (w8a8, w8a16-act)");
  for (int i = 0; i < c.op_type_override_size(); ++i) {
    const auto& o = c.op_type_override(i);
    std::string where = absl::StrCat("op_type_override[", i, "]");
    if (o.op_type().empty()) return Bad(origin, where + ".op_type", "is required");
    if (!(s = CheckActivation(o.activation(), origin, where + ".activation")).ok()) return s;
    if (!(s = CheckWeight(o.weight(), c.scheme(), origin, where + ".weight")).ok()) return s;
  }
  for (int i = 0; i < c.name_override_size(); ++i) {
    const auto& o = c.name_override(i);
    std::string where = absl::StrCat("name_override[", i, "]");
    if (o.pattern().empty()) return Bad(origin, where + ".pattern", "is required");
    if (!(s = CheckActivation(o.activation(), origin, where + ".activation")).ok()) return s;
    if (!(s = CheckWeight(o.weight(), c.scheme(), origin, where + ".weight")).ok()) return s;
  }
  return absl::OkStatus();
}

NodeSettings QuantizationSettings::For(const Node& node) const {
  NodeSettings s;
  s.weight = config_.weight();
  s.activation = config_.activation();
  for (const auto& t : config_.skip_op_type())
    if (t == node.op_type()) { s.skip = true; s.skip_reason = "skip_op_type"; }
  for (const auto& o : config_.op_type_override()) {
    if (o.op_type() != node.op_type()) continue;
    s.weight.MergeFrom(o.weight());
    s.activation.MergeFrom(o.activation());
    if (o.has_skip()) { s.skip = o.skip(); s.skip_reason = "op_type_override"; }
  }
  if (MatchesAny(node.name(), {config_.skip_node().begin(), config_.skip_node().end()})) {
    s.skip = true;
    s.skip_reason = "skip_node";
  }
  for (const auto& o : config_.name_override()) {
    if (!MatchesAny(node.name(), {o.pattern()})) continue;
    s.weight.MergeFrom(o.weight());
    s.activation.MergeFrom(o.activation());
    if (o.has_skip()) { s.skip = o.skip(); s.skip_reason = "name_override " + o.pattern(); }
  }
  return s;
}

}  // namespace onnxc
