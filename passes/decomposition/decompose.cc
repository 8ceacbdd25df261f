// decompose: splits Conv (spatial SVD: kh x 1 then 1 x kw) and Gemm/MatMul
// (low rank: two matrix products) into pairs of thinner layers, with ranks by
// EVBMF (AMCT's rule), by energy, by a MAC ratio, fixed, or searched under a
// whole-model MAC budget from measured per-layer sensitivity. Optionally the
// second factor is refit on calibration data (refine=true).
#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/budget_search.h"
#include "analysis/layer_statistics/layer_statistics.h"
#include "analysis/output_check.h"
#include "analysis/progress.h"
#include "ir/name_match.h"
#include "passes/decomposition/evbmf.h"
#include "passes/decomposition/layer_factorization.h"
#include "passes/decomposition/truncated_svd.h"
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

// AMCT's rounding: down to a multiple of m, up by m if that lost over 10%; at least m.
int64_t RoundRank(double r, int64_t m, int64_t max_rank) {
  if (m <= 1) return std::max<int64_t>(1, std::min<int64_t>(max_rank, std::llround(r)));
  int64_t down = static_cast<int64_t>(r) / m * m;
  if (down < 0.9 * r) down += m;
  return std::max<int64_t>(1, std::min<int64_t>(max_rank, std::max(down, m)));
}

struct Candidate {
  LinearLayer layer;
  FactorizationCost cost;
  TruncatedSvd svd;
  std::string why;  // how the rank was chosen
  int64_t rank = 0;
};

class Decompose : public Pass {
 public:
  static constexpr char kName[] = "decompose";
  static constexpr char kDescription[] =
      "splits Conv into kh x 1 + 1 x kw convs (spatial SVD) and Gemm/MatMul into two thinner products (low "
      "rank); ranks by EVBMF clamped as AMCT does (rank=auto), energy, MAC ratio, a number, or searched under "
      "target-macs from measured sensitivity; refine=true refits the second factor on calibration data";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    return {
        {"method", T::kString, "auto", "auto (spatial-svd for Conv, low-rank for Gemm/MatMul) | spatial-svd | low-rank"},
        {"rank", T::kString, "auto", "auto (EVBMF, clamped to [L/(d+1), L/d]) | energy | ratio | a number"},
        {"energy", T::kFloat, "0.95", "rank=energy: keep this share of the squared singular values"},
        {"ratio", T::kFloat, "0.5", "rank=ratio: the pair keeps at most this share of the layer's multiply-adds"},
        {"round-to", T::kInt, "16", "ranks are multiples of this (AMCT: 16)"},
        {"target-macs", T::kFloat, "0", "search per-layer ranks so the model keeps this share of its "
                                        "Conv/Gemm/MatMul multiply-adds (0: off)"},
        {"refine", T::kBool, "false", "refit the second factor by least squares on calibration data"},
        {"samples", T::kInt, "128", "calibration samples for refine"},
        {"eval-samples", T::kInt, "8", "calibration samples per sensitivity measurement (target-macs)"},
        {"skip", T::kList, "", "node-name globs to leave as they are"},
        {"op-types", T::kList, "[Conv,Gemm,MatMul]", "op types to decompose"},
        {"min-channels", T::kInt, "16", "leave layers with fewer input or output channels"},
        {"amct-rules", T::kBool, "false", "also AMCT's size rules: skip min kernel x min channels < 16, and min "
                                          "kernel < 7 with min channels < 64"},
        {"only-if-smaller", T::kBool, "true", "apply a pair only if it has fewer multiply-adds"},
        {"check-samples", T::kInt, "8", "calibration samples to compare outputs before and after on (0: off)"},
    };
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    skipped_.clear();
    const std::string method = options().GetString("method");
    if (method != "auto" && method != "spatial-svd" && method != "low-rank")
      return absl::InvalidArgumentError(absl::StrCat("decompose: method '", method, "' unknown; auto, spatial-svd, low-rank"));
    const CalibrationSettings& calib = ctx.settings->calibration;
    const bool refine = options().GetBool("refine");
    const double target = options().GetFloat("target-macs");
    const bool have_data = !calib.data.empty() && calib.data != "random";
    if ((refine || target > 0) && !have_data)
      return absl::InvalidArgumentError(absl::StrCat("decompose: ", refine ? "refine" : "target-macs",
                                                     " needs calibration data (--calib-data)"));
    if (target < 0 || target >= 1) return absl::InvalidArgumentError("decompose: target-macs must be in (0, 1)");
    const double start = MonotonicSeconds();
    std::unique_ptr<Model> before = model.Clone();
    int64_t total_macs = 0;
    std::vector<Candidate> candidates = SelectLayers(model, method, &total_macs);

