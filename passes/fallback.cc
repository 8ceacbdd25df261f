// fallback: decides which nodes `quantize` keeps in float. It changes
// nothing in the model; it puts a KeepFloatDecisions (node, reason) into the
// analysis cache, which `quantize` reads. Three rules, combined:
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
// Target mode searches k, the number of most sensitive layers kept in float
// (on top of rules a and b), over the sensitivity ranking:
//   search=binary (default, as AMCT): evaluate k=k0; if it misses, evaluate
//     k=kmax; then bisect. About 2 + log2(L) evaluations. It ASSUMES the
//     metric improves monotonically with k (each extra float layer removes
//     noise). When that does not hold the answer still meets the target (only
//     evaluated, passing k are kept as the upper bound), but it may not be the
//     smallest such k.
//   search=linear: k = k0, k0+1, ... until met: up to L evaluations, the
//     smallest k along the ranking, no monotonicity assumption.
// NNCF re-ranks the remaining layers after each revert (L evaluations per
// step, O(L^2) overall); we rank once, because the single-layer ranking is
// already measured at the model's outputs and re-ranking costs a full
// sensitivity analysis per step.
//
// If no k up to max-float meets the target, the best configuration found is
// kept (the one quantize will use) and the notes say so loudly.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "analysis/layer_sensitivity.h"
#include "ir/export.h"
#include "passes/pass_utils.h"
#include "passes/quantize_common.h"
#include "passes/quantizer.h"
#include "passes/registry.h"

namespace onnxc {

namespace {

namespace fs = std::filesystem;

std::string ShellQuote(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "'\\''"}}) + "'";
}

// Runs `cmd` with {model} replaced; returns the number on its last non-empty
// output line (the last number on that line).
absl::StatusOr<double> RunEvalCommand(const std::string& cmd, const std::string& model_path, std::string* tail) {
  std::string full = absl::StrReplaceAll(cmd, {{"{model}", ShellQuote(model_path)}});
  if (full == cmd) full = absl::StrCat(cmd, " ", ShellQuote(model_path));
  FILE* p = ::popen(absl::StrCat(full, " 2>&1").c_str(), "r");
  if (p == nullptr) return absl::InternalError(absl::StrCat("cannot run eval-cmd: ", full));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipWhitespace());
  *tail = lines.empty() ? "" : lines.back();
  if (rc != 0)
    return absl::InvalidArgumentError(absl::StrCat("eval-cmd failed (exit status ", rc, "): ", full, "\n", out));
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat("eval-cmd printed nothing: ", full));
  std::vector<std::string> words = absl::StrSplit(lines.back(), absl::ByAnyChar(" \t,=:"), absl::SkipWhitespace());
  for (auto it = words.rbegin(); it != words.rend(); ++it) {
    double v;
    if (absl::SimpleAtod(*it, &v)) return v;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("eval-cmd's last line has no number: '", lines.back(), "' (command: ", full, ")"));
}

