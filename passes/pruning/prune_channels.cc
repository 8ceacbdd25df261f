// prune-channels: removes whole output channels of Conv/Gemm/MatMul layers
// together with everything that runs along them (analysis/channel_groups),
// so the model really gets smaller and faster on any runtime. Per group, the
// least important channels go: by filter norm (l2, l1), or by what they
// contribute to the consumers' outputs on calibration data (activation:
// sum of H_jj ||W[:, j]||^2 over the group's input features j). With
// reconstruct, every consumer is refit by ridge least squares, wave by wave
// in graph order, on inputs from the pruned model and targets from the
// original (paired_statistics.h). Under target-macs / target-params the
// per-group ratios come from the greedy budget search shared with
// decompose, on each group's measured sensitivity.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "analysis/budget_search.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/channel_groups/channel_groups.h"
#include "analysis/eval_command.h"
#include "analysis/layer_statistics/layer_statistics.h"
#include "analysis/layer_statistics/layer_waves.h"
#include "analysis/layer_statistics/paired_statistics.h"
#include "analysis/output_check.h"
#include "analysis/progress.h"
#include "ir/constants.h"
#include "ir/name_match.h"
#include "passes/pass/registry.h"
#include "passes/pruning/channel_pruning.h"

namespace onnxc {
namespace {

std::string NameOf(const Node* n) { return n->name().empty() ? n->output(0)->name() : n->name(); }

double NoiseOf(const OutputCheck& c) {
  double noise = 0;
  for (const OutputCheck::Output& o : c.outputs) noise += std::pow(10.0, -o.worst.sqnr_db / 10.0);
  return noise;
}

// How one consumer whose inputs lost channels is refit.
struct ConsumerPlan {
  int64_t block = 1;                   // features per channel (Gemm after Flatten)
  std::vector<int64_t> kept_channels;  // original input channel of each kept one
  std::vector<int64_t> kept_inputs;    // original input position (weight axis) of each kept one
  bool channels = false;               // channel reconstruction (too few rows for a direct fit)
  std::string skip;                    // why it is not refit ("" if it is)
};

double Db(double relative_error) { return relative_error > 0 ? -10 * std::log10(relative_error) : 999.0; }

class PruneChannels : public Pass {
 public:
  static constexpr char kName[] = "prune-channels";
  static constexpr char kDescription[] =
      "removes whole output channels of Conv/Gemm/MatMul and everything coupled to them (BN, depthwise convs, "
      "residual Adds, Concat, Flatten into Gemm), least important first; reconstruct=true refits each consumer "
      "by ridge least squares on calibration data; target-macs/target-params search per-group ratios";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    return {
        {"ratio", T::kFloat, "0.3", "share of each group's channels removed (without a target)"},
        {"target-macs", T::kFloat, "0", "search per-group ratios so the model keeps this share of its Conv/Gemm/MatMul "
                                        "multiply-adds (0: off)"},
        {"target-params", T::kFloat, "0", "the same for their weight elements (0: off)"},
        {"criterion", T::kString, "auto", "auto (activation with calibration data, else l2) | l2 | l1 | activation"},
        {"reconstruct", T::kBool, "true", "refit the consumers by ridge least squares on calibration data"},
        {"ridge", T::kFloat, "0.01", "ridge, times the mean of the input Gram diagonal (AMCT: 0.01)"},
        {"round-to", T::kInt, "8", "kept channel counts are multiples of this: ONNX Runtime's x86 convs block channels "
                                   "by 8 (16 on AVX-512) and odd counts run slower; 1 for exact ratios"},
        {"min-channels", T::kInt, "4", "keep at least this many channels of a group"},
        {"skip", T::kList, "", "globs of producer node names whose groups stay whole"},
        {"samples", T::kInt, "128", "calibration samples for statistics and reconstruction"},
        {"eval-samples", T::kInt, "8", "calibration samples per sensitivity measurement (targets)"},
        {"check-samples", T::kInt, "8", "calibration samples to compare outputs before and after on (0: off)"},
        {"eval-lower-is-better", T::kBool, "false", "with --eval-cmd: its metric is a loss, not an accuracy"},
    };
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    const double start = MonotonicSeconds();
    const CalibrationSettings& calib = ctx.settings->calibration;
    const bool have_data = !calib.data.empty() && calib.data != "random";
    const double ratio = options().GetFloat("ratio"), target_macs = options().GetFloat("target-macs"),
                 target_params = options().GetFloat("target-params");
    const bool reconstruct = options().GetBool("reconstruct");
    std::string criterion = options().GetString("criterion");
    if (criterion == "auto") criterion = have_data ? "activation" : "l2";
    if (criterion != "l2" && criterion != "l1" && criterion != "activation")
      return absl::InvalidArgumentError(absl::StrCat("prune-channels: criterion '", criterion, "' unknown; l2, l1, activation"));
    if (ratio < 0 || ratio >= 1) return absl::InvalidArgumentError("prune-channels: ratio must be in [0, 1)");
    if (target_macs < 0 || target_macs >= 1 || target_params < 0 || target_params >= 1)
      return absl::InvalidArgumentError("prune-channels: target-macs and target-params must be in (0, 1)");
    if (target_macs > 0 && target_params > 0)
      return absl::InvalidArgumentError("prune-channels: give target-macs or target-params, not both");
    const double target = std::max(target_macs, target_params);
    const bool params = target_params > 0;
    if (!have_data && (reconstruct || criterion == "activation" || target > 0))
      return absl::InvalidArgumentError(absl::StrCat(
          "prune-channels: ", reconstruct ? "reconstruct" : criterion == "activation" ? "criterion=activation" : "a target",
          " needs calibration data (--calib-data); without data use reconstruct=false,criterion=l2 and a ratio"));