    ProgressTracker progress(ctx.settings->reporter, "decompose (SVD)", "layers", static_cast<int64_t>(candidates.size()));
    for (size_t i = 0; i < candidates.size(); ++i) {
      absl::Status s = ChooseRank(model, &candidates[i], target > 0, ctx.settings->threads);
      if (!s.ok()) return s;
      progress.Update(static_cast<int64_t>(i + 1), candidates[i].layer.name());
    }
    progress.Finish();

    const LayerStatistics* stats = nullptr;  // owned by the analysis manager
    if (refine && !candidates.empty()) {
      LayerStatistics::Settings s;
      s.calibration = calib;
      s.calibration.samples = options().GetInt("samples");
      for (const Candidate& c : candidates) s.layers.push_back(c.layer.name());
      auto computed = ctx.analyses->Get<LayerStatistics>(model, ctx.ForAnalyses(), s);
      if (!computed.ok()) return computed.status();
      stats = *computed;
    }
    auto gram = [&](const Candidate& c) -> const Eigen::MatrixXd* {
      return stats ? &stats->layers.at(c.layer.name()).gram[0] : nullptr;
    };

    PassResult r;
    nlohmann::json search = nlohmann::json::object();
    if (target > 0 && !candidates.empty()) {
      absl::Status s = SearchRanks(model, *before, calib.data, ctx, gram, total_macs, target, &candidates, &search);
      if (!s.ok()) return s;
    }

