#include "passes/quantization/fallback_search.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/eval_command.h"
#include "ir/export.h"

namespace onnxc {
namespace {

class Search {
 public:
  explicit Search(const FallbackSearchInputs& in) : in_(in) {}

  absl::StatusOr<FallbackSearchResult> Run() {
    const auto t0 = std::chrono::steady_clock::now();
    r_.k_min = in_.k_min;
    r_.k_max = std::max(in_.k_max, in_.k_min);
    if (in_.target.kind == FallbackTarget::Kind::kMetric) {
      auto m = EvaluateModel(*in_.model, in_.target.eval_cmd);
      if (!m.ok()) return m.status();
      r_.float_metric = *m;
    }
    int answer = -1;
    auto s0 = Evaluate(r_.k_min);
    if (!s0.ok()) return s0.status();
    if (s0->met) {
      answer = r_.k_min;
    } else if (!in_.binary) {
      for (int k = r_.k_min + 1; k <= r_.k_max && answer < 0; ++k) {
        auto s = Evaluate(k);
        if (!s.ok()) return s.status();
        if (s->met) answer = k;
      }
    } else if (r_.k_max > r_.k_min) {
      auto sm = Evaluate(r_.k_max);
      if (!sm.ok()) return sm.status();
      if (sm->met) {
        int lo = r_.k_min, hi = r_.k_max;  // lo misses, hi meets
        while (hi - lo > 1) {
          int mid = lo + (hi - lo) / 2;
          auto s = Evaluate(mid);
          if (!s.ok()) return s.status();
          (s->met ? hi : lo) = mid;
        }
        answer = hi;
      }
    }
    r_.met = answer >= 0;
    if (!r_.met) answer = BestFound();
    r_.chosen = answer;
    r_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::move(r_);
  }

 private:
  absl::StatusOr<FallbackStep> Evaluate(int k) {
    auto it = r_.steps.find(k);
    if (it != r_.steps.end()) return it->second;
    const FallbackConfig c = in_.config_for(k);
    auto q = QuantizeClone(*in_.model, *in_.settings, *in_.stats, c.keep_float, c.wide_activations);
    if (!q.ok()) return q.status();
    FallbackStep s;
    s.k = k;
    if (k > 0 && k <= static_cast<int>(in_.ranked.size())) s.added = in_.ranked[k - 1];
    auto cmp = CompareOutputs(**q, *in_.sensitivity, in_.executor);
    if (!cmp.ok()) return cmp.status();
    s.outputs = *cmp;
    switch (in_.target.kind) {
      case FallbackTarget::Kind::kCosine:
        s.metric = cmp->cosine;
        break;
      case FallbackTarget::Kind::kSqnr:
        s.metric = std::isfinite(cmp->sqnr_db) ? cmp->sqnr_db : 1e9;
        break;
      case FallbackTarget::Kind::kMetric: {
        auto m = EvaluateModel(**q, in_.target.eval_cmd);
        if (!m.ok()) return m.status();
        s.metric = *m;
        break;
      }
    }
    s.met = in_.target.Met(s.metric);
    in_.reporter.Note(absl::StrFormat("fallback: k=%d ranked layers moved: %s %.6g %s target %.6g", k,
                                      in_.target.Describe(), s.metric, s.met ? "meets" : "misses", in_.target.value));
    r_.steps[k] = s;
    r_.order.push_back(k);
    return s;
  }

  // The best configuration evaluated; ties go to fewer float layers.
  int BestFound() {
    int best = r_.order.front();
    const bool lower = in_.target.lower_is_better;
    for (int k : r_.order) {
      double a = r_.steps[k].metric, b = r_.steps[best].metric;
      if ((lower ? a < b : a > b) || (a == b && k < best)) best = k;
    }
    return best;
  }

  const FallbackSearchInputs& in_;
  FallbackSearchResult r_;
};

}  // namespace

std::string FallbackTarget::Describe() const {
  switch (kind) {
    case Kind::kCosine: return "output cosine";
    case Kind::kSqnr: return "output SQNR (dB)";
    default: return "eval-cmd metric";
  }
}

absl::StatusOr<FallbackSearchResult> SearchFallback(const FallbackSearchInputs& in) { return Search(in).Run(); }

nlohmann::json FallbackSearchJson(const FallbackSearchInputs& in, const FallbackSearchResult& r) {
  nlohmann::json js = nlohmann::json::array();
  for (int k : r.order) {
    const FallbackStep& s = r.steps.at(k);
    nlohmann::json j = {{"k", s.k}, {"metric", s.metric}, {"met", s.met}, {"outputs", s.outputs.ToJson()}};
    if (!s.added.empty()) j["adds"] = s.added;
    js.push_back(j);
  }
  nlohmann::json out = {{"mode", in.binary ? "binary" : "linear"}, {"metric", in.target.Describe()},
                        {"target", in.target.value},          {"lower_is_better", in.target.lower_is_better},
                        {"k_min", r.k_min},                   {"k_max", r.k_max},
                        {"layers_ranked", in.ranked.size()},  {"evaluations", r.order.size()},
                        {"steps", js},                        {"chosen_k", r.chosen},
                        {"met", r.met},                       {"seconds", r.seconds}};
  if (r.float_metric) out["float_metric"] = *r.float_metric;
  return out;
}

}  // namespace onnxc
