// fallback: decides which nodes `quantize` keeps in float. It changes
// nothing in the model; it leaves a KeepFloatDecisions (node, reason) in the
// run's state, which `quantize` reads. Three rules, combined:
//
//   (a) manual:  skip=[conv1*,re:^/layer4/.*]  names (globs, or re:REGEX
//                searched in the name) and op-types=[Gemm,Add]
//   (b) top-k:   top-k=3  the 3 most sensitive layers (layer-sensitivity
//                ranking, manual ones excluded)
//   (c) target:  target-cosine=0.9999 | target-sqnr=35 (model outputs vs the
//                float model, pooled over the sensitivity samples)
//                | target-metric=0.90 with eval-cmd='python3 eval.py {model}'
//                (the command prints a number as its last line; {model} is a
//                temporary path of the candidate quantized model; higher is
//                better unless metric-lower-is-better=true).
//
// precision=a16 keeps the ranked layers (rules b and c) quantized with their
// weights in 8 bits but their activations in 16 (uint16/int16 Q/DQ): most of
// the accuracy of float for them, the weights' 4x size saving kept. The
// manual rules (a) still keep float.
//
// Target mode searches k, the number of most sensitive layers kept in float
// (on top of rules a and b), over the sensitivity ranking: see
// fallback_search.h. If no k up to max-float meets the target, the best
// configuration found is kept (the one quantize will use) and the notes say
// so loudly.
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "ir/name_match.h"
#include "passes/pass/registry.h"
#include "passes/quantization/model_preparation.h"
#include "passes/quantization/fallback_search.h"
#include "passes/quantization/layer_sensitivity.h"
#include "passes/quantization/quantization_options.h"
#include "passes/quantization/quantization_run_settings.h"
#include "passes/quantization/quantizer.h"

namespace onnxc {
namespace {

// The keep-float list being built: each node once, with the first reason.
class KeepList {
 public:
  void Add(const std::string& id, const std::string& why) {
    if (kept_.insert(id).second) nodes_.emplace_back(id, why);
  }
  bool Contains(const std::string& id) const { return kept_.count(id) > 0; }
  // For the report: [{node, reason}, ...].
  nlohmann::json ToJson() const {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [id, why] : nodes_) j.push_back({{"node", id}, {"reason", why}});
    return j;
  }
  const std::vector<std::pair<std::string, std::string>>& nodes() const { return nodes_; }

