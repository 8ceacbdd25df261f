#include "passes/quantization/layer_sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "analysis/output_check.h"
#include "kernels/executor.h"
#include "passes/quantization/quantizer.h"

namespace onnxc {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double RankKey(const LayerSensitivityEntry& e, const std::string& by) {
  // Smaller = worse for every key.
  if (by == "output-cosine") return e.output.cosine;
  if (by == "layer-cosine") return e.layer.cosine;
  if (by == "layer-sqnr") return e.layer.sqnr_db;
  if (by == "revert-sqnr") return -e.revert.sqnr_db;  // the biggest gain first
  return e.output.sqnr_db;
}

bool IsFloatView(const TensorView& t) { return t.type == onnx::TensorProto::FLOAT; }

absl::Status CheckSettings(const LayerSensitivity::Settings& s) {
  const QuantizationConfig::Scheme scheme = s.config.scheme();
  if (scheme != QuantizationConfig::W8A8 && scheme != QuantizationConfig::W8A16_ACT)
    return absl::InvalidArgumentError(absl::StrCat("layer-sensitivity measures static (QDQ) quantization; scheme ",
                                                   QuantizationConfig::Scheme_Name(scheme), " is not supported"));
  if (s.samples < 1)
    return absl::InvalidArgumentError(absl::StrCat("eval-samples=", s.samples, ": expected an integer >= 1"));
  const std::set<std::string> ranks = {"output-sqnr", "output-cosine", "layer-cosine", "layer-sqnr", "revert-sqnr"};
  if (!ranks.count(s.rank_by))
    return absl::InvalidArgumentError(absl::StrCat(
        "rank-by=", s.rank_by, " is not one of: output-sqnr, output-cosine, layer-cosine, layer-sqnr, revert-sqnr"));
  return absl::OkStatus();
}

// The evaluation samples: the first N of the calibration data, kept.
absl::Status LoadSamples(const Model& model, const LayerSensitivity::Settings& s, const Reporter& reporter,
                         LayerSensitivity* result) {
  CalibrationOptions co;
  co.max_samples = s.samples;
  co.max_batch = std::max<int64_t>(1, s.calibration.batch);
  co.shape = s.calibration.shape;
  co.reporter = reporter;
  auto data = CalibrationData::Open(model, s.calibration.data, co);
  if (!data.ok()) return data.status();
  for (;;) {
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) break;
    result->sample_count += (**sample).rows;
    result->samples.push_back(std::move(**sample));
  }
  if (result->samples.empty()) return absl::InvalidArgumentError("layer-sensitivity: no calibration samples");
  return absl::OkStatus();
}

// The layers (quantizable nodes, a Relu/Clip the quantizer folds joined to
// the layer before it) and the float value each is judged by.
void FindLayers(const Model& model, LayerSensitivity* result, std::map<const Value*, int>* watched) {
  std::vector<std::string> layer_ids = QuantizableLayers(model, result->settings);
  std::map<std::string, const Node*> node_of;
  std::map<const Node*, std::string> id_of;
  for (const auto& [n, id] : StableNodeIds(model.graph())) {
    node_of[id] = n;
    id_of[n] = id;
  }
  std::set<std::string> is_layer(layer_ids.begin(), layer_ids.end());
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
  for (const std::string& id : layer_ids) {
    if (folded_into.count(id)) continue;
    LayerSensitivityEntry e;
    e.node = id;
    const Node* n = node_of.at(id);
    e.op_type = n->op_type();
    for (const auto& [f, p] : folded_into)
      if (p == id) {
        e.folded.push_back(f);
        n = node_of.at(f);  // judged after the Relu/Clip, where consumers read it
        e.op_type += "+" + n->op_type();
      }
    if (n->output(0)) {
      e.tensor = n->output(0)->name();
      (*watched)[n->output(0)] = static_cast<int>(result->layers.size());
    }
    result->layers.push_back(std::move(e));
  }
}

// The float reference: the model's outputs and every layer's output, once.
absl::Status MeasureFloatReference(const Model& model, const ExecutorOptions& eo,
                                   const std::map<const Value*, int>& watched, LayerSensitivity* result,
                                   std::vector<std::vector<std::vector<float>>>* layer_ref) {
  layer_ref->assign(result->layers.size(), std::vector<std::vector<float>>(result->samples.size()));
  auto ex = Executor::Create(model, eo);
  if (!ex.ok()) return ex.status();
  for (size_t s = 0; s < result->samples.size(); ++s) {
    Observer obs = [&](const Value& v, const TensorView& t) {
      auto it = watched.find(&v);
      if (it == watched.end() || !IsFloatView(t)) return;
      auto span = t.span<float>();
      (*layer_ref)[it->second][s].assign(span.begin(), span.end());
    };
    auto observed = (*ex)->Run(result->samples[s].inputs, &obs);
    if (!observed.ok()) return observed.status();
    // The outputs again without the observer: the candidates run unobserved
    // (fused), and a reference from the other plan would differ from them by
    // float rounding, which is all the error of a harmless layer.
    auto out = (*ex)->Run(result->samples[s].inputs);
    if (!out.ok()) return out.status();
    result->reference_outputs.push_back(std::move(*out));
    result->runs += 2;
  }
  return absl::OkStatus();
}