struct Step {
  int k = 0;
  double metric = 0;
  bool met = false;
  ErrorMetrics outputs;  // vs float (always measured, cheap)
  std::string added;     // the layer this k adds over k-1 (for people)
};

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
    o.push_back({"max-float", T::kInt, "-1", "at most this many ranked layers float in target mode (-1: all)"});
    o.push_back({"eval-samples", T::kInt, "16", "samples for layer-sensitivity if it is not cached yet"});
    o.push_back({"rank-by", T::kString, "output-sqnr", "ranking for layer-sensitivity if it is not cached yet (output-sqnr | revert-sqnr | ...)"});
    return o;
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    const PassOptions& o = options();
    auto settings = ResolveQuantizationSettings(o, *ctx.settings, kName, /*read_skip=*/false);
    if (!settings.ok()) return settings.status();
    PassResult r;
    r.changes = 0;
    r.preserved = PreservedAnalyses::All();

    // Existing decisions (an earlier fallback) are kept.
    std::vector<std::pair<std::string, std::string>> keep;
    std::set<std::string> kept;
    if (auto* prev = ctx.analyses->GetCached<KeepFloatDecisions>())
      for (const auto& d : prev->nodes)
        if (kept.insert(d.first).second) keep.push_back(d);
    auto add = [&](const std::string& id, const std::string& why) {
      if (kept.insert(id).second) keep.emplace_back(id, why);
    };

    // (a) Names and op types.
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
          add(id, absl::StrCat("skip ", g));
        }
      for (const auto& [text, re] : regexes)
        if (std::regex_search(n->name(), re) || std::regex_search(id, re)) {
          ++pattern_hits[text];
          add(id, absl::StrCat("skip ", text));
        }
      if (op_types.count(n->op_type())) {
        ++pattern_hits[n->op_type()];
        add(id, absl::StrCat("op type ", n->op_type()));
      }
    }
    for (const std::string& p : o.GetList("skip"))
      if (!pattern_hits.count(p)) r.notes.push_back(absl::StrCat("warning: skip pattern '", p, "' matched no node"));
    for (const std::string& t : op_types)
      if (!pattern_hits.count(t)) r.notes.push_back(absl::StrCat("warning: op type ", t, " matched no node"));
    const size_t manual = keep.size();

    // Target mode.
    int targets = (o.GetFloat("target-cosine") > 0) + (o.GetFloat("target-sqnr") != 0) + o.Has("target-metric");
    if (targets > 1)
      return absl::InvalidArgumentError("fallback: give one of target-cosine, target-sqnr, target-metric");
    std::string eval_cmd = o.GetString("eval-cmd");
    if (eval_cmd.empty() && ctx.settings->extra.count("eval-cmd")) eval_cmd = ctx.settings->extra.at("eval-cmd");
    if (o.Has("target-metric") && eval_cmd.empty())
      return absl::InvalidArgumentError("fallback: target-metric needs eval-cmd='CMD {model}' (or compress --eval-cmd)");
    const std::string search = o.GetString("search");
    if (search != "binary" && search != "linear")
      return absl::InvalidArgumentError(absl::StrCat("fallback: search=", search, " is not one of: binary, linear"));
    const int top_k = static_cast<int>(std::max<int64_t>(0, o.GetInt("top-k")));

    nlohmann::json details;
    std::string loud;  // TARGET NOT MET, first in the notes
    if (top_k > 0 || targets > 0) {
      RunSettings srun = SensitivityRunSettings(*ctx.settings, *settings, o.GetInt("eval-samples"),
                                                o.GetString("rank-by"));
      PassContext sctx{ctx.analyses, &srun};
      bool cached = ctx.analyses->GetCached<LayerSensitivity>() != nullptr;
      auto sens_or = ctx.analyses->Get<LayerSensitivity>(model, sctx);
      if (!sens_or.ok()) return sens_or.status();
      const LayerSensitivity& sens = **sens_or;
      details["sensitivity"] = {{"cached", cached}, {"rank_by", sens.rank_by}, {"samples", sens.sample_count}};
      std::vector<std::string> ranked;  // manual ones excluded
      for (const std::string& id : sens.RankedNodes())
        if (!kept.count(id)) ranked.push_back(id);
      auto reason_of = [&](int rank) {
        return absl::StrCat("sensitivity rank ", rank + 1, " (", sens.rank_by, ")");
      };
      auto config_for = [&](int k) {
        std::vector<std::pair<std::string, std::string>> c = keep;
        for (int i = 0; i < k && i < static_cast<int>(ranked.size()); ++i)
          for (const std::string& m : sens.Members(ranked[i])) c.emplace_back(m, reason_of(i));
        return c;
      };

      int chosen = std::min<int>(top_k, ranked.size());
      if (targets > 0) {
        RunSettings crun = CalibrationRunSettings(settings->config(), *ctx.settings);
        PassContext cctx{ctx.analyses, &crun};
        auto stats = ctx.analyses->Get<CalibrationStats>(model, cctx);
        if (!stats.ok()) return stats.status();
        std::string what, kind;
        double target = 0;
        bool lower_better = false;
        if (o.GetFloat("target-cosine") > 0) {
          kind = "output cosine";
          target = o.GetFloat("target-cosine");
        } else if (o.GetFloat("target-sqnr") != 0) {
          kind = "output SQNR (dB)";
          target = o.GetFloat("target-sqnr");
        } else {
          kind = "eval-cmd metric";
          target = o.GetFloat("target-metric");
          lower_better = o.GetBool("metric-lower-is-better");
        }
        auto met = [&](double m) { return lower_better ? m <= target : m >= target; };
        std::string tmpdir;
        if (kind == "eval-cmd metric") {
          tmpdir = fs::temp_directory_path() / "onnxc-fallback-XXXXXX";
          if (::mkdtemp(tmpdir.data()) == nullptr) return absl::InternalError("cannot create a temporary folder");
        }
        std::map<int, Step> steps;
        std::vector<int> order;  // evaluation order
        const auto t0 = std::chrono::steady_clock::now();
        auto evaluate = [&](int k) -> absl::StatusOr<Step> {
          auto it = steps.find(k);
          if (it != steps.end()) return it->second;
          auto q = QuantizeClone(model, *settings, **stats, config_for(k));
          if (!q.ok()) return q.status();
          Step s;
          s.k = k;
          if (k > 0 && k <= static_cast<int>(ranked.size())) s.added = ranked[k - 1];
          auto cmp = CompareOutputs(**q, sens, ctx.settings->threads);
          if (!cmp.ok()) return cmp.status();
          s.outputs = *cmp;
          if (kind == "output cosine") {
            s.metric = cmp->cosine;
          } else if (kind == "output SQNR (dB)") {
            s.metric = std::isfinite(cmp->sqnr_db) ? cmp->sqnr_db : 1e9;
          } else {
            std::string path = absl::StrCat(tmpdir, "/candidate_k", k, ".onnx");
            absl::Status saved = SaveModel(**q, path);
            if (!saved.ok()) return saved;
            std::string tail;
            auto m = RunEvalCommand(eval_cmd, path, &tail);
            std::error_code ec;
            fs::remove(path, ec);
            fs::remove(path + ".data", ec);
            if (!m.ok()) return m.status();
            s.metric = *m;
          }
          s.met = met(s.metric);
          if (ctx.settings->progress)
            std::fprintf(stderr, "fallback: k=%d float: %s %.6g %s target %.6g\n", k, kind.c_str(), s.metric,
                         s.met ? "meets" : "misses", target);
          steps[k] = s;
          order.push_back(k);
          return s;
        };

        int kmin = chosen;
        int kmax = static_cast<int>(ranked.size());
        if (o.GetInt("max-float") >= 0) kmax = std::min<int>(kmax, o.GetInt("max-float"));
        kmax = std::max(kmax, kmin);
        std::optional<double> float_metric;
        if (kind == "eval-cmd metric") {
          std::string path = absl::StrCat(tmpdir, "/float.onnx"), tail;
          absl::Status saved = SaveModel(model, path);
          if (!saved.ok()) return saved;
          auto m = RunEvalCommand(eval_cmd, path, &tail);
          std::error_code ec;
          fs::remove(path, ec);
          if (!m.ok()) return m.status();
          float_metric = *m;
        }
        int answer = -1;
        auto s0 = evaluate(kmin);
        if (!s0.ok()) return s0.status();
        if (s0->met) {
          answer = kmin;
        } else if (search == "linear") {
          for (int k = kmin + 1; k <= kmax && answer < 0; ++k) {
            auto s = evaluate(k);
            if (!s.ok()) return s.status();
            if (s->met) answer = k;
          }
        } else if (kmax > kmin) {
          auto sm = evaluate(kmax);
          if (!sm.ok()) return sm.status();
          if (sm->met) {
            int lo = kmin, hi = kmax;  // lo misses, hi meets
            while (hi - lo > 1) {
              int mid = lo + (hi - lo) / 2;
              auto s = evaluate(mid);
              if (!s.ok()) return s.status();
              (s->met ? hi : lo) = mid;
            }
            answer = hi;
          }
        }
        if (!tmpdir.empty()) {
          std::error_code ec;
          fs::remove_all(tmpdir, ec);
        }
        bool target_met = answer >= 0;
        if (!target_met) {
          // The best configuration found; ties go to fewer float layers.
          answer = order.front();
          for (int k : order) {
            double a = steps[k].metric, b = steps[answer].metric;
            if ((lower_better ? a < b : a > b) || (a == b && k < answer)) answer = k;
          }
        }
        chosen = answer;
        nlohmann::json js = nlohmann::json::array();
        for (int k : order) {
          const Step& s = steps[k];
          nlohmann::json j = {{"k", s.k}, {"metric", s.metric}, {"met", s.met}, {"outputs", s.outputs.ToJson()}};
          if (!s.added.empty()) j["adds"] = s.added;
          js.push_back(j);
        }
        details["search"] = {{"mode", search}, {"metric", kind}, {"target", target},
                             {"lower_is_better", lower_better}, {"k_min", kmin}, {"k_max", kmax},
                             {"layers_ranked", ranked.size()}, {"evaluations", order.size()}, {"steps", js},
                             {"chosen_k", chosen}, {"met", target_met},
                             {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
        if (float_metric) details["search"]["float_metric"] = *float_metric;
        const Step& c = steps[chosen];
        r.notes.push_back(absl::StrFormat(
            "target %s %s %.6g: %d evaluations (%s search), k=%d of %d ranked layers kept float -> %.6g%s",
            kind, lower_better ? "<=" : ">=", target, static_cast<int>(order.size()), search, chosen,
            static_cast<int>(ranked.size()), c.metric, float_metric ? absl::StrFormat(" (float model: %.6g)", *float_metric) : ""));
        for (int k : order)
          r.notes.push_back(absl::StrFormat("  step k=%d: %.6g %s", k, steps[k].metric, steps[k].met ? "met" : "missed"));
        if (!target_met) {
          std::string msg = absl::StrFormat(
              "TARGET NOT MET: %s %s %.6g was not reached with up to %d layers in float (max-float=%d); keeping the "
              "best configuration found, k=%d (%.6g), which quantize will use",
              kind, lower_better ? "<=" : ">=", target, kmax, static_cast<int>(o.GetInt("max-float")), chosen,
              c.metric);
          loud = msg;
          std::fprintf(stderr, "WARNING: fallback: %s\n", msg.c_str());
        }
      }
      for (int i = 0; i < chosen; ++i)
        for (const std::string& m : sens.Members(ranked[i]))
          add(m, reason_of(i) + (targets ? ", target search" : ", top-k"));
    }

    nlohmann::json kf = nlohmann::json::array();
    for (const auto& [id, why] : keep) kf.push_back({{"node", id}, {"reason", why}});
    details["kept_float"] = kf;
    details["manual"] = manual;
    r.notes.insert(r.notes.begin(), absl::StrCat(keep.size(), " nodes kept float (", manual, " by name/op type, ",
                                                 keep.size() - manual, " by sensitivity)"));
    for (const auto& [id, why] : keep) r.notes.push_back(absl::StrCat("keep float: ", id, " (", why, ")"));
    if (!loud.empty()) r.notes.insert(r.notes.begin(), loud);
    r.details = std::move(details);

    auto decisions = std::make_unique<KeepFloatDecisions>();
    decisions->nodes = keep;
    ctx.analyses->Put<KeepFloatDecisions>(std::move(decisions));
    return r;
  }
};

ONNXC_REGISTER_PASS(Fallback);

}  // namespace
}  // namespace onnxc
