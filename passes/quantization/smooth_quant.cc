// smooth-quant: SmoothQuant (Xiao et al. 2023), as ONNX Runtime's and Intel
// Neural Compressor's quantizers apply it. A layer y = W x whose input has a
// few channels far larger than the rest loses those channels' neighbours to
// the per-tensor activation scale. Dividing input channel j by
//   s_j = max|x_j|^alpha / max|W[:, j]|^(1 - alpha)
// and multiplying W's column j by it leaves y unchanged and moves the
// outliers into the weights, whose scales are per output channel.
//
// x / s is folded into the op that produced x where that is exact:
// LayerNormalization (its scale and bias), BatchNormalization, a Conv/Gemm/
// MatMul with constant weights (its output channels), an Add of a constant
// before one of those, through Relu/LeakyRelu/PRelu/Clip(0, inf) (and pooling
// for convs). Otherwise a Mul by 1/s is inserted before the layers (MatMul
// and Gemm by default: mul-ops), whose output the quantizer then quantizes instead of x;
// the Mul itself stays float (a KeepFloatDecisions for quantize), as a
// quantized Mul would round x, outliers and all, before smoothing it.
// All layers reading one x (attention's Q, K, V) share one s, taken over all
// their weights.
//
// alpha=auto picks alpha per input among 0, 0.05, ..., 1 and no smoothing at
// all, by the output noise that int8 rounding would add: uniform rounding
// noise of a per-tensor activation step through the weights' column norms,
// plus that of each output channel's weight step through the inputs' mean
// squares, both from the layer-statistics analysis (per-feature maxima and
// the Gram diagonal).
//
// That prediction knows neither the pair-safe weight constraint of the
// default target nor how the errors of many layers add up at the outputs,
// and on trained CNNs it has been off by 1-3 dB either way. So with verify
// (the default) the smoothed and the original model are both quantized as
// `quantize` would (the run's quantization settings, `target`) and run on the
// calibration data as the target runtime computes; the smoothing is kept only
// if the output error drops. That costs two calibrations and three runs over
// the data. alpha=search does the same for four smoothings (auto, 0.25, 0.5,
// 0.75), each on a copy-on-write clone, and keeps the best.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/calibration/calibration_stats.h"
#include "analysis/layer_statistics/layer_statistics.h"
#include "ir/constants.h"
#include "passes/pass/registry.h"
#include "passes/quantization/channel_scaling.h"
#include "passes/quantization/deployment_target.h"
#include "passes/quantization/layer_sensitivity.h"
#include "passes/quantization/output_error.h"
#include "passes/quantization/quantization_options.h"
#include "passes/quantization/quantization_run_settings.h"
#include "passes/quantization/quantizer.h"
#include "passes/quantization/target_emulation.h"