    auto computed = ChannelGroups::Compute(model, ctx.ForAnalyses());
    if (!computed.ok()) return computed.status();
    observed_positions_.clear();
    ChannelGroups& groups = **computed;
    // Dynamic shapes (an OCR model's free width): sizes at the calibration input's shape.
    bool unknown = false;
    for (const LinearLayerSize& l : groups.layers) unknown = unknown || l.positions == 0;
    if (unknown && have_data) {
      auto observed = ObservedPositions(model, calib, ctx);
      if (!observed.ok()) return observed.status();
      observed_positions_ = *std::move(observed);
      ctx.settings->reporter.Note("prune-channels: the model has dynamic shapes; multiply-adds are counted at the "
                                  "first calibration sample's shape");
    }
    FillPositions(&groups);
    for (const LinearLayerSize& l : groups.layers)
      if (l.positions == 0)
        return absl::FailedPreconditionError(absl::StrCat(
            "prune-channels: the output shape of ", l.node->Describe(),
            " is unknown; run shape-inference first (e.g. --pipeline optimize,prune-channels), or give calibration "
            "data to measure it"));

    // Candidate groups.
    const int64_t min_ch = std::max<int64_t>(1, options().GetInt("min-channels"));
    const std::vector<std::string> skip = options().GetList("skip");
    std::vector<int> candidates;
    std::vector<std::string> why_not(groups.groups.size());
    for (size_t g = 0; g < groups.groups.size(); ++g) {
      const ChannelGroup& grp = groups.groups[g];
      bool skipped = false;
      for (Node* p : grp.producers) skipped = skipped || MatchesAny(NameOf(p), skip);
      if (!grp.blocked.empty()) why_not[g] = grp.blocked;
      else if (skipped) why_not[g] = "skipped by option";
      else if (grp.channels <= min_ch) why_not[g] = absl::StrFormat("%d channels <= min-channels", grp.channels);
      else candidates.push_back(static_cast<int>(g));
    }

    // Calibration samples the statistics will see (for the choice of refit).
    int64_t samples = options().GetInt("samples");
    if (have_data) {
      auto data = OpenCalibrationData(model, calib, Reporter());
      if (!data.ok()) return data.status();
      if ((*data)->size() > 0) samples = std::min(samples, (*data)->size());
    }
    std::unique_ptr<Model> original = model.Clone();
    // --eval-cmd: the user's metric judges the search's trials and the result.
    eval_cmd_ = ctx.settings->eval_cmd;
    if (!eval_cmd_.empty()) {
      auto m = EvaluateModel(*original, eval_cmd_);
      if (!m.ok()) return absl::Status(m.status().code(), absl::StrCat("prune-channels: eval-cmd on the original: ", m.status().message()));
      eval_original_ = *m;
    }
    // Input Gram matrices of the consumers, for the activation criterion and the searches' trial refits.
    const LayerStatistics* stats = nullptr;
    std::map<std::string, LinearLayer> original_layers;
    for (LinearLayerCandidate& c : FindLinearLayers(*original))
      if (c.layer.ok() && c.layer->groups == 1) original_layers.emplace(c.layer->name(), *c.layer);
    if (have_data && !candidates.empty() && (criterion == "activation" || (target > 0 && reconstruct))) {
      LayerStatistics::Settings s;
      s.calibration = calib;
      s.calibration.samples = options().GetInt("samples");
      std::set<std::string> names;
      for (int g : candidates)
        for (Node* n : groups.groups[g].consumers)
          if (original_layers.count(NameOf(n))) names.insert(NameOf(n));
      s.layers.assign(names.begin(), names.end());
      if (!s.layers.empty()) {
        auto st = ctx.analyses->Get<LayerStatistics>(*original, ctx.ForAnalyses(), s);
        if (!st.ok()) return st.status();
        stats = *st;
      }
    }
    std::map<const Node*, ChannelLayout> consumer_layout;
    for (const ChannelEdit& e : groups.edits)
      if (e.kind == ChannelEdit::Kind::kConsumerWeight) consumer_layout[e.node] = e.layout;