 private:
  std::vector<std::pair<std::string, std::string>> nodes_;
  std::set<std::string> kept_;
};

// Rule (a): names (globs or re:REGEX) and op types. Patterns that match
// nothing get a warning note.
absl::Status AddManualRules(const Model& model, const PassOptions& o, KeepList* keep, std::vector<std::string>* notes) {
  std::vector<std::string> globs;
  std::vector<std::pair<std::string, std::regex>> regexes;
  for (const std::string& p : o.GetList("skip")) {
    absl::string_view v = p;
    if (absl::ConsumePrefix(&v, "re:")) {
      try {
        regexes.emplace_back(p, std::regex(std::string(v), std::regex::ECMAScript));
      } catch (const std::regex_error& e) {
        return absl::InvalidArgumentError(absl::StrCat("fallback: skip=", p, ": bad regex: ", e.what()));
      }
    } else {
      globs.push_back(p);
    }
  }
  std::set<std::string> op_types;
  for (const std::string& t : o.GetList("op-types")) op_types.insert(t);
  std::map<std::string, int> pattern_hits;
  for (const auto& [n, id] : StableNodeIds(model.graph())) {
    for (const std::string& g : globs)
      if (MatchesAny(n->name(), {g}) || MatchesAny(id, {g})) {
        ++pattern_hits[g];
        keep->Add(id, absl::StrCat("skip ", g));
      }
    for (const auto& [text, re] : regexes)
      if (std::regex_search(n->name(), re) || std::regex_search(id, re)) {
        ++pattern_hits[text];
        keep->Add(id, absl::StrCat("skip ", text));
      }
    if (op_types.count(n->op_type())) {
      ++pattern_hits[n->op_type()];
      keep->Add(id, absl::StrCat("op type ", n->op_type()));
    }
  }
  for (const std::string& p : o.GetList("skip"))
    if (!pattern_hits.count(p)) notes->push_back(absl::StrCat("warning: skip pattern '", p, "' matched no node"));
  for (const std::string& t : op_types)
    if (!pattern_hits.count(t)) notes->push_back(absl::StrCat("warning: op type ", t, " matched no node"));
  return absl::OkStatus();
}

// The target of rule (c), if one is given.
absl::StatusOr<std::optional<FallbackTarget>> ParseTarget(const PassOptions& o, const RunSettings& run) {
  int targets = (o.GetFloat("target-cosine") > 0) + (o.GetFloat("target-sqnr") != 0) + o.Has("target-metric");
  if (targets > 1) return absl::InvalidArgumentError("fallback: give one of target-cosine, target-sqnr, target-metric");
  FallbackTarget t;
  t.eval_cmd = o.GetString("eval-cmd").empty() ? run.eval_cmd : o.GetString("eval-cmd");
  if (o.Has("target-metric") && t.eval_cmd.empty())
    return absl::InvalidArgumentError("fallback: target-metric needs eval-cmd='CMD {model}' (or compress --eval-cmd)");
  const std::string search = o.GetString("search");
  if (search != "binary" && search != "linear")
    return absl::InvalidArgumentError(absl::StrCat("fallback: search=", search, " is not one of: binary, linear"));
  if (targets == 0) return std::optional<FallbackTarget>();
  if (o.GetFloat("target-cosine") > 0) {
    t.kind = FallbackTarget::Kind::kCosine;
    t.value = o.GetFloat("target-cosine");
  } else if (o.GetFloat("target-sqnr") != 0) {
    t.kind = FallbackTarget::Kind::kSqnr;
    t.value = o.GetFloat("target-sqnr");
  } else {
    t.kind = FallbackTarget::Kind::kMetric;
    t.value = o.GetFloat("target-metric");
    t.lower_is_better = o.GetBool("metric-lower-is-better");
  }
  return std::optional<FallbackTarget>(t);
}

// The sensitivity analysis to rank by: the one a layer-sensitivity pass of
// this run asked for (cached), unless this pass's options say otherwise.
LayerSensitivity::Settings SensitivityRequest(const PassOptions& o, const QuantizationSettings& settings,
                                              const PassContext& ctx) {
  LayerSensitivity::Settings request;
  request.config = settings.config();
  request.calibration = CalibrationSettingsFor(settings.config(), *ctx.settings);
  if (const auto* last = ctx.state->Find<LastSensitivityRequest>();
      last != nullptr && last->settings.config.SerializeAsString() == request.config.SerializeAsString() &&
      last->settings.calibration.CacheKey() == request.calibration.CacheKey()) {
    request = last->settings;
  }
  if (o.Has("eval-samples")) request.samples = o.GetInt("eval-samples");
  if (o.Has("rank-by")) request.rank_by = o.GetString("rank-by");
  return request;
}

class Fallback : public Pass {
 public:
  static constexpr char kName[] = "fallback";
  static constexpr char kDescription[] =
      "chooses nodes quantize keeps in float: by name/op type (skip, op-types), the top-k most sensitive "
      "(layer-sensitivity), or the fewest most-sensitive layers that meet a target (target-cosine, target-sqnr, "
      "or target-metric with eval-cmd); changes nothing itself";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    std::vector<OptionSpec> o = QuantizationSettingOptions();
    o.push_back({"skip", T::kList, "", "node names kept float: globs (conv1*), or re:REGEX searched in the name"});
    o.push_back({"op-types", T::kList, "", "op types kept float (Gemm, Add, ...)"});
    o.push_back({"top-k", T::kInt, "0", "keep the k most sensitive layers float (the minimum in target mode)"});
    o.push_back({"target-cosine", T::kFloat, "0", "target: output cosine vs float >= this (e.g. 0.9999)"});
    o.push_back({"target-sqnr", T::kFloat, "0", "target: output SQNR vs float >= this many dB"});
    o.push_back({"target-metric", T::kFloat, "0", "target for the number eval-cmd prints (e.g. top-1 0.905)"});
    o.push_back({"eval-cmd", T::kString, "",
                 "command printing a metric as its last line; {model} = candidate model path (default: compress "
                 "--eval-cmd)"});
    o.push_back({"metric-lower-is-better", T::kBool, "false", "the eval-cmd metric is a loss, not an accuracy"});
    o.push_back({"search", T::kString, "binary", "binary (AMCT, ~log2(L) evaluations) | linear (k = 0, 1, ...)"});
    o.push_back({"precision", T::kString, "float",
                 "what the ranked layers (top-k, target) fall back to: float | a16 (8-bit weights, 16-bit "
                 "activations)"});
    o.push_back({"max-float", T::kInt, "-1", "at most this many ranked layers float in target mode (-1: all)"});
    o.push_back({"eval-samples", T::kInt, "16",
                 "samples for layer-sensitivity (default: as the layer-sensitivity pass before, else 16)"});
    o.push_back({"rank-by", T::kString, "output-sqnr",
                 "ranking for layer-sensitivity (default: as the layer-sensitivity pass before, else output-sqnr)"});
    return o;
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    const PassOptions& o = options();
    auto settings = ResolveQuantizationSettings(o, *ctx.settings, kName, /*read_skip=*/false);
    if (!settings.ok()) return settings.status();
    auto prepared = PrepareForQuantization(model, settings->config(), ctx.settings ? ctx.settings->isolation : Isolation::kChildProcess);
    if (!prepared.ok()) return prepared.status();
    PassResult r;
    r.changes = static_cast<int64_t>(prepared->size());  // a converted model, or none
    r.preserved = prepared->empty() ? PreservedAnalyses::All() : PreservedAnalyses::None().Preserve<LayerSensitivity>().Preserve<CalibrationStats>();