namespace onnxc {
namespace {

// The layers that read one value, all of the same kind of channel axis.
struct SmoothingGroup {
  Value* input = nullptr;
  std::vector<LinearLayer> layers;
  bool channels_on_axis_1 = false;  // convs; MatMul/Gemm read the last axis
  int64_t channels = 0;
};

// A layer whose weight this pass may rewrite in place.
bool Rewritable(const LinearLayer& l) {
  if (l.kind == LinearLayer::Kind::kConvTranspose || l.groups != 1 || l.dequantized) return false;
  const Value* w = l.weight;
  if (!w->has_initializer() || w->is_graph_input() || w->uses().size() != 1) return false;
  return w->initializer()->type() == onnx::TensorProto::FLOAT;
}

// Unshared float initializer of `n`'s input `i` with exactly `elements` values.
Tensor* OwnedConstant(Node* n, int i, int64_t elements) {
  if (n->num_inputs() <= i || n->input(i) == nullptr) return nullptr;
  Value* v = n->input(i);
  if (!v->has_initializer() || v->is_graph_input() || v->uses().size() != 1) return nullptr;
  Tensor* t = v->mutable_initializer();
  if (t->type() != onnx::TensorProto::FLOAT || t->num_elements() != elements) return nullptr;
  return t;
}

// One edit of the fold, applied only once the whole chain is known to fold.
using Edit = std::function<void(const std::vector<double>& s)>;

// Divides channel c (of `channels`) of a constant laid out with the channel
// at stride `stride` and `channels * stride` elements in all.
Edit DivideChannels(Tensor* t, int64_t channels, int64_t stride) {
  return [t, channels, stride](const std::vector<double>& s) {
    float* d = t->mutable_data<float>();
    const int64_t n = t->num_elements();
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(d[i] / s[(i / stride) % channels]);
  };
}

// Edits that make `x` come out divided by s, or nullopt when the ops behind
// it do not allow that exactly. `x`'s consumers are the caller's business.
std::optional<std::vector<Edit>> PlanFold(const Model& model, Value* x, const SmoothingGroup& g, std::string* head) {
  std::vector<Edit> edits;
  const int64_t C = g.channels;
  for (Value* v = x;;) {
    Node* p = v->producer();
    if (p == nullptr || p->num_outputs() != 1) return std::nullopt;
    if (v != x && (v->uses().size() != 1 || v->IsGraphOutput())) return std::nullopt;
    bool finite_clip = false;
    if (CommutesWithChannelScaling(model, p, g.channels_on_axis_1, &finite_clip) && !finite_clip) {
      v = p->input(0);
      continue;
    }
    *head = p->op_type();
    if (p->IsOp("LayerNormalization") && !g.channels_on_axis_1) {
      if (p->GetInt("axis", -1) != -1) return std::nullopt;
      Tensor* scale = OwnedConstant(p, 1, C);
      if (!scale) return std::nullopt;
      edits.push_back(DivideChannels(scale, C, 1));
      if (p->num_inputs() > 2 && p->input(2)) {
        Tensor* bias = OwnedConstant(p, 2, C);
        if (!bias) return std::nullopt;
        edits.push_back(DivideChannels(bias, C, 1));
      }
      return edits;
    }
    if (p->IsOp("BatchNormalization") && g.channels_on_axis_1) {
      Tensor* scale = OwnedConstant(p, 1, C);
      Tensor* bias = OwnedConstant(p, 2, C);
      if (!scale || !bias) return std::nullopt;
      edits.push_back(DivideChannels(scale, C, 1));
      edits.push_back(DivideChannels(bias, C, 1));
      return edits;
    }
    if (p->IsOp("Add")) {
      // (y + b) / s = y / s + b / s: divide the constant, go on into y.
      for (int side = 0; side < 2; ++side) {
        Value* b = p->input(side);
        if (b == nullptr || !b->has_initializer()) continue;
        const auto& dims = b->initializer()->dims();
        bool per_channel = b->initializer()->num_elements() == C && !dims.empty();
        if (g.channels_on_axis_1) {
          // Right-aligned against the conv input (N, C, H[, W]), C must sit on axis 1.
          const int64_t x_rank = g.layers[0].conv1d ? 3 : 4, at = static_cast<int64_t>(dims.size()) + 1 - x_rank;
          per_channel = per_channel && at >= 0 && at < static_cast<int64_t>(dims.size()) && dims[at] == C;
        } else {
          per_channel = per_channel && dims.back() == C;
        }
        Tensor* t = per_channel ? OwnedConstant(p, side, C) : nullptr;
        if (!t) return std::nullopt;
        edits.push_back(DivideChannels(t, C, 1));
        v = p->input(1 - side);
        break;
      }
      if (v != p->input(0) && v != p->input(1)) return std::nullopt;
      continue;
    }
    // A linear producer: its output channel c is channel c of x.
    auto prod = DescribeLinearLayer(model, p);
    if (!prod.ok() || prod->kind == LinearLayer::Kind::kConvTranspose) return std::nullopt;
    const bool conv = prod->kind == LinearLayer::Kind::kConv;
    if (conv != g.channels_on_axis_1 || prod->groups * prod->outputs_per_group != C) return std::nullopt;
    Value* w = prod->weight;
    if (!w->has_initializer() || w->is_graph_input() || w->uses().size() != 1 ||
        w->initializer()->type() != onnx::TensorProto::FLOAT)
      return std::nullopt;
    Tensor* wt = w->mutable_initializer();
    const int64_t n = wt->num_elements();
    // Output channel c: a conv's weight rows; MatMul's (and Gemm's) columns, or Gemm transB's rows.
    if (conv || prod->trans_b) edits.push_back(DivideChannels(wt, C, n / C));
    else edits.push_back(DivideChannels(wt, C, 1));
    if (p->num_inputs() > 2 && p->input(2)) {
      Tensor* bias = OwnedConstant(p, 2, C);
      if (!bias) return std::nullopt;
      edits.push_back(DivideChannels(bias, C, 1));
    }
    return edits;
  }
}

struct ChannelStats {
  std::vector<double> act_max;     // per channel, over kernel positions: max |x|
  std::vector<double> act_hi, act_lo;  // greatest and least value (0 included)
  std::vector<double> weight_max;  // per channel, over the group's layers
};

ChannelStats ReadChannelStats(const SmoothingGroup& g, const LayerStatistics& stats) {
  ChannelStats cs;
  cs.act_max.assign(g.channels, 0.0);
  cs.act_hi.assign(g.channels, 0.0);
  cs.act_lo.assign(g.channels, 0.0);
  cs.weight_max.assign(g.channels, 0.0);
  for (const LinearLayer& l : g.layers) {
    const LayerGram& gram = stats.layers.at(l.name());
    const float* w = l.weight->initializer()->data<float>();
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t r = 0; r < l.kernel_h; ++r)
        for (int64_t s = 0; s < l.kernel_w; ++s) {
          const int64_t f = l.Feature(c, r, s);
          cs.act_hi[c] = std::max(cs.act_hi[c], gram.max[0](f));
          cs.act_lo[c] = std::min(cs.act_lo[c], gram.min[0](f));
          cs.act_max[c] = std::max(cs.act_hi[c], -cs.act_lo[c]);
          for (int64_t k = 0; k < l.outputs_per_group; ++k)
            cs.weight_max[c] = std::max(cs.weight_max[c], static_cast<double>(std::fabs(w[l.ElementIndex(0, k, c, r, s)])));
        }
  }
  return cs;
}

std::vector<double> Scales(const ChannelStats& cs, double alpha) {
  std::vector<double> s(cs.act_max.size(), 1.0);
  for (size_t c = 0; c < s.size(); ++c)
    if (cs.act_max[c] > 0 && cs.weight_max[c] > 0)
      s[c] = std::clamp(std::pow(cs.act_max[c], alpha) / std::pow(cs.weight_max[c], 1 - alpha), 1e-5, 1e5);
  return s;
}

// Predicted output noise power of int8 rounding (per-tensor activations,
// per-output-channel weights) after scaling the input by 1/s, summed over the
// group's layers and calibration rows.
double PredictedNoise(const SmoothingGroup& g, const LayerStatistics& stats, const ChannelStats& cs,
                      const std::vector<double>& s) {
  // The per-tensor uint8 range of x / s (0 included, as the quantizer's).
  double hi = 0, lo = 0;
  for (size_t c = 0; c < s.size(); ++c) {
    hi = std::max(hi, cs.act_hi[c] / s[c]);
    lo = std::min(lo, cs.act_lo[c] / s[c]);
  }
  const double act_step = (hi - lo) / 255;
  double noise = 0;
  for (const LinearLayer& l : g.layers) {
    const LayerGram& gram = stats.layers.at(l.name());
    const Eigen::VectorXd mean_square = gram.Diagonal(0) / std::max<int64_t>(1, gram.rows);
    const float* w = l.weight->initializer()->data<float>();
    double column_norms = 0, input_power = 0;
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t r = 0; r < l.kernel_h; ++r)
        for (int64_t q = 0; q < l.kernel_w; ++q) input_power += mean_square(l.Feature(c, r, q)) / (s[c] * s[c]);
    double weight_noise = 0;
    for (int64_t k = 0; k < l.outputs_per_group; ++k) {
      double row_max = 0;
      for (int64_t c = 0; c < g.channels; ++c)
        for (int64_t r = 0; r < l.kernel_h; ++r)
          for (int64_t q = 0; q < l.kernel_w; ++q) {
            const double v = w[l.ElementIndex(0, k, c, r, q)] * s[c];
            row_max = std::max(row_max, std::fabs(v));
            column_norms += v * v;
          }
      const double step = row_max / 127;
      weight_noise += step * step / 12 * input_power;
    }
    noise += act_step * act_step / 12 * column_norms + weight_noise;
  }
  return noise;
}

