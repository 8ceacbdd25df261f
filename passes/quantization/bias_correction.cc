#include "passes/quantization/bias_correction.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/layer_statistics/linear_layer.h"
#include "ir/constants.h"
#include "passes/quantization/output_error.h"

namespace onnxc {
namespace {

// Per-channel sums of a layer output (channels on axis 1, or the last axis for 2-D).
struct ChannelMeans {
  std::vector<double> sum;
  int64_t count = 0;
  void Add(const TensorView& t) {
    if (t.type != onnx::TensorProto::FLOAT || t.dims.size() < 2) return;
    const int64_t c = t.dims[1];
    int64_t inner = 1;
    for (size_t i = 2; i < t.dims.size(); ++i) inner *= t.dims[i];
    if (sum.empty()) sum.assign(c, 0.0);
    if (static_cast<int64_t>(sum.size()) != c) return;
    auto x = t.span<float>();
    for (size_t i = 0; i < x.size(); ++i) sum[(i / inner) % c] += x[i];
    count += static_cast<int64_t>(x.size()) / c;
  }
  double Mean(int64_t ch) const { return count ? sum[ch] / count : 0; }
};

// Runs `model` over the data, summing the outputs of `nodes` (by node name).
absl::Status Accumulate(const Model& model, const std::map<std::string, const Value*>& outputs,
                        const CalibrationSettings& calibration, const ExecutorOptions& executor,
                        const Reporter& reporter, std::map<std::string, ChannelMeans>* means) {
  std::map<const Value*, ChannelMeans*> by_value;
  for (const auto& [name, v] : outputs) by_value[v] = &(*means)[name];
  auto data = OpenCalibrationData(model, calibration, reporter);
  if (!data.ok()) return data.status();
  auto ex = Executor::Create(model, executor);
  if (!ex.ok()) return ex.status();
  Observer observer = [&](const Value& v, const TensorView& t) {
    auto it = by_value.find(&v);
    if (it != by_value.end()) it->second->Add(t);
  };
  for (;;) {
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) break;
    auto out = (*ex)->Run((**sample).inputs, &observer);
    if (!out.ok()) return out.status();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BiasCorrectionReport> CorrectBiases(const Model& float_model, Model& quantized,
                                                   const CalibrationSettings& calibration,
                                                   const ExecutorOptions& executor, const Reporter& reporter,
                                                   double bound, const std::set<std::string>& leave) {
  BiasCorrectionReport report;
  // Quantized Conv/Gemm whose bias is DequantizeLinear(int32 initializer, scale constant).
  struct Layer {
    LinearLayer quantized, original;
    Value* bias_data;
    std::vector<float> scales;
  };
  std::map<std::string, Layer> layers;
  std::map<std::string, const Value*> float_inputs;
  std::map<std::string, Node*> float_nodes;
  for (Node* n : float_model.graph().NodeSnapshot())
    if (!n->name().empty()) float_nodes[n->name()] = n;
  for (Node* n : quantized.graph().NodeSnapshot()) {
    if ((!n->IsOp("Conv") && !n->IsOp("Gemm")) || n->name().empty() || n->num_inputs() < 3 || !n->input(2) ||
        leave.count(n->name()))
      continue;
    Node* dq = n->input(2)->producer();
    if (dq == nullptr || !dq->IsOp("DequantizeLinear")) continue;
    std::optional<Tensor> data = GetConstant(quantized, dq->input(0)), scale = GetConstant(quantized, dq->input(1));
    if (!data || !scale || data->type() != onnx::TensorProto::INT32 || !dq->input(0)->has_initializer()) continue;
    auto f = float_nodes.find(n->name());
    if (f == float_nodes.end()) continue;
    auto ql = DescribeLinearLayer(quantized, n, 1, /*through_dequantize=*/true);
    auto fl = DescribeLinearLayer(float_model, f->second, 1);
    if (!ql.ok() || !fl.ok() || !ql->dequantized || ql->weight_dims != fl->weight_dims) continue;
    layers.emplace(n->name(), Layer{*ql, *fl, dq->input(0), scale->ToFloatVector()});
    float_inputs[n->name()] = f->second->input(0);
  }
  if (layers.empty()) return report;
  // Per input channel means of each layer's input in the float model.
  std::map<std::string, ChannelMeans> input_means;
  absl::Status s = Accumulate(float_model, float_inputs, calibration, executor, reporter, &input_means);
  if (!s.ok()) return s;
  int skipped = 0;
  // The model before any shift, to judge the whole correction by (copy-on-write).
  std::unique_ptr<Model> uncorrected = quantized.Clone();
  std::vector<std::pair<Tensor*, std::vector<int32_t>>> original_biases;
  for (auto& [name, l] : layers) {
    const ChannelMeans& mean = input_means[name];
    auto wq = l.quantized.ReadWeight(quantized);
    auto wf = l.original.ReadWeight(float_model);
    if (!wq.ok() || !wf.ok() || mean.count == 0) continue;
    std::vector<Eigen::MatrixXd> q = l.quantized.ToMatrices(*wq), f = l.original.ToMatrices(*wf);
    Tensor* bias = l.bias_data->mutable_initializer();
    const int64_t channels = bias->num_elements();
    std::vector<double> shift(channels, 0.0);
    const LinearLayer& g = l.original;
    if (static_cast<int64_t>(mean.sum.size()) != g.groups * g.channels_per_group ||
        channels != g.groups * g.outputs_per_group)
      continue;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      Eigen::VectorXd m = Eigen::VectorXd::Zero(g.features());
      for (int64_t c = 0; c < g.channels_per_group; ++c)
        for (int64_t r = 0; r < g.kernel_h; ++r)
          for (int64_t k = 0; k < g.kernel_w; ++k) m[g.Feature(c, r, k)] = mean.Mean(grp * g.channels_per_group + c);
      Eigen::VectorXd d = (f[grp] - q[grp]) * m;  // E[W x] - E[W_q x] with x at its mean
      for (int64_t o = 0; o < g.outputs_per_group; ++o) shift[grp * g.outputs_per_group + o] = d[o];
    }
    double shift_norm = 0, bias_norm = 0;
    for (int64_t c = 0; c < channels; ++c) {
      double sc = l.scales.size() == 1 ? l.scales[0] : l.scales[c];
      shift_norm += shift[c] * shift[c];
      bias_norm += std::pow(bias->data<int32_t>()[c] * sc, 2);
    }
    if (std::sqrt(shift_norm) > bound * std::sqrt(bias_norm)) {
      ++skipped;
      report.notes.push_back(absl::StrFormat("bias correction: %s left as it is (shift %.3g > %.1f x bias %.3g)", name,
                                             std::sqrt(shift_norm), bound, std::sqrt(bias_norm)));
      continue;
    }
    int32_t* b = bias->mutable_data<int32_t>();
    original_biases.emplace_back(bias, std::vector<int32_t>(b, b + channels));
    for (int64_t c = 0; c < channels; ++c) {
      double sc = l.scales.size() == 1 ? l.scales[0] : l.scales[c];
      if (sc != 0) b[c] = static_cast<int32_t>(std::llround(b[c] + shift[c] / sc));
    }
    ++report.corrected;
  }
  report.notes.insert(report.notes.begin(),
                      absl::StrFormat("bias correction: %d of %d Conv/Gemm biases shifted by the mean output change "
                                      "their weights' quantization causes on calibration inputs, %d over the bound",
                                      report.corrected, static_cast<int>(layers.size()), skipped));
  if (report.corrected == 0) return report;
  // Each shift is estimated from float inputs, layer by layer; together they
  // can still move the model's output the wrong way. Keep them only if the
  // output error on the calibration data drops.
  auto errors = OutputErrors(float_model, executor, {{uncorrected.get(), executor}, {&quantized, executor}}, calibration, reporter);
  if (!errors.ok()) return errors.status();
  const double before = (*errors)[0], after = (*errors)[1];
  if (after >= before) {
    for (auto& [bias, values] : original_biases) std::copy(values.begin(), values.end(), bias->mutable_data<int32_t>());
    report.notes.push_back(absl::StrFormat(
        "bias correction undone: the output error on the calibration data would rise %.3g -> %.3g", before, after));
    report.corrected = 0;
  } else {
    report.notes.push_back(absl::StrFormat("bias correction: output error on the calibration data %.3g -> %.3g (%.2f dB)",
                                           before, after, 10 * std::log10(before / std::max(after, 1e-30))));
  }
  return report;
}

}  // namespace onnxc