    const std::string precision = o.GetString("precision");
    if (precision != "float" && precision != "a16")
      return absl::InvalidArgumentError(absl::StrCat("fallback: precision=", precision, " is not one of: float, a16"));
    const bool to_a16 = precision == "a16";
    if (to_a16 && settings->config().scheme() != QuantizationConfig::W8A8)
      return absl::InvalidArgumentError("fallback: precision=a16 applies to scheme=w8a8 (its activations are 8-bit)");
    KeepList keep, wide;  // decisions of an earlier fallback are kept
    if (const auto* prev = ctx.state->Find<KeepFloatDecisions>()) {
      for (const auto& [id, why] : prev->nodes) keep.Add(id, why);
      for (const auto& [id, why] : prev->wide_activations) wide.Add(id, why);
    }
    absl::Status manual_ok = AddManualRules(model, o, &keep, &r.notes);
    if (!manual_ok.ok()) return manual_ok;
    const size_t manual = keep.nodes().size();
    auto target = ParseTarget(o, *ctx.settings);
    if (!target.ok()) return target.status();
    const int top_k = static_cast<int>(std::max<int64_t>(0, o.GetInt("top-k")));

    nlohmann::json details;
    std::string loud;  // TARGET NOT MET, first in the notes
    if (top_k > 0 || target->has_value()) {
      LayerSensitivity::Settings request = SensitivityRequest(o, *settings, ctx);
      bool cached = ctx.analyses->GetCached<LayerSensitivity>(request) != nullptr;
      auto sens_or = ctx.analyses->Get<LayerSensitivity>(model, ctx.ForAnalyses(), request);
      if (!sens_or.ok()) return sens_or.status();
      const LayerSensitivity& sens = **sens_or;
      details["sensitivity"] = {{"cached", cached}, {"rank_by", sens.rank_by}, {"samples", sens.sample_count}};
      std::vector<std::string> ranked;  // manual ones excluded
      for (const std::string& id : sens.RankedNodes())
        if (!keep.Contains(id)) ranked.push_back(id);
      auto reason_of = [&](int rank) { return absl::StrCat("sensitivity rank ", rank + 1, " (", sens.rank_by, ")"); };

      int chosen = std::min<int>(top_k, ranked.size());
      if (target->has_value()) {
        auto stats = ctx.analyses->Get<CalibrationStats>(model, ctx.ForAnalyses(), request.calibration);
        if (!stats.ok()) return stats.status();
        FallbackSearchInputs in;
        in.model = &model;
        in.settings = &*settings;
        in.stats = *stats;
        in.sensitivity = &sens;
        in.ranked = ranked;
        in.config_for = [&](int k) {
          FallbackConfig c{keep.nodes(), wide.nodes()};
          for (int i = 0; i < k && i < static_cast<int>(ranked.size()); ++i)
            for (const std::string& m : sens.Members(ranked[i]))
              (to_a16 ? c.wide_activations : c.keep_float).emplace_back(m, reason_of(i));
          return c;
        };
        in.k_min = chosen;
        in.k_max = static_cast<int>(ranked.size());
        if (o.GetInt("max-float") >= 0) in.k_max = std::min<int>(in.k_max, o.GetInt("max-float"));
        in.binary = o.GetString("search") == "binary";
        in.target = **target;
        in.executor = ctx.ForAnalyses().executor;
        in.reporter = ctx.settings->reporter;
        auto found = SearchFallback(in);
        if (!found.ok()) return found.status();
        chosen = found->chosen;
        details["search"] = FallbackSearchJson(in, *found);
        const FallbackTarget& t = in.target;
        const std::string cmp = t.lower_is_better ? "<=" : ">=";
        const FallbackStep& c = found->steps.at(chosen);
        r.notes.push_back(absl::StrFormat(
            "target %s %s %.6g: %d evaluations (%s search), k=%d of %d ranked layers %s -> %.6g%s",
            t.Describe(), cmp, t.value, static_cast<int>(found->order.size()), o.GetString("search"), chosen,
            static_cast<int>(ranked.size()), to_a16 ? "given 16-bit activations" : "kept float", c.metric,
            found->float_metric ? absl::StrFormat(" (float model: %.6g)", *found->float_metric) : ""));
        for (int k : found->order)
          r.notes.push_back(absl::StrFormat("  step k=%d: %.6g %s", k, found->steps.at(k).metric,
                                            found->steps.at(k).met ? "met" : "missed"));
        if (!found->met) {
          loud = absl::StrFormat(
              "TARGET NOT MET: %s %s %.6g was not reached with up to %d layers %s (max-float=%d); keeping the "
              "best configuration found, k=%d (%.6g), which quantize will use",
              t.Describe(), cmp, t.value, found->k_max, to_a16 ? "given 16-bit activations" : "in float",
              static_cast<int>(o.GetInt("max-float")), chosen, c.metric);
          // Past what 16-bit activations fix, the error is in the int8
          // weights; a float fallback after this one starts from its choice.
          if (to_a16)
            absl::StrAppend(&loud, "; the rest of the error is in the int8 weights: add a fallback with the same "
                                   "target and precision=float after this one to move layers to float");
          ctx.settings->reporter.Note("WARNING: fallback: " + loud);
        }
      }
      for (int i = 0; i < chosen; ++i)
        for (const std::string& m : sens.Members(ranked[i]))
          (to_a16 ? wide : keep).Add(m, reason_of(i) + (target->has_value() ? ", target search" : ", top-k"));
    }

    details["kept_float"] = keep.ToJson();
    details["manual"] = manual;
    details["precision"] = precision;
    details["activations_16_bit"] = wide.ToJson();
    r.notes.insert(r.notes.begin(),
                   to_a16 ? absl::StrCat(keep.nodes().size(), " nodes kept float (by name/op type), ",
                                         wide.nodes().size(), " given 16-bit activations (by sensitivity)")
                          : absl::StrCat(keep.nodes().size(), " nodes kept float (", manual, " by name/op type, ",
                                         keep.nodes().size() - manual, " by sensitivity)"));
    for (const auto& [id, why] : keep.nodes()) r.notes.push_back(absl::StrCat("keep float: ", id, " (", why, ")"));
    for (const auto& [id, why] : wide.nodes())
      r.notes.push_back(absl::StrCat("16-bit activations: ", id, " (", why, ")"));
    r.notes.insert(r.notes.begin(), prepared->begin(), prepared->end());
    if (!loud.empty()) r.notes.insert(r.notes.begin(), loud);
    r.details = std::move(details);
    ctx.state->Set(KeepFloatDecisions{keep.nodes(), wide.nodes()});
    return r;
  }
};

ONNXC_REGISTER_PASS(Fallback);

}  // namespace
}  // namespace onnxc
