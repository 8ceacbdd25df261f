#include "passes/quantization/adaround.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/layer_statistics/inverse_hessian.h"
#include "analysis/layer_statistics/layer_waves.h"
#include "analysis/layer_statistics/linear_layer.h"
#include "analysis/layer_statistics/paired_statistics.h"
#include "analysis/progress.h"
#include "ir/constants.h"
#include "passes/quantization/fake_quant.h"
#include "passes/quantization/pair_safe_weights.h"
#include "passes/quantization/sequential_rounding.h"

namespace onnxc {
namespace {

// A quantized layer whose int8 codes (and int32 bias) can be rewritten.
struct Layer {
  Node* node = nullptr;
  LinearLayer quantized, original;
  Value* codes = nullptr;        // int8/uint8 initializer read by the weight's DequantizeLinear
  int code_min = 0, code_max = 0;  // the code type's range
  std::vector<float> scale;      // per output row, or one
  int axis = 1;                  // the DequantizeLinear's axis
  std::vector<int32_t> zero_point;
  Value* bias_codes = nullptr;   // int32 initializer of a DequantizeLinear bias (free to change)
  std::vector<float> bias_scale;
  std::vector<double> fixed_bias;  // otherwise: the bias as it is (a float constant, or none: 0)
  std::vector<double> float_bias;  // the float layer's
};

template <typename T>
T At(const std::vector<T>& v, int64_t i) { return v.size() == 1 ? v[0] : v[i]; }

// The constant `v` as doubles, broadcast to `n` (empty: not a constant of 1 or n elements).
std::vector<double> ConstantVector(const Model& model, const Value* v, int64_t n) {
  std::optional<Tensor> t = GetConstant(model, v);
  if (!t) return {};
  std::vector<float> f = t->ToFloatVector();
  if (f.size() == 1) return std::vector<double>(n, f[0]);
  if (static_cast<int64_t>(f.size()) != n) return {};
  return std::vector<double>(f.begin(), f.end());
}

// Why `n` cannot be re-rounded, or "" (filling `layer`).
std::string Describe(const Model& float_model, const std::map<std::string, Node*>& float_nodes, Model& quantized,
                     Node* n, Layer* layer) {
  auto f = float_nodes.find(n->name());
  if (f == float_nodes.end()) return "no float layer of that name";
  auto ql = DescribeLinearLayer(quantized, n, 4, /*through_dequantize=*/true);
  if (!ql.ok()) return std::string(ql.status().message());
  if (!ql->dequantized) return "weight not quantized";
  if (ql->groups != 1 || ql->kind == LinearLayer::Kind::kConvTranspose) return "grouped or transposed";
  if (n->IsOp("Gemm") && (n->GetFloat("alpha", 1.0f) != 1.0f || n->GetFloat("beta", 1.0f) != 1.0f))
    return "Gemm with alpha or beta";
  auto fl = DescribeLinearLayer(float_model, f->second, 4);
  if (!fl.ok() || fl->weight_dims != ql->weight_dims || fl->features() != ql->features())
    return "the float layer has another shape";
  Node* dq = n->input(1)->producer();
  if (dq == nullptr || dq->input(0) == nullptr || !dq->input(0)->constant() || dq->input(0)->uses().size() != 1 ||
      n->input(1)->uses().size() != 1)
    return "weight codes shared or not an initializer";
  const Tensor* codes = dq->input(0)->constant();
  const int64_t outputs = ql->outputs_per_group;
  *layer = Layer{};
  layer->node = n;
  layer->quantized = *ql;
  layer->original = *fl;
  layer->codes = dq->input(0);
  if (codes->type() == onnx::TensorProto::INT8) {
    layer->code_min = -128, layer->code_max = 127;
  } else if (codes->type() == onnx::TensorProto::UINT8) {
    layer->code_min = 0, layer->code_max = 255;
  } else {
    return "weight codes are not 8-bit";
  }
  std::optional<Tensor> scale = GetConstant(quantized, dq->input(1));
  if (!scale || (scale->num_elements() != 1 && scale->num_elements() != outputs)) return "weight scale is not per tensor or per output";
  layer->scale = scale->ToFloatVector();
  layer->axis = static_cast<int>(dq->GetInt("axis", 1));
  if (dq->num_inputs() > 2 && dq->input(2) != nullptr) {
    std::optional<Tensor> zp = GetConstant(quantized, dq->input(2));
    if (!zp || zp->num_elements() != static_cast<int64_t>(layer->scale.size())) return "weight zero point not constant";
    for (float z : zp->ToFloatVector()) layer->zero_point.push_back(static_cast<int32_t>(z));
  } else {
    layer->zero_point.assign(1, 0);
  }
  const bool has_bias = !n->IsOp("MatMul") && n->num_inputs() > 2 && n->input(2) != nullptr;
  layer->float_bias.assign(outputs, 0.0);
  if (has_bias) {
    Node* fn = f->second;
    if (fn->num_inputs() < 3 || fn->input(2) == nullptr) return "the float layer has no bias";
    layer->float_bias = ConstantVector(float_model, fn->input(2), outputs);
    if (layer->float_bias.empty()) return "the float bias is not a constant vector";
    Node* bdq = n->input(2)->producer();
    std::optional<Tensor> bias_scale = bdq && bdq->IsOp("DequantizeLinear") ? GetConstant(quantized, bdq->input(1)) : std::nullopt;
    if (bdq && bdq->IsOp("DequantizeLinear") && bdq->input(0)->constant() && bias_scale &&
        bdq->input(0)->constant()->type() == onnx::TensorProto::INT32 && bdq->input(0)->uses().size() == 1 &&
        bdq->input(0)->constant()->num_elements() == outputs &&
        (bias_scale->num_elements() == 1 || bias_scale->num_elements() == outputs)) {
      layer->bias_codes = bdq->input(0);
      layer->bias_scale = bias_scale->ToFloatVector();
    } else {
      layer->fixed_bias = ConstantVector(quantized, n->input(2), outputs);
      if (layer->fixed_bias.empty()) return "the bias is neither int32 nor a constant";
    }
  } else {
    layer->fixed_bias.assign(outputs, 0.0);
  }
  return "";
}

// tr(Q own Q^T) - 2 tr(Q cross R^T) + tr(R ref R^T): the output error of Q
// against the reference weights R, summed over the calibration rows.
double OutputError(const Eigen::MatrixXd& q, const Eigen::MatrixXd& r, const PairedGram& g) {
  return (q * g.own).cwiseProduct(q).sum() - 2 * (q * g.cross).cwiseProduct(r).sum() +
         (r * g.ref).cwiseProduct(r).sum();
}

double Db(double signal, double noise) {
  return noise <= 0 ? 200.0 : 10 * std::log10(std::max(signal, 1e-300) / noise);
}

// One layer's weights as matrices: the float reference [W b0], the nearest
// rounding as it is [s (C - zp) b], and the codes C.
struct LayerMatrices {
  Eigen::MatrixXd reference, nearest, codes, float_weight;
};

absl::StatusOr<LayerMatrices> ReadMatrices(const Model& float_model, const Layer& l) {
  auto wf = l.original.ReadWeight(float_model);
  if (!wf.ok()) return wf.status();
  LayerMatrices m;
  m.float_weight = l.original.ToMatrices(*wf)[0];
  const int64_t rows = m.float_weight.rows(), d = m.float_weight.cols();
  const Tensor* codes = l.codes->constant();
  const std::vector<float> code_values = codes->ToFloatVector();
  Tensor code_tensor(onnx::TensorProto::FLOAT, codes->dims());
  std::copy(code_values.begin(), code_values.end(), code_tensor.mutable_data<float>());
  m.codes = l.quantized.ToMatrices(code_tensor)[0];
  m.reference.resize(rows, d + 1);
  m.nearest.resize(rows, d + 1);
  m.reference.leftCols(d) = m.float_weight;
  for (int64_t n = 0; n < rows; ++n) {
    m.reference(n, d) = l.float_bias[n];
    const double s = At(l.scale, n);
    const int zp = At(l.zero_point, n);
    for (int64_t j = 0; j < d; ++j) m.nearest(n, j) = l.quantized.IsPadding(j) ? 0.0 : (m.codes(n, j) - zp) * s;
    m.nearest(n, d) = l.bias_codes ? l.bias_codes->constant()->data<int32_t>()[n] * static_cast<double>(At(l.bias_scale, n))
                                   : l.fixed_bias[n];
  }
  return m;
}

struct Rounding {
  Eigen::MatrixXd weights;  // [Q b], dequantized
  Eigen::MatrixXd codes;    // C
};

// The down-or-up rounding that best reproduces the reference on the rows `g` sums.
absl::StatusOr<Rounding> ChooseRounding(const Layer& l, const LayerMatrices& m, const PairedGram& g, double damp) {
  const int64_t d = m.float_weight.cols();
  auto factor = FactorInverseHessian(g.own, damp);
  if (!factor.ok()) return factor.status();
  const Eigen::MatrixXd& U = factor->upper;
  // The unconstrained optimum (own + damping)^-1 cross^T applied to the reference.
  Eigen::MatrixXd target = (m.reference * g.cross.transpose()) * U.transpose() * U;
  Rounding r;
  r.codes = m.codes;
  SequentialRounding how;
  how.round = [&](int64_t n, int64_t j, double v) -> double {
    if (j == d) return l.bias_codes ? v : m.nearest(n, d);  // the bias column: refit if int32, else as it is
    if (l.quantized.IsPadding(j)) return 0.0;
    const double s = At(l.scale, n);
    const int zp = At(l.zero_point, n);
    if (factor->dead[j] || s == 0) return m.nearest(n, j);  // an input never seen: keep nearest
    const double lo = std::clamp(std::floor(m.float_weight(n, j) / s) + zp, double(l.code_min), double(l.code_max));
    const double hi = std::min(lo + 1, double(l.code_max));
    const double want = v / s + zp;
    const double code = std::fabs(want - lo) <= std::fabs(want - hi) ? lo : hi;
    r.codes(n, j) = code;
    return (code - zp) * s;
  };
  r.weights = RoundSequentially(std::move(target), U, how);
  return r;
}

void WriteRounding(Layer& l, const Rounding& r) {
  Tensor* codes = l.codes->mutable_initializer();
  // Weights that were pair-safe (x86 without VNNI cannot saturate on them) stay so.
  std::optional<ReductionLayout> pairs;
  if (codes->type() == onnx::TensorProto::INT8) {
    pairs = OrtReductionLayout(*l.node, *codes, l.scale.size() == 1 ? -1 : l.axis);
    if (pairs && CountSaturablePairs(*codes, *pairs) > 0) pairs.reset();
  }
  Tensor code_tensor(onnx::TensorProto::FLOAT, codes->dims());
  l.quantized.FromMatrices({r.codes}, &code_tensor);
  const float* cv = code_tensor.data<float>();
  if (codes->type() == onnx::TensorProto::INT8) {
    int8_t* c = codes->mutable_data<int8_t>();
    for (int64_t i = 0; i < codes->num_elements(); ++i) c[i] = static_cast<int8_t>(std::lround(cv[i]));
    if (pairs) ClampSaturablePairs(codes, *pairs);
  } else {
    uint8_t* c = codes->mutable_data<uint8_t>();
    for (int64_t i = 0; i < codes->num_elements(); ++i) c[i] = static_cast<uint8_t>(std::lround(cv[i]));
  }
  if (!l.bias_codes) return;
  const int64_t d = r.weights.cols() - 1;
  int32_t* b = l.bias_codes->mutable_initializer()->mutable_data<int32_t>();
  for (int64_t n = 0; n < r.weights.rows(); ++n) {
    const double s = At(l.bias_scale, n);
    if (s == 0) continue;
    const double q = std::nearbyint(r.weights(n, d) / s);
    b[n] = static_cast<int32_t>(
        std::clamp(q, double(std::numeric_limits<int32_t>::min()), double(std::numeric_limits<int32_t>::max())));
  }
}

// Re-rounds one layer; false: kept nearest. The rounding fit on one half of
// the calibration samples must lower the layer's error on the other half
// (with few rows per feature a fit reproduces its rows, not the layer);
// then it is fit again on both.
absl::StatusOr<bool> Reround(const Model& float_model, Layer& l, PairedGram& fit_half, const PairedGram& check_half,
                             double damp, AdaRoundLayer* out) {
  auto m = ReadMatrices(float_model, l);
  if (!m.ok()) return m.status();
  out->node = l.node->name();
  auto trial = ChooseRounding(l, *m, fit_half, damp);
  if (!trial.ok()) return trial.status();
  const double signal = (m->reference * check_half.ref).cwiseProduct(m->reference).sum();
  const double before = OutputError(m->nearest, m->reference, check_half);
  const double after = OutputError(trial->weights, m->reference, check_half);
  out->sqnr_db_nearest = Db(signal, before);
  out->sqnr_db_adaround = Db(signal, after);
  if (!(after < before)) {
    out->kept_nearest = true;
    return false;
  }
  PairedGram& both = fit_half;  // merged in place: these are the largest matrices of the job
  absl::Status merged = both.Merge(check_half);
  if (!merged.ok()) return merged;
  auto final_rounding = ChooseRounding(l, *m, both, damp);
  if (!final_rounding.ok()) return final_rounding.status();
  if (!(OutputError(final_rounding->weights, m->reference, both) < OutputError(m->nearest, m->reference, both))) {
    out->kept_nearest = true;
    return false;
  }
  WriteRounding(l, *final_rounding);
  return true;
}

}  // namespace

absl::StatusOr<AdaRoundReport> AdaRoundWeights(const Model& float_model, Model& quantized,
                                               const CalibrationSettings& calibration, const AnalysisContext& ctx,
                                               double damp) {
  AdaRoundReport report;
  std::map<std::string, Node*> float_nodes;
  for (Node* n : float_model.graph().NodeSnapshot())
    if (!n->name().empty()) float_nodes[n->name()] = n;
  std::map<const Node*, Layer> layers;
  std::map<std::string, int> declined;  // reason -> layers
  for (Node* n : quantized.graph().NodeSnapshot()) {
    if ((!n->IsOp("Conv") && !n->IsOp("Gemm") && !n->IsOp("MatMul")) || n->name().empty() || n->num_inputs() < 2 ||
        n->input(1) == nullptr || n->input(1)->producer() == nullptr || !n->input(1)->producer()->IsOp("DequantizeLinear"))
      continue;
    Layer l;
    const std::string why = Describe(float_model, float_nodes, quantized, n, &l);
    if (!why.empty()) {
      ++declined[why];
      continue;
    }
    layers.emplace(n, std::move(l));
  }
  std::set<const Node*> wanted;
  for (const auto& [n, l] : layers) wanted.insert(n);
  const std::vector<std::vector<Node*>> waves = LayerWaves(quantized.graph(), wanted);
  ProgressTracker progress(ctx.reporter, "adaround", "layers", static_cast<int64_t>(layers.size()));
  int64_t done = 0, improved = 0;
  for (const std::vector<Node*>& wave : waves) {
    // The wave's inputs as the quantized model (earlier waves re-rounded) computes them.
    std::unique_ptr<Model> simulated = quantized.Clone();
    FoldConstantDequantize(*simulated);
    std::vector<PairedRequest> requests;
    for (Node* n : wave) requests.push_back({n->name(), false, 1});
    // Two halves of the samples: fit on one, check on the other.
    std::map<std::string, PairedGram> halves[2];
    for (int h = 0; h < 2; ++h) {
      CalibrationSettings half = calibration;
      half.shard = {calibration.shard.index * 2 + h, calibration.shard.count * 2};
      auto paired = ComputePairedStatistics(float_model, *simulated, requests, half, ctx);
      if (!paired.ok()) return paired.status();
      halves[h] = *std::move(paired);
    }
    for (Node* n : wave) {
      AdaRoundLayer row;
      auto changed = Reround(float_model, layers.at(n), halves[0].at(n->name()), halves[1].at(n->name()), damp, &row);
      halves[0].erase(n->name());
      halves[1].erase(n->name());
      if (!changed.ok())
        return absl::Status(changed.status().code(), absl::StrCat("adaround: ", n->name(), ": ", changed.status().message()));
      improved += *changed;
      report.layers.push_back(row);
      progress.Update(++done, n->name());
    }
  }
  progress.Finish();
  std::vector<double> gains;
  for (const AdaRoundLayer& r : report.layers)
    if (!r.kept_nearest) gains.push_back(r.sqnr_db_adaround - r.sqnr_db_nearest);
  std::sort(gains.begin(), gains.end());
  report.notes.push_back(absl::StrFormat(
      "adaround: %d of %d quantized Conv/Gemm/MatMul weights re-rounded in %d waves (layer output SQNR on held-out "
      "calibration samples: gain median %.1f dB, max %.1f dB); %d kept nearest rounding (no held-out gain)",
      static_cast<int>(improved), static_cast<int>(report.layers.size()), static_cast<int>(waves.size()),
      gains.empty() ? 0.0 : gains[gains.size() / 2], gains.empty() ? 0.0 : gains.back(),
      static_cast<int>(report.layers.size() - improved)));
  for (const auto& [why, count] : declined)
    report.notes.push_back(absl::StrCat("adaround: ", count, " layers keep nearest rounding: ", why));
  return report;
}

}  // namespace onnxc