    // Channel order per group, most important first.
    std::vector<std::vector<int64_t>> order(groups.groups.size());
    for (int g : candidates) {
      auto imp = Importance(*original, groups, g, criterion, stats, consumer_layout, original_layers);
      if (!imp.ok()) return imp.status();
      order[g].resize(imp->size());
      std::iota(order[g].begin(), order[g].end(), 0);
      std::stable_sort(order[g].begin(), order[g].end(), [&](int64_t a, int64_t b) { return (*imp)[a] > (*imp)[b]; });
    }

    std::vector<int64_t> full_counts(groups.groups.size()), counts;
    for (size_t g = 0; g < groups.groups.size(); ++g) full_counts[g] = groups.groups[g].channels;
    counts = full_counts;
    nlohmann::json search = nlohmann::json::object();
    if (target > 0) {
      absl::Status s = Search(*original, groups, candidates, order, original_layers, stats, calib.data, samples,
                              ctx, target, params, reconstruct, &counts, &search);
      if (!s.ok()) return s;
    } else {
      for (int g : candidates) counts[g] = KeepCount(groups.groups[g].channels, 1.0 - ratio);
    }
    ChannelGroups::Kept kept = KeptSets(groups, order, counts);

    // Per-layer sizes before the rewrite (nodes are still those of `model`).
    nlohmann::json layers = nlohmann::json::array();
    std::map<std::string, size_t> layer_row;
    for (const LinearLayerSize& l : groups.layers) {
      const int64_t in0 = l.input.positions(), out0 = l.output.positions();
      const int64_t in1 = l.input.PositionsKept(counts), out1 = l.output.PositionsKept(counts);
      if (in0 == in1 && out0 == out1) continue;
      layer_row[NameOf(l.node)] = layers.size();
      layers.push_back({{"node", NameOf(l.node)}, {"op_type", l.node->op_type()},
                        {"inputs_before", in0}, {"inputs_after", in1}, {"outputs_before", out0}, {"outputs_after", out1},
                        {"macs_before", ChannelGroups::SizeOf(l, full_counts, false)},
                        {"macs_after", ChannelGroups::SizeOf(l, counts, false)},
                        {"params_before", ChannelGroups::SizeOf(l, full_counts, true)},
                        {"params_after", ChannelGroups::SizeOf(l, counts, true)}});
    }
    std::vector<Node*> refit;  // consumers whose inputs lost channels
    for (int g : candidates)
      if (counts[g] < full_counts[g])
        for (Node* n : groups.groups[g].consumers)
          if (std::find(refit.begin(), refit.end(), n) == refit.end()) refit.push_back(n);

    int64_t pruned_groups = 0;
    for (int g : candidates) pruned_groups += counts[g] < full_counts[g];
    // Before the rewrite: edits name this model's nodes.
    const auto kept_outputs = KeptOutputs(groups, kept);
    const auto plans = PlanConsumers(model, groups, kept, samples);
    absl::Status s = ApplyChannelPruning(model, groups, kept);
    if (!s.ok()) return s;
    if (reconstruct && !refit.empty()) {
      s = Reconstruct(*original, model, refit, kept_outputs, plans, calib, ctx, original_layers, &layers, layer_row);
      if (!s.ok()) return s;
    }