// max / median of the per-channel activation maxima after dividing by s.
double Spread(const ChannelStats& cs, const std::vector<double>& s) {
  std::vector<double> m;
  for (size_t c = 0; c < s.size(); ++c)
    if (cs.act_max[c] > 0) m.push_back(cs.act_max[c] / s[c]);
  if (m.empty()) return 1;
  std::sort(m.begin(), m.end());
  return m.back() / std::max(m[m.size() / 2], 1e-30);
}

// Output MSE on the calibration data of each model quantized as `quantize`
// would (the run's settings, `target` when given), computed as the target
// runtime computes, against `reference` in float. `keep_float[i]` are the
// nodes model i keeps float.
absl::StatusOr<std::vector<double>> QuantizedOutputErrors(
    const Model& reference, const std::vector<Model*>& models,
    const std::vector<std::vector<std::pair<std::string, std::string>>>& keep_float, const std::string& target,
    const char* pass_name, PassContext& ctx) {
  std::vector<std::pair<std::string, std::string>> given;
  if (!target.empty()) given.emplace_back("target", target);
  auto options = PassOptions::Create(pass_name, QuantizationSettingOptions(), given);
  if (!options.ok()) return options.status();
  auto settings = ResolveQuantizationSettings(*options, *ctx.settings, pass_name, /*read_skip=*/false);
  if (!settings.ok()) return settings.status();
  auto runtime = FindDeploymentTarget(settings->config().target());
  if (!runtime.ok()) return runtime.status();
  const CalibrationSettings calibration = CalibrationSettingsFor(settings->config(), *ctx.settings);
  const AnalysisContext actx = ctx.ForAnalyses();
  std::vector<EmulatedModel> emulated;
  for (size_t i = 0; i < models.size(); ++i) {
    auto stats = CalibrationStats::Compute(*models[i], actx, calibration);
    if (!stats.ok()) return stats.status();
    auto quantized = QuantizeClone(*models[i], *settings, **stats, keep_float[i]);
    if (!quantized.ok()) return quantized.status();
    auto e = EmulateTarget(**quantized, **runtime, actx.executor);
    if (!e.ok()) return e.status();
    emulated.push_back(std::move(*e));
  }
  std::vector<ModelToRun> runs;
  for (const EmulatedModel& e : emulated) runs.push_back({e.model.get(), e.executor});
  return OutputErrors(reference, actx.executor, runs, calibration, ctx.settings->reporter);
}