// The layer's output in the quantized clone as its consumers read it: through
// the Q/DQ pair on it, if any (a folded Relu/Clip is gone: its readers read
// the producer's output).
const Value* MeasuredValue(const Model& clone, const LayerSensitivityEntry& e) {
  const Value* measured = nullptr;
  const std::string& last = e.folded.empty() ? e.node : e.folded.back();
  const Value* own = nullptr;
  for (const auto& [n, id] : StableNodeIds(clone.graph())) {
    if (id == last) measured = n->output(0);
    if (id == e.node) own = n->output(0);
  }
  if (measured == nullptr) measured = own;
  if (measured == nullptr) return nullptr;
  for (const Use& u : measured->uses()) {
    if (u.node->op_type() != "QuantizeLinear" || u.node->output(0) == nullptr) continue;
    for (const Use& u2 : u.node->output(0)->uses())
      if (u2.node->op_type() == "DequantizeLinear") measured = u2.node->output(0);
    break;
  }
  return measured;
}

// One model per layer, quantized alone: the error at the layer and at the outputs.
absl::Status MeasureLayer(const Model& model, const CalibrationStats& stats, const ExecutorOptions& eo,
                          const std::vector<std::vector<float>>& layer_ref, LayerSensitivity* result,
                          LayerSensitivityEntry& e) {
  auto clone = model.Clone();
  QuantizeOptions qo;
  qo.stats = &stats;
  qo.only = absl::flat_hash_set<std::string>{e.node};
  for (const std::string& f : e.folded) qo.only->insert(f);
  auto report = QuantizeModel(*clone, result->settings, qo);
  if (!report.ok()) {
    e.note = absl::StrCat("quantizing it failed: ", report.status().message());
    return absl::OkStatus();
  }
  if (report->quantized_nodes == 0) {
    e.note = report->record.skipped_size() > 0 ? absl::StrCat("not quantized: ", report->record.skipped(0))
                                               : "not quantized alone";
    return absl::OkStatus();
  }
  const Value* measured = MeasuredValue(*clone, e);
  if (measured != nullptr) e.tensor = measured->name();
  // The measured tensor is read as an extra graph output rather than through
  // an observer: an observed run sees every tensor, so nothing fuses, and
  // runs about 2x slower (convs without their BN/Relu, the QDQ model's float
  // layers off the prepacked conv path).
  const size_t model_outputs = clone->graph().outputs().size();
  int measured_output = -1;
  for (size_t o = 0; measured != nullptr && o < model_outputs; ++o)
    if (clone->graph().outputs()[o] == measured) measured_output = static_cast<int>(o);
  if (measured != nullptr && measured_output < 0 && measured->graph() == &clone->graph()) {
    clone->graph().AddOutput(clone->graph().FindLocalValue(measured->name()));
    measured_output = static_cast<int>(model_outputs);
  }
  auto ex = Executor::Create(*clone, eo);
  if (!ex.ok()) {
    e.note = absl::StrCat("cannot run the quantized model: ", ex.status().message());
    return absl::OkStatus();
  }
  ErrorAccumulator layer_acc, out_acc;
  bool shape_mismatch = false;
  for (size_t s = 0; s < result->samples.size(); ++s) {
    auto out = (*ex)->Run(result->samples[s].inputs);
    ++result->runs;
    if (!out.ok())
      return absl::Status(out.status().code(),
                          absl::StrCat("layer-sensitivity, ", e.node, " quantized: ", out.status().message()));
    if (measured_output >= 0 && measured_output < static_cast<int>(out->size())) {
      const Tensor& t = (*out)[measured_output];
      const std::vector<float>& r = layer_ref[s];
      if (t.type() == onnx::TensorProto::FLOAT) {
        if (static_cast<int64_t>(r.size()) == t.num_elements()) layer_acc.Add(r.data(), t.data<float>(), t.num_elements());
        else shape_mismatch = true;
      }
    }
    for (size_t o = 0; o < out->size() && o < model_outputs; ++o) {
      std::vector<float> r = result->reference_outputs[s][o].ToFloatVector(), x = (*out)[o].ToFloatVector();
      if (r.size() == x.size()) out_acc.Add(r.data(), x.data(), static_cast<int64_t>(r.size()));
    }
  }
  e.layer = layer_acc.Get();
  e.output = out_acc.Get();
  e.measured = true;
  if (shape_mismatch) e.note = "layer output shape differs from the float model's";
  return absl::OkStatus();
}