    PassResult r;
    r.changes = pruned_groups;
    r.preserved = pruned_groups == 0 ? PreservedAnalyses::All() : PreservedAnalyses::None();
    const int64_t macs0 = groups.Size(full_counts, false), macs1 = groups.Size(counts, false);
    const int64_t params0 = groups.Size(full_counts, true), params1 = groups.Size(counts, true);
    const double seconds = MonotonicSeconds() - start;
    r.notes.push_back(absl::StrFormat(
        "%d of %d channel groups pruned in %.1f s (criterion %s%s): Conv/Gemm/MatMul multiply-adds %.4g -> %.4g "
        "(%.1f%%), weights %.4g -> %.4g (%.1f%%)",
        pruned_groups, groups.groups.size(), seconds, criterion, reconstruct ? ", consumers refit" : "",
        static_cast<double>(macs0), static_cast<double>(macs1), 100.0 * macs1 / std::max<int64_t>(1, macs0),
        static_cast<double>(params0), static_cast<double>(params1), 100.0 * params1 / std::max<int64_t>(1, params0)));
    nlohmann::json group_rows = nlohmann::json::array();
    for (size_t g = 0; g < groups.groups.size(); ++g) {
      const ChannelGroup& grp = groups.groups[g];
      std::vector<std::string> producers, consumers;
      for (Node* n : grp.producers) producers.push_back(NameOf(n));
      for (Node* n : grp.consumers) consumers.push_back(NameOf(n));
      nlohmann::json row = {{"group", grp.name}, {"channels_before", grp.channels}, {"channels_after", counts[g]},
                            {"producers", producers}, {"consumers", consumers}};
      if (!why_not[g].empty()) row["kept_because"] = why_not[g];
      group_rows.push_back(row);
      if (counts[g] < grp.channels)
        r.notes.push_back(absl::StrFormat("%s: %d -> %d channels (producers %s)", grp.name, grp.channels, counts[g],
                                          absl::StrJoin(producers, ", ")));
      else if (!why_not[g].empty())
        r.notes.push_back(absl::StrCat("kept: ", grp.name, " (", grp.channels, " channels): ", why_not[g]));
    }
    for (const auto& l : layers)
      if (l.contains("layer_sqnr_db_after"))
        r.notes.push_back(absl::StrFormat("%s refit (%s): %s SQNR %.1f dB pruned -> %.1f dB reconstructed",
                                          l["node"].get<std::string>(), l["refit"].get<std::string>(),
                                          l["refit"] == "channels" ? "input channels'" : "layer output",
                                          l["layer_sqnr_db_before"].get<double>(), l["layer_sqnr_db_after"].get<double>()));
    r.details["criterion"] = criterion;
    r.details["reconstruct"] = reconstruct;
    r.details["groups"] = group_rows;
    r.details["layers"] = layers;
    r.details["macs_before"] = macs0;
    r.details["macs_after"] = macs1;
    r.details["params_before"] = params0;
    r.details["params_after"] = params1;
    r.details["seconds"] = seconds;
    if (!search.empty()) r.details["search"] = search;
    if (!eval_cmd_.empty() && pruned_groups > 0) {
      auto m = EvaluateModel(model, eval_cmd_);
      if (!m.ok()) return absl::Status(m.status().code(), absl::StrCat("prune-channels: eval-cmd on the result: ", m.status().message()));
      r.details["eval"] = {{"command", eval_cmd_}, {"original", eval_original_}, {"pruned", *m}};
      r.notes.push_back(absl::StrFormat("eval-cmd metric: %.6g original -> %.6g pruned", eval_original_, *m));
    }
    const int64_t check = options().GetInt("check-samples");
    if (check > 0 && pruned_groups > 0) {
      auto c = CompareModelOutputs(*original, model, have_data ? calib.data : "random", check, ctx.ForAnalyses().executor);
      if (c.ok()) {
        r.details["output_check"] = c->ToJson();
        for (const OutputCheck::Output& o : c->outputs)
          r.notes.push_back(absl::StrFormat("after prune-channels, output %s vs before: SQNR %.1f dB, cosine %.6f (%d samples%s)",
                                            o.name, o.worst.sqnr_db, o.worst.cosine, c->samples,
                                            have_data ? "" : ", random inputs"));
      }
    }
    return r;
  }