// The rewritable layers of `model` grouped by the value they read, in graph order.
std::vector<SmoothingGroup> GroupLayers(Model& model, const std::vector<std::string>& ops) {
  auto wanted = [&](const std::string& op) { return std::find(ops.begin(), ops.end(), op) != ops.end(); };
  std::map<Value*, SmoothingGroup> by_input;
  std::vector<Value*> order;
  for (LinearLayerCandidate& c : FindLinearLayers(model)) {
    if (!c.layer.ok() || !wanted(c.node->op_type()) || !Rewritable(*c.layer)) continue;
    Value* x = c.node->input(0);
    auto [it, fresh] = by_input.try_emplace(x);
    SmoothingGroup& g = it->second;
    if (fresh) {
      order.push_back(x);
      g.input = x;
      g.channels_on_axis_1 = c.layer->kind == LinearLayer::Kind::kConv;
      g.channels = c.layer->channels_per_group;
    }
    if (g.channels == c.layer->channels_per_group &&
        g.channels_on_axis_1 == (c.layer->kind == LinearLayer::Kind::kConv))
      g.layers.push_back(*c.layer);
  }
  std::vector<SmoothingGroup> groups;
  for (Value* x : order) groups.push_back(std::move(by_input[x]));
  return groups;
}

// What one smoothing of a model did.
struct Smoothing {
  std::string alpha;  // as asked: a number or auto
  int64_t folded = 0, muls = 0, unchanged = 0;
  nlohmann::json inputs = nlohmann::json::array();
  std::vector<std::string> inserted;  // StableNodeIds of the inserted Muls
  double noise_before = 0, noise_after = 0;
  std::string Summary() const {
    return absl::StrFormat(
        "%d layer inputs smoothed (%d folded into the previous op, %d through an inserted Mul), %d left; alpha %s; "
        "predicted int8 output noise %.3g -> %.3g (%.2f dB)",
        static_cast<int>(folded + muls), static_cast<int>(folded), static_cast<int>(muls), static_cast<int>(unchanged),
        alpha, noise_before, noise_after,
        noise_after > 0 && noise_before > 0 ? 10 * std::log10(noise_before / noise_after) : 0.0);
  }
};