// The reverse: everything quantized but one layer (what keeping it float
// alone buys), plus the all-quantized baseline.
absl::Status MeasureReverts(const Model& model, const CalibrationStats& stats, const ExecutorOptions& eo,
                            ProgressTracker& progress, LayerSensitivity* result) {
  auto measure_all_but = [&](std::vector<std::pair<std::string, std::string>> keep) -> absl::StatusOr<ErrorMetrics> {
    auto q = QuantizeClone(model, result->settings, stats, keep);
    if (!q.ok()) return q.status();
    result->runs += static_cast<int64_t>(result->samples.size());
    return CompareOutputs(**q, *result, eo);
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
  return absl::OkStatus();
}

void Rank(LayerSensitivity* result) {
  for (size_t i = 0; i < result->layers.size(); ++i)
    if (result->layers[i].measured) result->ranking.push_back(static_cast<int>(i));
  const std::string by = result->rank_by;
  std::stable_sort(result->ranking.begin(), result->ranking.end(), [&](int a, int b) {
    double ka = RankKey(result->layers[a], by), kb = RankKey(result->layers[b], by);
    if (ka != kb) return ka < kb;
    return result->layers[a].output.mse > result->layers[b].output.mse;
  });
}

}  // namespace

std::string LayerSensitivity::Settings::CacheKey() const {
  return absl::StrCat(config.SerializeAsString(), "|", calibration.CacheKey(), "|", samples, "|", rank_by, "|",
                      revert);
}

absl::StatusOr<std::unique_ptr<Model>> QuantizeClone(
    const Model& model, const QuantizationSettings& settings, const CalibrationStats& stats,
    const std::vector<std::pair<std::string, std::string>>& keep_float,
    const std::vector<std::pair<std::string, std::string>>& wide_activations) {
  auto clone = model.Clone();
  QuantizeOptions qo;
  qo.stats = &stats;
  qo.keep_float = keep_float;
  qo.wide_activations = wide_activations;
  auto report = QuantizeModel(*clone, settings, qo);
  if (!report.ok()) return report.status();
  return clone;
}

absl::StatusOr<ErrorMetrics> CompareOutputs(const Model& candidate, const LayerSensitivity& ref,
                                            const ExecutorOptions& eo) {
  return PooledOutputError(candidate, ref.samples, ref.reference_outputs, eo);
}

absl::StatusOr<std::unique_ptr<LayerSensitivity>> LayerSensitivity::Compute(Model& model, const AnalysisContext& ctx,
                                                                           const Settings& settings) {
  const double start = Now();
  absl::Status ok = CheckSettings(settings);
  if (!ok.ok()) return ok;
  auto result = std::make_unique<LayerSensitivity>();
  auto resolved = QuantizationSettings::FromConfig(settings.config, "layer-sensitivity");
  if (!resolved.ok()) return resolved.status();
  result->settings = *resolved;
  result->rank_by = settings.rank_by;

  // Calibration statistics: the same analysis (and the same samples) quantize uses.
  if (ctx.analyses == nullptr) return absl::InternalError("layer-sensitivity needs an analysis manager");
  auto stats = ctx.analyses->Get<CalibrationStats>(model, ctx, settings.calibration);
  if (!stats.ok()) return stats.status();
  if (!(ok = LoadSamples(model, settings, ctx.reporter, result.get())).ok()) return ok;

  std::map<const Value*, int> watched;  // float model value -> layer index
  FindLayers(model, result.get(), &watched);
  const bool revert = settings.revert || result->rank_by == "revert-sqnr";
  const int64_t layers = static_cast<int64_t>(result->layers.size());
  ProgressTracker progress(ctx.reporter, "layer sensitivity", "models", layers * (revert ? 2 : 1) + (revert ? 2 : 1));

  progress.Update(0, "float reference");
  std::vector<std::vector<std::vector<float>>> layer_ref;
  if (!(ok = MeasureFloatReference(model, ctx.executor, watched, result.get(), &layer_ref)).ok()) return ok;
  for (size_t i = 0; i < result->layers.size(); ++i) {
    progress.Update(static_cast<int64_t>(i) + 1, result->layers[i].node);
    ok = MeasureLayer(model, **stats, ctx.executor, layer_ref[i], result.get(), result->layers[i]);
    if (!ok.ok()) return ok;
  }
  if (revert && !(ok = MeasureReverts(model, **stats, ctx.executor, progress, result.get())).ok()) return ok;
  progress.Update(layers * (revert ? 2 : 1) + (revert ? 2 : 1), "done");
  Rank(result.get());
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

}  // namespace onnxc