 private:
  // Output positions per sample of every Conv/Gemm/MatMul, from a run on
  // the first calibration sample.
  static absl::StatusOr<std::map<std::string, int64_t>> ObservedPositions(const Model& model,
                                                                          const CalibrationSettings& calib,
                                                                          PassContext& ctx) {
    CalibrationSettings one = calib;
    one.samples = 1;
    auto data = OpenCalibrationData(model, one, Reporter());
    if (!data.ok()) return data.status();
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) return absl::InvalidArgumentError("prune-channels: the calibration data has no samples");
    auto ex = Executor::Create(model, ctx.ForAnalyses().executor);
    if (!ex.ok()) return ex.status();
    std::map<std::string, int64_t> out;
    Observer observer = [&](const Value& v, const TensorView& t) {
      const Node* n = v.producer();
      if (n == nullptr || v.output_index() != 0 || t.dims.size() < 2) return;
      const bool conv = n->op_type() == "Conv";
      if (!conv && n->op_type() != "Gemm" && n->op_type() != "MatMul") return;
      int64_t p = 1;
      for (size_t i = conv ? 2 : 0; i + (conv ? 0 : 1) < t.dims.size(); ++i) p *= t.dims[i];
      if (!conv) p /= std::max<int64_t>(1, t.dims[0]);
      out[NameOf(n)] = std::max<int64_t>(1, p);
    };
    auto run = (*ex)->Run((**sample).inputs, &observer);
    if (!run.ok()) return run.status();
    return out;
  }

  void FillPositions(ChannelGroups* groups) const {
    for (LinearLayerSize& l : groups->layers)
      if (l.positions == 0)
        if (auto it = observed_positions_.find(NameOf(l.node)); it != observed_positions_.end()) l.positions = it->second;
  }

  // ceil(C * keep), at least min-channels, rounded up to round-to, at most C.
  int64_t KeepCount(int64_t channels, double keep) const {
    const int64_t round_to = std::max<int64_t>(1, options().GetInt("round-to"));
    int64_t k = std::max<int64_t>(static_cast<int64_t>(std::ceil(channels * keep - 1e-9)), options().GetInt("min-channels"));
    k = (k + round_to - 1) / round_to * round_to;
    return std::min(k, channels);
  }

  // Per consumer of a pruned group: what it keeps and how it is refit, with
  // `samples` calibration samples.
  static std::map<const Node*, ConsumerPlan> PlanConsumers(const Model& model, const ChannelGroups& groups,
                                                           const ChannelGroups::Kept& kept, int64_t samples) {
    std::map<const Node*, int64_t> positions;
    for (const LinearLayerSize& l : groups.layers) positions[l.node] = l.positions;
    std::map<const Node*, ConsumerPlan> plans;
    for (const ChannelEdit& e : groups.edits) {
      if (e.kind != ChannelEdit::Kind::kConsumerWeight) continue;
      ConsumerPlan p;
      p.block = e.layout.block;
      p.kept_inputs = ChannelGroups::KeptPositions(e.layout, kept);
      if (static_cast<int64_t>(p.kept_inputs.size()) == e.layout.positions()) continue;
      for (int64_t q : p.kept_inputs)
        if (q % p.block == 0) p.kept_channels.push_back(q / p.block);
      auto l = DescribeLinearLayer(model, e.node);
      p.channels = l.ok() && NeedsChannelRefit(samples * positions[e.node], l->features());
      // Channel rows: one per input pixel (Conv) or per feature block (Gemm).
      int64_t rows = samples * p.block;
      if (auto shape = e.node->input(0)->shape(); l.ok() && l->kind == LinearLayer::Kind::kConv && shape) {
        rows = samples;
        for (size_t i = 2; i < shape->size(); ++i) rows *= std::max<int64_t>(1, (*shape)[i]);
      }
      const int64_t unknowns = static_cast<int64_t>(p.kept_channels.size()) + 1;
      if (p.channels && rows < 2 * unknowns)
        p.skip = absl::StrFormat("%d calibration rows are too few to refit %d input channels (give more samples)",
                                 rows, unknowns - 1);
      plans[e.node] = std::move(p);
    }
    return plans;
  }

  // Per producer node, the output rows it keeps under `kept`.
  static std::map<const Node*, std::vector<int64_t>> KeptOutputs(const ChannelGroups& groups,
                                                                 const ChannelGroups::Kept& kept) {
    std::map<const Node*, std::vector<int64_t>> out;
    for (const ChannelEdit& e : groups.edits)
      if (e.kind == ChannelEdit::Kind::kProducerWeight) out[e.node] = ChannelGroups::KeptPositions(e.layout, kept);
    return out;
  }

  // The original layer's weights, restricted to the outputs `node` keeps.
  static absl::StatusOr<LayerWeights> ReferenceWeights(const Model& original, const LinearLayer& layer, const Node* node,
                                                       const std::map<const Node*, std::vector<int64_t>>& kept_outputs) {
    auto w = ReadLayerWeights(original, layer);
    if (!w.ok()) return w.status();
    auto rows = kept_outputs.find(node);
    if (rows == kept_outputs.end() || static_cast<int64_t>(rows->second.size()) == w->w.rows()) return w;
    return SelectOutputs(*w, rows->second);
  }