// Scales every group's input by 1/s (alpha fixed, or chosen per input by the
// predicted noise when nullopt) and its layers' weight columns by s.
Smoothing Smooth(Model& model, const std::vector<SmoothingGroup>& groups, const LayerStatistics& stats,
                 std::optional<double> alpha, const std::vector<std::string>& mul_ops) {
  Smoothing out;
  out.alpha = alpha ? absl::StrFormat("%g", *alpha) : "auto";
  std::set<const Node*> inserted;
  for (const SmoothingGroup& g : groups) {
    Value* x = g.input;
    const ChannelStats cs = ReadChannelStats(g, stats);
    const std::vector<double> identity(g.channels, 1.0);
    const double base = PredictedNoise(g, stats, cs, identity);
    std::vector<double> s = identity;
    double chosen_alpha = -1, noise = base;
    if (alpha) {
      s = Scales(cs, *alpha);
      chosen_alpha = *alpha;
      noise = PredictedNoise(g, stats, cs, s);
    } else {
      for (int i = 0; i <= 20; ++i) {
        std::vector<double> t = Scales(cs, i / 20.0);
        const double n = PredictedNoise(g, stats, cs, t);
        if (n < noise) noise = n, s = t, chosen_alpha = i / 20.0;
      }
    }
    nlohmann::json e = {{"input", x->name()}, {"layers", static_cast<int64_t>(g.layers.size())},
                        {"channels", g.channels}, {"spread_before", Spread(cs, identity)},
                        {"predicted_noise_before", base}};
    for (const LinearLayer& l : g.layers) e["nodes"].push_back(l.name());
    if (chosen_alpha < 0) {
      e["how"] = "unchanged (no alpha predicted less noise)";
      ++out.unchanged;
      out.noise_before += base, out.noise_after += base;
      out.inputs.push_back(e);
      continue;
    }
    // x / s: folded into its producer when exact, else a Mul before the layers.
    std::string head = "graph input";
    bool all_readers = true;
    for (const Use& u : x->uses()) {
      bool ours = false;
      for (const LinearLayer& l : g.layers) ours = ours || (u.node == l.node && u.index == 0);
      all_readers = all_readers && ours;
    }
    std::optional<std::vector<Edit>> fold;
    if (all_readers && !x->IsGraphOutput()) fold = PlanFold(model, x, g, &head);
    const bool mul_allowed =
        std::find(mul_ops.begin(), mul_ops.end(), g.layers[0].node->op_type()) != mul_ops.end();
    if (!fold && !mul_allowed) {
      e["how"] = absl::StrCat("unchanged (cannot fold into ", head, "; ", g.layers[0].node->op_type(),
                              " not in mul-ops)");
      ++out.unchanged;
      out.noise_before += base, out.noise_after += base;
      out.inputs.push_back(e);
      continue;
    }
    for (const LinearLayer& l : g.layers) {
      float* w = l.weight->mutable_initializer()->mutable_data<float>();
      for (int64_t k = 0; k < l.outputs_per_group; ++k)
        for (int64_t c = 0; c < g.channels; ++c)
          for (int64_t rr = 0; rr < l.kernel_h; ++rr)
            for (int64_t q = 0; q < l.kernel_w; ++q) {
              float& v = w[l.ElementIndex(0, k, c, rr, q)];
              v = static_cast<float>(v * s[c]);
            }
    }
    if (fold) {
      for (const Edit& edit : *fold) edit(s);
      e["how"] = absl::StrCat("folded into ", head);
      ++out.folded;
    } else {
      Graph& graph = model.graph();
      // 1/s broadcast on the channel axis: (C) for the last axis, (C, 1[, 1]) for convs.
      const int64_t rank_tail = g.channels_on_axis_1 ? (g.layers[0].conv1d ? 1 : 2) : 0;
      std::vector<int64_t> dims = {g.channels};
      for (int64_t i = 0; i < rank_tail; ++i) dims.push_back(1);
      Tensor inverse(onnx::TensorProto::FLOAT, dims);
      for (int64_t c = 0; c < g.channels; ++c) inverse.mutable_data<float>()[c] = static_cast<float>(1.0 / s[c]);
      Node* first = g.layers[0].node;
      const std::string base_name = x->name();
      Value* inv = graph.AddInitializer(graph.FreshName(base_name + "_smooth_scale"), std::move(inverse));
      Node* mul = graph.CreateNodeWithOutputs("Mul", {x, inv}, {graph.FreshName(base_name + "_smoothed")}, first,
                                              graph.FreshName(base_name + "_smooth"));
      for (const LinearLayer& l : g.layers) l.node->SetInput(0, mul->output(0));
      inserted.insert(mul);
      e["how"] = absl::StrCat("Mul inserted (cannot fold into ", head, ")");
      ++out.muls;
    }
    e["alpha"] = chosen_alpha;
    e["spread_after"] = Spread(cs, s);
    e["predicted_noise_after"] = noise;
    out.noise_before += base, out.noise_after += noise;
    out.inputs.push_back(e);
  }
  if (!inserted.empty())
    for (const auto& [node, id] : StableNodeIds(model.graph()))
      if (inserted.count(node)) out.inserted.push_back(id);
  return out;
}