    nlohmann::json layers = nlohmann::json::array();
    int64_t macs_before = 0, macs_after = 0, applied = 0;
    for (Candidate& c : candidates) {
      const int64_t pair = c.rank * c.cost.per_rank;
      nlohmann::json e = {{"node", c.layer.name()}, {"op_type", c.layer.node->op_type()},
                          {"macs_before", c.cost.original}, {"full_rank", c.cost.max_rank}, {"why", c.why}};
      if (c.rank <= 0 || (options().GetBool("only-if-smaller") && pair >= c.cost.original)) {
        e["rank"] = nullptr;
        e["note"] = c.rank <= 0 ? c.why : absl::StrFormat("rank %d would not reduce multiply-adds (%d vs %d)", c.rank, pair, c.cost.original);
        skipped_.emplace_back(c.layer.name(), e["note"].get<std::string>());
        layers.push_back(e);
        continue;
      }
      auto w = c.layer.ReadWeight(model);
      if (!w.ok()) return w.status();
      const int64_t params_before = w->num_elements();
      Factorization f = Factorize(c.layer, *w, c.svd, c.rank, gram(c));
      e["rank"] = c.rank;
      e["macs_after"] = pair;
      e["params_before"] = params_before;
      e["params_after"] = f.first.num_elements() + f.second.num_elements();
      e["weight_sqnr_db"] = f.weight_error > 0 ? -10 * std::log10(f.weight_error) : 999.0;
      if (f.layer_error >= 0) e["layer_sqnr_db"] = f.layer_error > 0 ? -10 * std::log10(f.layer_error) : 999.0;
      macs_before += c.cost.original;
      macs_after += pair;
      absl::Status s = ApplyFactorization(model, c.layer, std::move(f));
      if (!s.ok()) return s;
      ++applied;
      layers.push_back(e);
    }
    const double seconds = MonotonicSeconds() - start;
    r.changes = applied;
    r.preserved = applied == 0 ? PreservedAnalyses::All() : PreservedAnalyses::None();
    r.notes.push_back(absl::StrFormat(
        "%d layers decomposed in %.1f s: their multiply-adds %.4g -> %.4g; the model's Conv/Gemm/MatMul "
        "multiply-adds %.4g -> %.4g (%.1f%%)%s",
        applied, seconds, static_cast<double>(macs_before), static_cast<double>(macs_after),
        static_cast<double>(total_macs), static_cast<double>(total_macs - macs_before + macs_after),
        total_macs ? 100.0 * (total_macs - macs_before + macs_after) / total_macs : 100.0,
        refine ? ", second factors refit on calibration data" : ""));
    for (const auto& l : layers)
      if (!l["rank"].is_null())
        r.notes.push_back(absl::StrFormat("%s: rank %d of %d (%s), MACs %.3g -> %.3g, weight SQNR %.1f dB%s",
                                          l["node"].get<std::string>(), l["rank"].get<int64_t>(),
                                          l["full_rank"].get<int64_t>(), l["why"].get<std::string>(),
                                          l["macs_before"].get<double>(), l["macs_after"].get<double>(),
                                          l["weight_sqnr_db"].get<double>(),
                                          l.contains("layer_sqnr_db")
                                              ? absl::StrFormat(", layer output SQNR %.1f dB", l["layer_sqnr_db"].get<double>())
                                              : std::string()));
    for (const auto& [node, reason] : skipped_) r.notes.push_back(absl::StrCat("kept: ", node, ": ", reason));
    r.details["layers"] = layers;
    r.details["macs_before"] = total_macs;
    r.details["macs_after"] = total_macs - macs_before + macs_after;
    r.details["seconds"] = seconds;
    if (!search.empty()) r.details["search"] = search;
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& [node, reason] : skipped_) skipped.push_back({{"node", node}, {"reason", reason}});
    r.details["skipped"] = skipped;
    int64_t check = options().GetInt("check-samples");
    if (check > 0 && applied > 0) {
      auto c = CompareModelOutputs(*before, model, have_data ? calib.data : "random", check, ctx.ForAnalyses().executor);
      if (c.ok())
        for (const OutputCheck::Output& o : c->outputs)
          r.notes.push_back(absl::StrFormat("after decompose, output %s vs before: SQNR %.1f dB, cosine %.6f (%d samples%s)",
                                            o.name, o.worst.sqnr_db, o.worst.cosine, c->samples,
                                            have_data ? "" : ", random inputs"));
    }
    return r;
  }

 private:
  void Skip(const Node* n, const std::string& reason) {
    skipped_.emplace_back(n->name().empty() ? n->op_type() : n->name(), reason);
  }

  std::vector<Candidate> SelectLayers(Model& model, const std::string& method, int64_t* total_macs) {
    std::vector<std::string> ops = options().GetList("op-types"), skip = options().GetList("skip");
    const int64_t min_ch = options().GetInt("min-channels");
    std::vector<Candidate> out;
    for (LinearLayerCandidate& lc : FindLinearLayers(model)) {
      Node* n = lc.node;
      if (!lc.layer.ok()) { Skip(n, std::string(lc.layer.status().message())); continue; }
      const LinearLayer& l = *lc.layer;
      auto cost = CostOf(l);
      if (cost.ok()) *total_macs += cost->original;
      if (std::find(ops.begin(), ops.end(), n->op_type()) == ops.end()) { Skip(n, "op type not in op-types"); continue; }
      if (MatchesAny(l.name(), skip)) { Skip(n, "skipped by option"); continue; }
      const bool conv = l.kind == LinearLayer::Kind::kConv;
      if (l.kind == LinearLayer::Kind::kConvTranspose) { Skip(n, "ConvTranspose is not decomposed"); continue; }
      if ((method == "spatial-svd" && !conv) || (method == "low-rank" && conv)) { Skip(n, "not for method " + method); continue; }
      const int64_t cin = l.channels_per_group * l.groups, cout = l.outputs_per_group * l.groups;
      std::string why;
      if (conv) {
        const int64_t kmin = std::min(l.kernel_h, l.kernel_w);
        if (l.groups > 1) why = "grouped conv";
        else if (l.conv1d) why = "1-D conv";
        else if (l.dil_h > 1 || l.dil_w > 1) why = "dilation > 1";
        else if (kmin < 3) why = absl::StrFormat("kernel %dx%d: no spatial factor to split (kernel < 3)", l.kernel_h, l.kernel_w);
        else if (l.stride_h > 2 || l.stride_w > 2) why = "stride > 2";
        else if (l.auto_pad != "NOTSET") why = "auto_pad " + l.auto_pad;
        else if (options().GetBool("amct-rules") && (kmin * std::min(cin, cout) < 16 || (kmin < 7 && std::min(cin, cout) < 64)))
          why = "AMCT's size rules (small layer)";
      }
      if (why.empty() && std::min(cin, cout) < min_ch) why = absl::StrFormat("%d channels < min-channels", std::min(cin, cout));
      if (why.empty() && l.weight->uses().size() > 1) why = "shared weight";
      if (why.empty() && !cost.ok()) why = std::string(cost.status().message());
      if (!why.empty()) { Skip(n, why); continue; }
      out.push_back(Candidate{l, *cost, {}, "", 0});
    }
    return out;
  }

  // The SVD (as many values as the rank rule needs) and the rank.
  absl::Status ChooseRank(Model& model, Candidate* c, bool searching, int threads) {
    auto w = c->layer.ReadWeight(model);
    if (!w.ok()) return w.status();
    Eigen::MatrixXd m = Unfold(c->layer, *w);
    const int64_t L = std::min(m.rows(), m.cols()), M = std::max(m.rows(), m.cols());
    const int64_t round_to = options().GetInt("round-to");
    const std::string rule = options().GetString("rank");
    const double d = std::min(c->layer.channels_per_group, c->layer.outputs_per_group) >= 256 ? 4 : 6;
    // The rank at which the pair costs what the layer does.
    const int64_t even = c->cost.per_rank > 0 ? c->cost.original / c->cost.per_rank : L;
    int64_t rank = 0;
    if (searching) {
      c->svd = ComputeTruncatedSvd(m, std::min(L, std::max<int64_t>(even, 1)), 1, threads);
      c->why = "searched under target-macs";
      return absl::OkStatus();
    }
    if (rule == "auto") {
      c->svd = ComputeTruncatedSvd(m, std::min(L, L / 4 + 32), 1, threads);
      EvbmfResult e = Evbmf(c->svd.s, L, M, c->svd.residual);
      double lo = L / (d + 1), hi = L / d;
      double clamped = std::min(std::max<double>(e.rank, lo), hi);
      rank = RoundRank(clamped, round_to, L);
      c->why = absl::StrFormat("EVBMF %d, clamped to [%.0f, %.0f], rounded to %d", e.rank, lo, hi, round_to);
    } else if (rule == "energy") {
      c->svd = ComputeTruncatedSvd(m, L, 1, threads);
      const double want = options().GetFloat("energy") * (c->svd.s.squaredNorm() + c->svd.residual);
      double acc = 0;
      while (rank < c->svd.s.size() && acc < want) acc += c->svd.s[rank] * c->svd.s[rank], ++rank;
      rank = RoundRank(rank, round_to, L);
      c->why = absl::StrFormat("%.3g of the energy", options().GetFloat("energy"));
    } else if (rule == "ratio") {
      double r = options().GetFloat("ratio") * c->cost.original / std::max<int64_t>(1, c->cost.per_rank);
      rank = std::max<int64_t>(1, std::min<int64_t>(L, r / std::max<int64_t>(1, round_to) * std::max<int64_t>(1, round_to)));
      c->svd = ComputeTruncatedSvd(m, rank, 1, threads);
      c->why = absl::StrFormat("%.3g of the layer's multiply-adds", options().GetFloat("ratio"));
    } else {
      int64_t fixed = 0;
      if (!absl::SimpleAtoi(rule, &fixed) || fixed < 1)
        return absl::InvalidArgumentError(absl::StrCat("decompose: rank '", rule, "': auto, energy, ratio or a number"));
      rank = std::min(fixed, L);
      c->svd = ComputeTruncatedSvd(m, rank, 1, threads);
      c->why = "fixed";
    }
    c->rank = rank;
    return absl::OkStatus();
  }

  // target-macs: per layer, the output noise (1 / SQNR, summed over outputs)
  // with only that layer decomposed at each candidate rank, measured on
  // eval-samples; then the shared greedy budget search.
  absl::Status SearchRanks(Model& model, const Model& original, const std::string& data, PassContext& ctx,
                           const std::function<const Eigen::MatrixXd*(const Candidate&)>& gram, int64_t total_macs,
                           double target, std::vector<Candidate>* candidates, nlohmann::json* search) {
    const int64_t round_to = std::max<int64_t>(1, options().GetInt("round-to"));
    std::vector<std::vector<BudgetOption>> options_per_layer;
    std::vector<std::vector<int64_t>> ranks;
    int64_t searched_macs = 0;
    int64_t runs = 0;
    ProgressTracker progress(ctx.settings->reporter, "decompose (sensitivity)", "runs",
                             6 * static_cast<int64_t>(candidates->size()));  // 6 ranks per layer at most
    nlohmann::json curves = nlohmann::json::array();
    for (Candidate& c : *candidates) {
      searched_macs += c.cost.original;
      std::vector<BudgetOption> opts = {{static_cast<double>(c.cost.original), 0.0}};
      std::vector<int64_t> rs = {0};
      const int64_t even = c.cost.per_rank > 0 ? c.cost.original / c.cost.per_rank : c.cost.max_rank;
      nlohmann::json curve = {{"node", c.layer.name()}, {"points", nlohmann::json::array()}};
      for (double frac : {0.125, 0.25, 0.375, 0.5, 0.625, 0.75}) {
        int64_t rank = std::max<int64_t>(round_to, static_cast<int64_t>(frac * even) / round_to * round_to);
        rank = std::min<int64_t>(rank, c.svd.s.size());
        if (rank * c.cost.per_rank >= c.cost.original || std::find(rs.begin(), rs.end(), rank) != rs.end()) continue;
        std::unique_ptr<Model> trial = model.Clone();
        Node* node = trial->graph().FindValue(c.layer.node->output(0)->name())->producer();
        auto tl = DescribeLinearLayer(*trial, node);
        if (!tl.ok()) return tl.status();
        auto w = tl->ReadWeight(*trial);
        if (!w.ok()) return w.status();
        absl::Status s = ApplyFactorization(*trial, *tl, Factorize(*tl, *w, c.svd, rank, gram(c)));
        if (!s.ok()) return s;
        auto check = CompareModelOutputs(original, *trial, data, options().GetInt("eval-samples"), ctx.ForAnalyses().executor);
        if (!check.ok()) return check.status();
        double noise = 0;
        for (const OutputCheck::Output& o : check->outputs) noise += std::pow(10.0, -o.worst.sqnr_db / 10.0);
        opts.push_back({static_cast<double>(rank * c.cost.per_rank), noise});
        rs.push_back(rank);
        curve["points"].push_back({{"rank", rank}, {"macs", rank * c.cost.per_rank}, {"noise", noise}});
        progress.Update(++runs, c.layer.name());
      }
      options_per_layer.push_back(opts);
      ranks.push_back(rs);
      curves.push_back(curve);
    }
    progress.Finish();
    BudgetChoice choice = GreedyBudgetSearch(options_per_layer, static_cast<double>(total_macs - searched_macs),
                                             target * static_cast<double>(total_macs));
    for (size_t i = 0; i < candidates->size(); ++i) {
      Candidate& c = (*candidates)[i];
      c.rank = ranks[i][choice.option[i]];
      if (c.rank == 0) c.why = "kept by the target-macs search (cheapest loss)";
    }
    (*search)["target_macs"] = target;
    (*search)["met"] = choice.met;
    (*search)["predicted_noise"] = choice.loss;
    (*search)["macs"] = choice.cost;
    (*search)["curves"] = curves;
    if (!choice.met) skipped_.emplace_back("(model)", absl::StrFormat("TARGET NOT MET: target-macs %.2f needs more than the candidate ranks give", target));
    return absl::OkStatus();
  }

  std::vector<std::pair<std::string, std::string>> skipped_;
};

ONNXC_REGISTER_PASS(Decompose);

}  // namespace
}  // namespace onnxc