  static ChannelGroups::Kept KeptSets(const ChannelGroups& groups, const std::vector<std::vector<int64_t>>& order,
                                      const std::vector<int64_t>& counts) {
    ChannelGroups::Kept kept = groups.Full();
    for (size_t g = 0; g < kept.size(); ++g) {
      if (counts[g] >= groups.groups[g].channels) continue;
      kept[g].assign(order[g].begin(), order[g].begin() + counts[g]);
      std::sort(kept[g].begin(), kept[g].end());
    }
    return kept;
  }

  // Per channel of group g: the larger, the more it matters.
  static absl::StatusOr<std::vector<double>> Importance(const Model& model, const ChannelGroups& groups, int g,
                                                        const std::string& criterion, const LayerStatistics* stats,
                                                        const std::map<const Node*, ChannelLayout>& consumer_layout,
                                                        const std::map<std::string, LinearLayer>& layers) {
    const int64_t channels = groups.groups[g].channels;
    std::vector<double> imp(channels, 0.0);
    bool any = false;
    if (criterion == "activation" && stats != nullptr) {
      for (Node* n : groups.groups[g].consumers) {
        auto l = layers.find(NameOf(n));
        auto h = stats->layers.find(NameOf(n));
        if (l == layers.end() || h == stats->layers.end()) continue;
        auto w = ReadLayerWeights(model, l->second);
        if (!w.ok()) continue;
        Eigen::VectorXd contribution = w->w.colwise().squaredNorm().transpose().cwiseProduct(h->second.Diagonal(0));
        const ChannelLayout& layout = consumer_layout.at(n);
        double total = contribution.sum();
        if (total <= 0) continue;
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t p : ChannelGroups::PositionsOf(layout, g, c))
            for (int64_t r = 0; r < l->second.kernel_h; ++r)
              for (int64_t s = 0; s < l->second.kernel_w; ++s)
                imp[c] += contribution[l->second.Feature(p, r, s)] / total;
        any = true;
      }
      if (any) return imp;
    }
    // Filter norms of the producers, each normalised by its mean so residual-tied producers weigh alike.
    for (const ChannelEdit& e : groups.edits) {
      if (e.kind != ChannelEdit::Kind::kProducerWeight) continue;
      bool here = false;
      for (const ChannelSegment& s : e.layout.segments) here = here || s.group == g;
      if (!here) continue;
      std::optional<Tensor> t = GetConstant(model, e.node->input(e.input));
      if (!t) return absl::InternalError(absl::StrCat(e.node->Describe(), ": the weight is not a constant"));
      std::vector<float> v = t->ToFloatVector();
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < e.axis; ++i) outer *= t->dims()[i];
      for (int64_t i = e.axis + 1; i < t->rank(); ++i) inner *= t->dims()[i];
      const int64_t along = t->dims()[e.axis];
      std::vector<double> norm(along, 0.0);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t a = 0; a < along; ++a)
          for (int64_t i = 0; i < inner; ++i) {
            double x = v[(o * along + a) * inner + i];
            norm[a] += criterion == "l1" ? std::abs(x) : x * x;
          }
      double mean = std::accumulate(norm.begin(), norm.end(), 0.0) / std::max<int64_t>(1, along);
      if (mean <= 0) continue;
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t p : ChannelGroups::PositionsOf(e.layout, g, c)) imp[c] += norm[p] / mean;
    }
    return imp;
  }

  // Refits the consumers in waves: a wave's inputs depend only on earlier waves.
  absl::Status Reconstruct(const Model& original, Model& model, const std::vector<Node*>& refit,
                           const std::map<const Node*, std::vector<int64_t>>& kept_outputs,
                           const std::map<const Node*, ConsumerPlan>& plans, const CalibrationSettings& calib, PassContext& ctx,
                           const std::map<std::string, LinearLayer>& original_layers, nlohmann::json* layers,
                           std::map<std::string, size_t>& layer_row) {
    const std::vector<std::vector<Node*>> waves =
        LayerWaves(model.graph(), std::set<const Node*>(refit.begin(), refit.end()));
    CalibrationSettings settings = calib;
    settings.samples = options().GetInt("samples");
    const double ridge = options().GetFloat("ridge");
    ProgressTracker progress(ctx.settings->reporter, "prune-channels (reconstruction)", "layers",
                             static_cast<int64_t>(refit.size()));
    int64_t done = 0;
    for (const std::vector<Node*>& nodes : waves) {
      std::vector<PairedRequest> requests;
      // A wave's layers are described once: refitting one leaves the others' weights alone.
      std::vector<std::pair<Node*, LinearLayer>> layers_in_wave;
      for (Node* n : nodes) {
        auto cur = DescribeLinearLayer(model, n);
        const auto plan = plans.find(n);
        if (!cur.ok() || cur->groups != 1 || !original_layers.count(NameOf(n)) || plan == plans.end() ||
            !plan->second.skip.empty()) {
          auto row = layer_row.find(NameOf(n));
          const std::string why = !cur.ok() ? std::string(cur.status().message())
                                  : plan != plans.end() && !plan->second.skip.empty() ? plan->second.skip
                                                                                       : "grouped";
          if (row != layer_row.end()) (*layers)[row->second]["note"] = absl::StrCat("not refit: ", why);
          ctx.settings->reporter.Note(absl::StrCat("prune-channels: ", NameOf(n), " not refit: ", why));
          continue;
        }
        layers_in_wave.emplace_back(n, *cur);
        requests.push_back({NameOf(n), plan->second.channels, plan->second.block});
      }
      auto paired = ComputePairedStatistics(original, model, requests, settings, ctx.ForAnalyses());
      if (!paired.ok()) return paired.status();
      for (const auto& [n, cur] : layers_in_wave) {
        const std::string name = NameOf(n);
        auto ref_w = ReferenceWeights(original, original_layers.at(name), n, kept_outputs);
        if (!ref_w.ok()) return ref_w.status();
        auto cur_w = ReadLayerWeights(model, cur);
        if (!cur_w.ok()) return cur_w.status();
        const ConsumerPlan& plan = plans.at(n);
        Refit fit = plan.channels ? RefitChannelsFromPairedGram(paired->at(name), original_layers.at(name), *ref_w, cur,
                                                                *cur_w, plan.kept_channels, plan.block, ridge)
                                  : RefitFromPairedGram(paired->at(name), *ref_w, *cur_w, ridge);
        absl::Status s = WriteLayerWeights(model, cur, fit.weights);
        if (!s.ok()) return s;
        auto row = layer_row.find(name);
        if (row != layer_row.end()) {
          // Direct fits: the layer's output error; channel fits: its input channels' error.
          (*layers)[row->second]["refit"] = plan.channels ? "channels" : "output";
          (*layers)[row->second]["layer_sqnr_db_before"] = Db(fit.error_before);
          (*layers)[row->second]["layer_sqnr_db_after"] = Db(fit.error_after);
        }
        progress.Update(++done, name);
      }
    }
    progress.Finish();
    return absl::OkStatus();
  }

  // target-macs / target-params: per group, the output noise with only that
  // group pruned (and its consumers refit from the original Gram when
  // reconstructing) at a few keep shares; then the greedy budget search.
  // Savings of two groups around one layer overlap (the layer shrinks on both
  // sides), so the budget is tightened until the exact size meets it.
  absl::Status Search(const Model& original, const ChannelGroups& groups, const std::vector<int>& candidates,
                      const std::vector<std::vector<int64_t>>& order,
                      const std::map<std::string, LinearLayer>& original_layers, const LayerStatistics* stats,
                      const std::string& data, int64_t samples, PassContext& ctx, double target, bool params, bool reconstruct,
                      std::vector<int64_t>* counts, nlohmann::json* search) {
    std::vector<int64_t> full = *counts;
    const double total = static_cast<double>(groups.Size(full, params));
    const std::vector<double> shares = {0.875, 0.75, 0.625, 0.5, 0.375, 0.25};
    ProgressTracker progress(ctx.settings->reporter, "prune-channels (sensitivity)", "runs",
                             static_cast<int64_t>(shares.size() * candidates.size()));
    std::vector<std::vector<BudgetOption>> options_per_group;
    std::vector<std::vector<int64_t>> keep_per_group;
    nlohmann::json curves = nlohmann::json::array();
    int64_t runs = 0;
    for (int g : candidates) {
      const ChannelGroup& grp = groups.groups[g];
      std::vector<BudgetOption> opts = {{0.0, 0.0}};
      std::vector<int64_t> keeps = {grp.channels};
      nlohmann::json curve = {{"group", grp.name}, {"channels", grp.channels}, {"points", nlohmann::json::array()}};
      for (double share : shares) {
        const int64_t k = KeepCount(grp.channels, share);
        if (k >= grp.channels || std::find(keeps.begin(), keeps.end(), k) != keeps.end()) continue;
        std::unique_ptr<Model> trial = original.Clone();
        auto tg = ChannelGroups::Compute(*trial, ctx.ForAnalyses());
        if (!tg.ok()) return tg.status();
        FillPositions(tg->get());
        std::vector<int64_t> c = full;
        c[g] = k;
        ChannelGroups::Kept kept = KeptSets(**tg, order, c);
        const auto kept_outputs = KeptOutputs(**tg, kept);
        const auto plans = PlanConsumers(*trial, **tg, kept, samples);
        absl::Status s = ApplyChannelPruning(*trial, **tg, kept);
        if (!s.ok()) return s;
        if (reconstruct && stats != nullptr) {
          for (Node* n : (*tg)->groups[g].consumers) {
            auto h = stats->layers.find(NameOf(n));
            auto ol = original_layers.find(NameOf(n));
            if (h == stats->layers.end() || ol == original_layers.end()) continue;
            auto pruned = DescribeLinearLayer(*trial, n);
            auto w0 = ReferenceWeights(original, ol->second, n, kept_outputs);
            if (!pruned.ok() || !w0.ok()) continue;
            auto plan = plans.find(n);
            if (plan == plans.end() || !plan->second.skip.empty()) continue;
            const ConsumerPlan& p = plan->second;
            LayerWeights w = *w0;
            w.w = p.channels ? RefitChannelsFromGram(h->second.gram[0], ol->second, w0->w, *pruned, p.kept_channels,
                                                     p.block, options().GetFloat("ridge"))
                             : RefitFromGram(w0->w, h->second.gram[0], OriginalFeatures(ol->second, *pruned, p.kept_inputs),
                                             options().GetFloat("ridge"));
            s = WriteLayerWeights(*trial, *pruned, w);
            if (!s.ok()) return s;
          }
        }
        double noise = 0;  // the loss the search adds up
        if (!eval_cmd_.empty()) {
          auto m = EvaluateModel(*trial, eval_cmd_);
          if (!m.ok()) return m.status();
          noise = std::max(0.0, options().GetBool("eval-lower-is-better") ? *m - eval_original_ : eval_original_ - *m);
        } else {
          auto check = CompareModelOutputs(original, *trial, data, options().GetInt("eval-samples"), ctx.ForAnalyses().executor);
          if (!check.ok()) return check.status();
          noise = NoiseOf(*check);
        }
        const double size = static_cast<double>(groups.Size(c, params));
        opts.push_back({size - total, noise});
        keeps.push_back(k);
        curve["points"].push_back({{"channels", k}, {params ? "params" : "macs", size}, {"noise", noise}});
        progress.Update(++runs, grp.name);
      }
      options_per_group.push_back(opts);
      keep_per_group.push_back(keeps);
      curves.push_back(curve);
    }
    progress.Finish();
    const double budget = target * total;
    double aim = budget;
    BudgetChoice choice;
    std::vector<int64_t> chosen = full;
    for (int round = 0; round < 8; ++round) {
      choice = GreedyBudgetSearch(options_per_group, total, aim);
      chosen = full;
      for (size_t i = 0; i < candidates.size(); ++i) chosen[candidates[i]] = keep_per_group[i][choice.option[i]];
      const double exact = static_cast<double>(groups.Size(chosen, params));
      if (exact <= budget * 1.005 || !choice.met) break;
      aim -= exact - budget;
    }
    *counts = chosen;
    const double exact = static_cast<double>(groups.Size(chosen, params));
    (*search)["target"] = target;
    (*search)["measure"] = params ? "params" : "macs";
    (*search)["met"] = exact <= budget * 1.005;
    (*search)["kept_share"] = exact / std::max(1.0, total);
    (*search)["predicted_noise"] = choice.loss;
    (*search)["curves"] = curves;
    if (exact > budget * 1.005)
      ctx.settings->reporter.Note(absl::StrFormat(
          "prune-channels: TARGET NOT MET: %s %.2f asked, %.3f reached with the candidate ratios",
          params ? "target-params" : "target-macs", target, exact / std::max(1.0, total)));
    return absl::OkStatus();
  }

  std::map<std::string, int64_t> observed_positions_;  // by node name, for dynamic shapes
  std::string eval_cmd_;        // --eval-cmd, if given
  double eval_original_ = 0;    // its metric on the original
};

ONNXC_REGISTER_PASS(PruneChannels);

}  // namespace
}  // namespace onnxc