class SmoothQuantPass : public Pass {
 public:
  static constexpr char kName[] = "smooth-quant";
  static constexpr char kDescription[] =
      "SmoothQuant: moves activation outliers into the weights of MatMul/Gemm/Conv (folded into the previous op, "
      "else a Mul); run it before quantize; needs calibration data";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    return {{"alpha", T::kString, "0.5",
             "migration strength in [0, 1]; auto: per input, by the predicted int8 noise; search: the best of auto, "
             "0.25, 0.5 and 0.75 by the quantized model's measured output error (4 quantizations)"},
            {"mul-ops", T::kList, "[MatMul,Gemm]",
             "layer types whose input may get a Mul when the scale does not fold ([] to fold only; a float Mul before "
             "every conv costs ONNX Runtime more than the conv: mobilenet_v2 1.8x slower)"},
            {"ops", T::kList, "[MatMul,Gemm]", "layer types to smooth (Conv too, where it is exact)"},
            {"samples", T::kInt, "128", "calibration samples for the activation maxima"},
            {"target", T::kString, "",
             "deployment target verify quantizes for (default: the run's quantization config, else portable)"},
            {"verify", T::kBool, "true",
             "keep the smoothing only if it lowers the quantized model's output error on the calibration data"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    PassResult r;
    // The alphas to try: one, or for search several, judged by measurement.
    std::vector<std::optional<double>> alphas;
    const std::string alpha_text = options().GetString("alpha");
    if (alpha_text == "auto") {
      alphas = {std::nullopt};
    } else if (alpha_text == "search") {
      alphas = {std::nullopt, 0.25, 0.5, 0.75};
    } else {
      double a;
      if (!absl::SimpleAtod(alpha_text, &a) || a < 0 || a > 1)
        return absl::InvalidArgumentError(
            absl::StrCat("smooth-quant: alpha must be a number in [0, 1], auto or search, not '", alpha_text, "'"));
      alphas = {a};
    }
    const bool verify = options().GetBool("verify");
    if (alphas.size() > 1 && !verify)
      return absl::InvalidArgumentError("smooth-quant: alpha=search chooses by measurement; it needs verify=true");
    const CalibrationSettings& calib = ctx.settings->calibration;
    if (calib.data.empty() || calib.data == "random")
      return absl::InvalidArgumentError("smooth-quant: needs calibration data (--calib-data): it scales by the "
                                        "activations' per-channel maxima");
    const std::vector<std::string> ops = options().GetList("ops");
    const std::vector<SmoothingGroup> groups = GroupLayers(model, ops);
    if (groups.empty()) {
      r.notes.push_back("smooth-quant: no MatMul/Gemm" +
                        std::string(std::find(ops.begin(), ops.end(), "Conv") != ops.end() ? "/Conv" : "") +
                        " with an unshared float weight");
      return r;
    }
    LayerStatistics::Settings ls;
    ls.calibration = calib;
    ls.calibration.samples = options().GetInt("samples");
    ls.diagonal_only = true;
    for (const SmoothingGroup& g : groups)
      for (const LinearLayer& l : g.layers) ls.layers.push_back(l.name());
    auto stats = ctx.analyses->Get<LayerStatistics>(model, ctx.ForAnalyses(), ls);
    if (!stats.ok()) return stats.status();
    const std::vector<std::string> mul_ops = options().GetList("mul-ops");

    // Each candidate smooths a copy-on-write clone (weights are copied only
    // as they are edited), so the original stays to compare with and to keep.
    std::vector<std::unique_ptr<Model>> clones;
    std::vector<Smoothing> tried;
    for (const std::optional<double>& a : alphas) {
      clones.push_back(model.Clone());
      tried.push_back(Smooth(*clones.back(), GroupLayers(*clones.back(), ops), **stats, a, mul_ops));
    }
    KeepFloatDecisions keep_before;
    if (const auto* prev = ctx.state->Find<KeepFloatDecisions>()) keep_before = *prev;
    auto keep_for = [&](const Smoothing& t) {
      KeepFloatDecisions k = keep_before;
      for (const std::string& id : t.inserted)
        k.nodes.emplace_back(id, "smooth-quant's scale: quantizing its input would undo it");
      return k;
    };
    int chosen = 0;
    nlohmann::json verdict;
    bool changed_any = false;
    for (const Smoothing& t : tried) changed_any = changed_any || t.folded + t.muls > 0;
    if (verify && changed_any) {
      std::vector<Model*> models = {&model};
      std::vector<std::vector<std::pair<std::string, std::string>>> keeps = {keep_before.nodes};
      for (size_t i = 0; i < clones.size(); ++i) {
        models.push_back(clones[i].get());
        keeps.push_back(keep_for(tried[i]).nodes);
      }
      auto errors = QuantizedOutputErrors(model, models, keeps, options().GetString("target"), kName, ctx);
      if (!errors.ok() && alphas.size() > 1) return errors.status();
      if (!errors.ok()) {
        // A model quantize cannot take as it stands (quantize prepares it first) is not judged.
        r.notes.push_back(absl::StrCat("smooth-quant: not verified (", errors.status().message(), ")"));
      } else {
        // The candidate with the least error; kept only if it beats no smoothing.
        const double before = (*errors)[0];
        int best = 0;
        nlohmann::json candidates = nlohmann::json::array();
        for (size_t i = 0; i < tried.size(); ++i) {
          candidates.push_back({{"alpha", tried[i].alpha}, {"mse", (*errors)[i + 1]}});
          if ((*errors)[i + 1] < (*errors)[best + 1]) best = static_cast<int>(i);
        }
        const double after = (*errors)[best + 1];
        chosen = after < before ? best : -1;
        verdict = {{"mse_before", before},
                   {"mse_after", after},
                   {"gain_db", 10 * std::log10(std::max(before, 1e-30) / std::max(after, 1e-30))},
                   {"kept", chosen >= 0}};
        if (alphas.size() > 1) verdict["candidates"] = candidates;
        if (chosen < 0) {
          for (const Smoothing& t : tried) r.notes.push_back(t.Summary());
          r.notes.push_back(absl::StrFormat(
              "smooth-quant undone: quantized, the output error on the calibration data would rise %.3g -> %.3g",
              before, after));
          int64_t folded = 0, muls = 0;
          for (const Smoothing& t : tried) folded = std::max(folded, t.folded), muls = std::max(muls, t.muls);
          r.details = {{"inputs", tried[0].inputs}, {"folded", 0}, {"muls", 0},
                       {"unchanged", static_cast<int64_t>(groups.size())}, {"alpha", alpha_text},
                       {"samples", (*stats)->samples}, {"verify", verdict},
                       {"undone", {{"folded", folded}, {"muls", muls}}}};
          return r;
        }
        if (alphas.size() > 1) verdict["chosen_alpha"] = tried[chosen].alpha;
      }
    }
    const Smoothing& t = tried[chosen];
    model.Swap(*clones[chosen]);
    r.notes.push_back(t.Summary());
    if (!verdict.is_null())
      r.notes.push_back(absl::StrFormat("smooth-quant verified%s: quantized output error on the calibration data "
                                        "%.3g -> %.3g (%.2f dB)",
                                        alphas.size() > 1 ? " (alpha " + t.alpha + " of auto, 0.25, 0.5, 0.75)" : "",
                                        verdict["mse_before"].get<double>(), verdict["mse_after"].get<double>(),
                                        verdict["gain_db"].get<double>()));
    if (!t.inserted.empty()) ctx.state->Set(keep_for(t));
    r.changes = t.folded + t.muls;
    r.details = {{"inputs", t.inputs},       {"folded", t.folded},     {"muls", t.muls},
                 {"unchanged", t.unchanged}, {"alpha", alpha_text}, {"samples", (*stats)->samples}};
    if (!verdict.is_null()) r.details["verify"] = verdict;
    return r;
  }
};

ONNXC_REGISTER_PASS(SmoothQuantPass);

}  // namespace
}  // namespace onnxc
