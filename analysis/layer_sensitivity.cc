#include "analysis/layer_sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/text_format.h"
#include "kernels/executor.h"
#include "passes/quantize_common.h"
#include "passes/quantizer.h"
#include "passes/registry.h"

namespace onnxc {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Extra(const RunSettings& s, const std::string& key, const std::string& def = "") {
  auto it = s.extra.find(key);
  return it == s.extra.end() ? def : it->second;
}

// "layer sensitivity [#####.....] 12/30 models, 3.1 s  /layer1/conv"
class Progress {
 public:
  Progress(bool enabled, int64_t total) : enabled_(enabled), total_(total), start_(Now()) {}
  void Update(int64_t done, const std::string& what) {
    if (!enabled_) return;
    double now = Now();
    if (now - last_ < 0.05 && done != total_) return;
    last_ = now;
    const int width = 30;
    int filled = total_ > 0 ? static_cast<int>(width * std::min<double>(1.0, double(done) / total_)) : 0;
    std::fprintf(stderr, "\rlayer sensitivity [%s%s] %lld/%lld models, %.1f s  %s\033[K",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), now - start_, what.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  ~Progress() {
    if (shown_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  int64_t total_;
  double start_, last_ = 0;
  bool shown_ = false;
};

double RankKey(const LayerSensitivityEntry& e, const std::string& by) {
  // Smaller = worse for every key.
  if (by == "output-cosine") return e.output.cosine;
  if (by == "layer-cosine") return e.layer.cosine;
  if (by == "layer-sqnr") return e.layer.sqnr_db;
  if (by == "revert-sqnr") return -e.revert.sqnr_db;  // the biggest gain first
  return e.output.sqnr_db;
}

bool IsFloatView(const TensorView& t) { return t.type == onnx::TensorProto::FLOAT; }

}  // namespace

nlohmann::json ErrorMetrics::ToJson() const {
  double s = std::isfinite(sqnr_db) ? std::min(sqnr_db, 200.0) : (sqnr_db > 0 ? 200.0 : -200.0);
  return {{"cosine", cosine}, {"sqnr_db", s}, {"mse", mse}};
}

void ErrorAccumulator::Add(const float* ref, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double r = ref[i], v = x[i], e = r - v;
    rr_ += r * r;
    ee_ += e * e;
    rx_ += r * v;
    xx_ += v * v;
  }
  n_ += n;
}

ErrorMetrics ErrorAccumulator::Get() const {
  ErrorMetrics m;
  if (n_ == 0) return m;
  m.mse = ee_ / n_;
  m.sqnr_db = ee_ == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(rr_ / ee_);
  if (rr_ == 0 && xx_ == 0) m.cosine = 1;
  else if (rr_ == 0 || xx_ == 0) m.cosine = 0;
  else m.cosine = rx_ / std::sqrt(rr_ * xx_);
  return m;
}

RunSettings SensitivityRunSettings(const RunSettings& run, const QuantizationSettings& settings, int64_t samples,
                                   const std::string& rank_by) {
  RunSettings r = run;
  google::protobuf::TextFormat::PrintToString(settings.config(), &r.extra["quantization-config"]);
  r.extra["sensitivity-samples"] = absl::StrCat(samples);
  r.extra["sensitivity-rank-by"] = rank_by;
  return r;
}

absl::StatusOr<std::unique_ptr<Model>> QuantizeClone(const Model& model, const QuantizationSettings& settings,
                                                     const CalibrationStats& stats,
                                                     const std::vector<std::pair<std::string, std::string>>& keep_float) {
  auto clone = model.Clone();
  QuantizeOptions qo;
  qo.stats = &stats;
  qo.keep_float = keep_float;
  auto report = QuantizeModel(*clone, settings, qo);
  if (!report.ok()) return report.status();
  return clone;
}

absl::StatusOr<ErrorMetrics> CompareOutputs(const Model& candidate, const LayerSensitivity& ref, int threads) {
  ExecutorOptions eo;
  eo.threads = std::max(1, threads);
  auto ex = Executor::Create(candidate, eo);
  if (!ex.ok()) return ex.status();
  ErrorAccumulator acc;
  for (size_t s = 0; s < ref.samples.size(); ++s) {
    auto out = (*ex)->Run(ref.samples[s].inputs);
    if (!out.ok()) return out.status();
    for (size_t o = 0; o < out->size() && o < ref.reference_outputs[s].size(); ++o) {
      std::vector<float> r = ref.reference_outputs[s][o].ToFloatVector(), x = (*out)[o].ToFloatVector();
      if (r.size() != x.size())
        return absl::InternalError(absl::StrCat("output ", o, " has ", x.size(), " elements, the float model's ",
                                                r.size()));
      acc.Add(r.data(), x.data(), static_cast<int64_t>(r.size()));
    }
  }
  return acc.Get();
}

absl::StatusOr<std::unique_ptr<LayerSensitivity>> LayerSensitivity::Compute(Model& model, PassContext& ctx) {
  RunSettings defaults;
  const RunSettings& rs = ctx.settings ? *ctx.settings : defaults;
  const double start = Now();
  auto result = std::make_unique<LayerSensitivity>();

  // Settings: the resolved quantization config, as `quantize` would use it.
  QuantizationConfig config;
  if (std::string text = Extra(rs, "quantization-config"); !text.empty() &&
      !google::protobuf::TextFormat::ParseFromString(text, &config))
    return absl::InvalidArgumentError("layer-sensitivity: the quantization config is invalid");
  auto settings = QuantizationSettings::FromConfig(config, "layer-sensitivity");
  if (!settings.ok()) return settings.status();
  result->settings = *settings;
  if (config.scheme() != QuantizationConfig::W8A8 && config.scheme() != QuantizationConfig::W8A16_ACT)
    return absl::InvalidArgumentError(absl::StrCat("layer-sensitivity measures static (QDQ) quantization; scheme ",
                                                   QuantizationConfig::Scheme_Name(config.scheme()),
                                                   " is not supported"));
  int64_t n_samples = 16;
  if (std::string v = Extra(rs, "sensitivity-samples"); !v.empty() && (!absl::SimpleAtoi(v, &n_samples) || n_samples < 1))
    return absl::InvalidArgumentError(absl::StrCat("sensitivity-samples=", v, ": expected an integer >= 1"));
  result->rank_by = Extra(rs, "sensitivity-rank-by", "output-sqnr");
  if (result->rank_by != "output-sqnr" && result->rank_by != "output-cosine" && result->rank_by != "layer-cosine" &&
      result->rank_by != "layer-sqnr" && result->rank_by != "revert-sqnr")
    return absl::InvalidArgumentError(absl::StrCat("rank-by=", result->rank_by,
                                                   " is not one of: output-sqnr, output-cosine, layer-cosine, layer-sqnr, revert-sqnr"));

  // Calibration statistics: the same analysis (and the same samples) quantize uses.
  RunSettings calib_run = CalibrationRunSettings(config, rs);
  PassContext calib_ctx{ctx.analyses, &calib_run};
  if (ctx.analyses == nullptr) return absl::InternalError("layer-sensitivity needs an analysis manager");
  auto stats = ctx.analyses->Get<CalibrationStats>(model, calib_ctx);
  if (!stats.ok()) return stats.status();

  // The evaluation samples (the first N of the calibration data), kept.
  CalibrationOptions co;
  co.max_samples = n_samples;
  int64_t batch = 32;
  if (std::string v = Extra(rs, "calib-batch"); !v.empty()) absl::SimpleAtoi(v, &batch);
  co.max_batch = std::max<int64_t>(1, batch);
  co.shape = Extra(rs, "calib-shape");
  auto data = CalibrationData::Open(model, rs.calib_data, co);
  if (!data.ok()) return data.status();
  for (;;) {
    auto s = (*data)->Next();
    if (!s.ok()) return s.status();
    if (!s->has_value()) break;
    result->sample_count += (**s).rows;
    result->samples.push_back(std::move(**s));
  }
  if (result->samples.empty()) return absl::InvalidArgumentError("layer-sensitivity: no calibration samples");

  // Layers and the tensor each one is judged by.
  std::vector<std::string> layer_ids = QuantizableLayers(model, result->settings);
  std::map<std::string, const Node*> node_of;
  for (const auto& [n, id] : StableNodeIds(model.graph())) node_of[id] = n;
  std::map<const Value*, int> watched;  // float model value -> layer index
  std::set<std::string> is_layer(layer_ids.begin(), layer_ids.end());
  std::map<const Node*, std::string> id_of;
  for (const auto& [id, n] : node_of) id_of[n] = id;
  // Relu/Clip folded into the layer before it: the quantizer folds when the
  // producer is quantized and the Relu/Clip is its output's only reader.
  std::map<std::string, std::string> folded_into;
  for (const std::string& id : layer_ids) {
    const Node* n = node_of.at(id);
    if (n->op_type() != "Relu" && n->op_type() != "Clip") continue;
    const Value* x = n->input(0);
    const Node* p = x ? x->producer() : nullptr;
    if (p == nullptr || p->op_type() == "Relu" || p->op_type() == "Clip" || !is_layer.count(id_of[p])) continue;
    if (x->uses().size() != 1 || !x->output_of().empty()) continue;
    folded_into[id] = id_of[p];
  }
  std::map<std::string, int> entry_of;
  for (const std::string& id : layer_ids) {
    if (folded_into.count(id)) continue;
    LayerSensitivityEntry e;
    e.node = id;
    const Node* n = node_of.at(id);
    e.op_type = n->op_type();
    entry_of[id] = static_cast<int>(result->layers.size());
    for (const auto& [f, p] : folded_into)
      if (p == id) {
        e.folded.push_back(f);
        n = node_of.at(f);  // judged after the Relu/Clip, where consumers read it
        e.op_type += "+" + n->op_type();
      }
    if (n->output(0)) {
      e.tensor = n->output(0)->name();
      watched[n->output(0)] = static_cast<int>(result->layers.size());
    }
    result->layers.push_back(std::move(e));
  }

  const bool revert = Extra(rs, "sensitivity-revert", "false") == "true" || result->rank_by == "revert-sqnr";
  const int64_t total = static_cast<int64_t>(result->layers.size()) * (revert ? 2 : 1) + (revert ? 2 : 1);
  Progress progress(rs.progress, total);
  ExecutorOptions eo;
  eo.threads = std::max(1, rs.threads);

  // 1. The float reference: outputs and every layer's output, once.
  std::vector<std::vector<std::vector<float>>> layer_ref(result->layers.size(),
                                                         std::vector<std::vector<float>>(result->samples.size()));
  {
    progress.Update(0, "float reference");
    auto ex = Executor::Create(model, eo);
    if (!ex.ok()) return ex.status();
    for (size_t s = 0; s < result->samples.size(); ++s) {
      Observer obs = [&](const Value& v, const TensorView& t) {
        auto it = watched.find(&v);
        if (it == watched.end() || !IsFloatView(t)) return;
        auto span = t.span<float>();
        layer_ref[it->second][s].assign(span.begin(), span.end());
      };
      auto out = (*ex)->Run(result->samples[s].inputs, &obs);
      if (!out.ok()) return out.status();
      result->reference_outputs.push_back(std::move(*out));
      ++result->runs;
    }
  }

  // 2. One model per layer, quantized alone.
  for (size_t i = 0; i < result->layers.size(); ++i) {
    LayerSensitivityEntry& e = result->layers[i];
    progress.Update(static_cast<int64_t>(i) + 1, e.node);
    auto clone = model.Clone();
    QuantizeOptions qo;
    qo.stats = *stats;
    qo.only = absl::flat_hash_set<std::string>{e.node};
    for (const std::string& f : e.folded) qo.only->insert(f);
    auto report = QuantizeModel(*clone, result->settings, qo);
    if (!report.ok()) {
      e.note = absl::StrCat("quantizing it failed: ", report.status().message());
      continue;
    }
    if (report->quantized_nodes == 0) {
      e.note = report->record.skipped_size() > 0 ? absl::StrCat("not quantized: ", report->record.skipped(0))
                                                 : "not quantized alone";
      continue;
    }
    // The layer's output as its consumers read it: through the Q/DQ pair on it, if any.
    const Value* measured = nullptr;
    const std::string& last = e.folded.empty() ? e.node : e.folded.back();
    const Value* own = nullptr;
    for (const auto& [n, id] : StableNodeIds(clone->graph())) {
      if (id == last) measured = n->output(0);
      if (id == e.node) own = n->output(0);
    }
    // A folded Relu/Clip is gone: its readers read the producer's output (through its Q/DQ pair).
    if (measured == nullptr) measured = own;
    if (measured != nullptr) {
      for (const Use& u : measured->uses()) {
        if (u.node->op_type() != "QuantizeLinear" || u.node->output(0) == nullptr) continue;
        for (const Use& u2 : u.node->output(0)->uses())
          if (u2.node->op_type() == "DequantizeLinear") measured = u2.node->output(0);
        break;
      }
      e.tensor = measured->name();
    }
    auto ex = Executor::Create(*clone, eo);
    if (!ex.ok()) {
      e.note = absl::StrCat("cannot run the quantized model: ", ex.status().message());
      continue;
    }
    ErrorAccumulator layer_acc, out_acc;
    bool shape_mismatch = false;
    for (size_t s = 0; s < result->samples.size(); ++s) {
      Observer obs = [&](const Value& v, const TensorView& t) {
        if (&v != measured || !IsFloatView(t)) return;
        const std::vector<float>& r = layer_ref[i][s];
        if (static_cast<int64_t>(r.size()) != t.num_elements()) {
          shape_mismatch = true;
          return;
        }
        layer_acc.Add(r.data(), t.span<float>().data(), t.num_elements());
      };
      auto out = (*ex)->Run(result->samples[s].inputs, &obs);
      ++result->runs;
      if (!out.ok()) return absl::Status(out.status().code(), absl::StrCat("layer-sensitivity, ", e.node,
                                                                           " quantized: ", out.status().message()));
      for (size_t o = 0; o < out->size(); ++o) {
        std::vector<float> r = result->reference_outputs[s][o].ToFloatVector(), x = (*out)[o].ToFloatVector();
        if (r.size() == x.size()) out_acc.Add(r.data(), x.data(), static_cast<int64_t>(r.size()));
      }
    }
    e.layer = layer_acc.Get();
    e.output = out_acc.Get();
    e.measured = true;
    if (shape_mismatch) e.note = "layer output shape differs from the float model's";
  }
  // 3. Optionally, the reverse: everything quantized but this layer (what
  // keeping it float alone buys), plus the all-quantized baseline.
  if (revert) {
    auto measure_all_but = [&](std::vector<std::pair<std::string, std::string>> keep) -> absl::StatusOr<ErrorMetrics> {
      auto q = QuantizeClone(model, result->settings, **stats, keep);
      if (!q.ok()) return q.status();
      result->runs += static_cast<int64_t>(result->samples.size());
      return CompareOutputs(**q, *result, rs.threads);
    };
    auto base = measure_all_but({});
    if (!base.ok()) return base.status();
    result->all_quantized = *base;
    result->has_revert = true;
    for (size_t i = 0; i < result->layers.size(); ++i) {
      LayerSensitivityEntry& e = result->layers[i];
      progress.Update(static_cast<int64_t>(result->layers.size() + 1 + i), "revert " + e.node);
      if (!e.measured) continue;
      std::vector<std::pair<std::string, std::string>> keep;
      for (const std::string& m : result->Members(e.node)) keep.emplace_back(m, "revert");
      auto m = measure_all_but(keep);
      if (!m.ok()) return m.status();
      e.revert = *m;
    }
  }
  progress.Update(total, "done");

  for (size_t i = 0; i < result->layers.size(); ++i)
    if (result->layers[i].measured) result->ranking.push_back(static_cast<int>(i));
  const std::string by = result->rank_by;
  std::stable_sort(result->ranking.begin(), result->ranking.end(), [&](int a, int b) {
    double ka = RankKey(result->layers[a], by), kb = RankKey(result->layers[b], by);
    if (ka != kb) return ka < kb;
    return result->layers[a].output.mse > result->layers[b].output.mse;
  });
  result->seconds = Now() - start;
  return result;
}

std::vector<std::string> LayerSensitivity::RankedNodes() const {
  std::vector<std::string> out;
  for (int i : ranking) out.push_back(layers[i].node);
  return out;
}

std::vector<std::string> LayerSensitivity::Members(const std::string& node) const {
  std::vector<std::string> out = {node};
  for (const auto& e : layers)
    if (e.node == node) out.insert(out.end(), e.folded.begin(), e.folded.end());
  return out;
}

nlohmann::json LayerSensitivity::ToJson() const {
  nlohmann::json j;
  j["rank_by"] = rank_by;
  j["samples"] = sample_count;
  j["runs"] = runs;
  j["seconds"] = seconds;
  j["ranking"] = RankedNodes();
  if (has_revert) j["all_quantized"] = all_quantized.ToJson();
  nlohmann::json ls = nlohmann::json::array();
  std::vector<int> order = ranking;
  for (size_t i = 0; i < layers.size(); ++i)
    if (!layers[i].measured) order.push_back(static_cast<int>(i));
  for (size_t r = 0; r < order.size(); ++r) {
    const LayerSensitivityEntry& e = layers[order[r]];
    nlohmann::json l = {{"node", e.node}, {"op_type", e.op_type}, {"tensor", e.tensor}};
    if (!e.folded.empty()) l["folded"] = e.folded;
    if (e.measured) {
      l["rank"] = r + 1;
      l["layer"] = e.layer.ToJson();
      l["output"] = e.output.ToJson();
      // AMCT's score: 0.5 + 0.5 cos at the layer's output.
      l["amct_score"] = 0.5 + 0.5 * e.layer.cosine;
      if (has_revert) l["revert"] = e.revert.ToJson();
    }
    if (!e.note.empty()) l["note"] = e.note;
    ls.push_back(std::move(l));
  }
  j["layers"] = std::move(ls);
  return j;
}

namespace {

class LayerSensitivityPass : public Pass {
 public:
  static constexpr char kName[] = "layer-sensitivity";
  static constexpr char kDescription[] =
      "reports the layer-sensitivity analysis: per quantizable layer, the error (cosine, SQNR, MSE at the layer's "
      "output and at the model's outputs) when only that layer is quantized, measured on calibration samples; "
      "ranked worst first. Takes quantize's options, so it measures what quantize will do";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    std::vector<OptionSpec> o = QuantizationSettingOptions();
    o.push_back({"eval-samples", T::kInt, "16", "calibration samples to measure on (the first N)"});
    o.push_back({"rank-by", T::kString, "output-sqnr",
                 "output-sqnr | output-cosine | layer-cosine (AMCT) | layer-sqnr | revert-sqnr (needs revert)"});
    o.push_back({"revert", T::kBool, "false",
                 "also measure each layer kept float with all others quantized (L more runs)"});
    o.push_back({"show", T::kInt, "5", "how many of the worst layers to name in the notes"});
    return o;
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto settings = ResolveQuantizationSettings(options(), *ctx.settings, kName, /*read_skip=*/false);
    if (!settings.ok()) return settings.status();
    RunSettings run = SensitivityRunSettings(*ctx.settings, *settings, options().GetInt("eval-samples"),
                                             options().GetString("rank-by"));
    run.extra["sensitivity-revert"] = options().GetBool("revert") ? "true" : "false";
    PassContext sctx{ctx.analyses, &run};
    bool cached = ctx.analyses->GetCached<LayerSensitivity>() != nullptr;
    auto sens = ctx.analyses->Get<LayerSensitivity>(model, sctx);
    if (!sens.ok()) return sens.status();
    const LayerSensitivity& s = **sens;
    PassResult r;
    r.changes = 0;
    r.preserved = PreservedAnalyses::All();
    r.details = s.ToJson();
    int measured = static_cast<int>(s.ranking.size());
    r.notes.push_back(absl::StrFormat("%d layers measured (%d not quantizable alone) on %d samples, %d runs, %.1f s%s; "
                                      "ranked by %s, worst first",
                                      measured, static_cast<int>(s.layers.size()) - measured,
                                      static_cast<int>(s.sample_count), static_cast<int>(s.runs), s.seconds,
                                      cached ? " (cached)" : "", s.rank_by));
    for (int k = 0; k < std::min<int>(measured, options().GetInt("show")); ++k) {
      const LayerSensitivityEntry& e = s.layers[s.ranking[k]];
      r.notes.push_back(absl::StrFormat("#%d %s (%s): output SQNR %.1f dB, cosine %.6f; layer cosine %.6f",
                                        k + 1, e.node, e.op_type, e.output.sqnr_db, e.output.cosine,
                                        e.layer.cosine));
    }
    return r;
  }
};

ONNXC_REGISTER_PASS(LayerSensitivityPass);

}  // namespace
}  // namespace onnxc
