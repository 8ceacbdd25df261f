#include "passes/quantization/speed_estimate.h"

#include <deque>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"

namespace onnxc {
namespace {

using Dims = std::vector<int64_t>;

double Elements(const Dims& d) {
  double n = 1;
  for (int64_t x : d) n *= static_cast<double>(x);
  return n;
}

// ONNX Runtime folds BatchNormalization into the Conv before it and runs an
// activation after a float Conv inside the Conv (FusedConv): no work of
// their own.
bool FusedIntoFloatConv(const Node& n) {
  static const auto* fusable = new std::set<std::string>{"BatchNormalization", "Relu", "Clip", "LeakyRelu",
                                                         "Sigmoid", "Tanh", "HardSigmoid"};
  if (!fusable->count(n.op_type()) || n.num_inputs() == 0 || n.input(0) == nullptr) return false;
  const Value* in = n.input(0);
  const Node* p = in->producer();
  if (p == nullptr || in->uses().size() != 1 || !in->output_of().empty()) return false;
  return p->IsOp("Conv") || (p->IsOp("BatchNormalization") && FusedIntoFloatConv(*p));
}

class WorkCounter {
 public:
  WorkCounter(const std::vector<std::pair<std::string, Tensor>>& inputs) {
    for (const auto& [name, t] : inputs) by_name_[name] = t.dims();
  }

  void Observe(const Value& v, const TensorView& t) { dims_[&v] = Dims(t.dims.begin(), t.dims.end()); }

  // Dims of a value the run produced, a constant, or a fed input.
  const Dims* DimsOf(const Value* v) const {
    if (v == nullptr) return nullptr;
    if (auto it = dims_.find(v); it != dims_.end()) return &it->second;
    if (v->has_initializer()) {
      cache_.push_back(v->initializer()->dims());
      return &cache_.back();
    }
    if (auto it = by_name_.find(v->name()); it != by_name_.end()) return &it->second;
    return nullptr;
  }

  void Count(const Graph& g, WorkProfile* w) const {
    for (const auto& up : g.nodes()) {
      const Node& n = *up;
      for (const Graph* sub : n.subgraphs()) Count(*sub, w);
      const Dims* out = n.num_outputs() > 0 ? DimsOf(n.output(0)) : nullptr;
      if (out == nullptr) continue;  // did not run (an If branch not taken)
      if (FusedIntoFloatConv(n) || n.IsOp("Constant")) continue;  // Constants become initializers
      const std::string& op = n.op_type();
      const bool integer_kernel = absl::StartsWith(op, "QLinear") || op == "QGemm" || absl::EndsWith(op, "Integer") ||
                                  op == "MatMulIntegerToFloat" || op == "DynamicQuantizeMatMul";
      (integer_kernel ? w->integer_nodes : w->nodes) += 1;
      const double out_elems = Elements(*out);
      // Convolutions: weight input index per form.
      int conv_w = op == "Conv" || op == "ConvInteger" ? 1 : op == "QLinearConv" ? 3 : -1;
      if (conv_w >= 0) {
        const Dims* wd = DimsOf(n.input(conv_w));
        if (wd == nullptr || wd->size() < 2) continue;
        double per_output = 1;
        for (size_t i = 1; i < wd->size(); ++i) per_output *= static_cast<double>((*wd)[i]);
        const bool grouped = n.GetInt("group", 1) > 1, depthwise = grouped && (*wd)[1] == 1;
        const bool integer = op != "Conv";
        double macs = out_elems * per_output;
        if (depthwise) (integer ? w->depthwise_int8_macs : w->depthwise_float_macs) += macs;
        else if (grouped) (integer ? w->grouped_int8_macs : w->grouped_float_macs) += macs;
        else (integer ? w->dense_int8_macs : w->dense_float_macs) += macs;
        continue;
      }
      const bool float_matmul = op == "Gemm" || op == "MatMul";
      const bool int_matmul = op == "QGemm" || op == "QLinearMatMul" || op == "MatMulInteger" ||
                              op == "MatMulIntegerToFloat" || op == "DynamicQuantizeMatMul";
      if (float_matmul || int_matmul) {
        const Dims* a = DimsOf(n.input(0));
        if (a == nullptr || a->empty()) continue;
        double k = static_cast<double>(op == "Gemm" && n.GetInt("transA", 0) && a->size() == 2 ? (*a)[0] : a->back());
        (float_matmul ? w->dense_float_macs : w->dense_int8_macs) += out_elems * k;
        continue;
      }
      if (op == "ConvTranspose") {
        const Dims* in = DimsOf(n.input(0));
        const Dims* wd = DimsOf(n.input(1));
        if (in == nullptr || wd == nullptr || wd->size() < 2) continue;
        double per_input = 1;
        for (size_t i = 1; i < wd->size(); ++i) per_input *= static_cast<double>((*wd)[i]);
        w->dense_float_macs += Elements(*in) * per_input;
        continue;
      }
      if (op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear") {
        // A DequantizeLinear of a weight that no integer kernel took runs on
        // every inference too (ONNX Runtime does not fold Q/DQ).
        w->converted_elements += out_elems;
        continue;
      }
      if (!n.subgraphs().empty()) continue;
      w->other_elements += out_elems;
    }
  }

 private:
  absl::flat_hash_map<const Value*, Dims> dims_;
  absl::flat_hash_map<std::string, Dims> by_name_;
  mutable std::deque<Dims> cache_;  // stable addresses
};

}  // namespace

nlohmann::json WorkProfile::ToJson() const {
  return {{"dense_float_macs", dense_float_macs},     {"depthwise_float_macs", depthwise_float_macs},
          {"dense_int8_macs", dense_int8_macs},       {"depthwise_int8_macs", depthwise_int8_macs},
          {"grouped_float_macs", grouped_float_macs}, {"grouped_int8_macs", grouped_int8_macs},
          {"converted_elements", converted_elements}, {"other_elements", other_elements},
          {"nodes", nodes},
          {"integer_nodes", integer_nodes}};
}

absl::StatusOr<WorkProfile> ProfileWork(const Model& model, const std::vector<std::pair<std::string, Tensor>>& inputs,
                                        const ExecutorOptions& executor) {
  auto ex = Executor::Create(model, executor);
  if (!ex.ok()) return ex.status();
  WorkCounter counter(inputs);
  // The observer's dims are copied at once: its views die with the call.
  Observer observe = [&](const Value& v, const TensorView& t) { counter.Observe(v, t); };
  auto out = (*ex)->Run(inputs, &observe);
  if (!out.ok()) return out.status();
  WorkProfile w;
  counter.Count(model.graph(), &w);
  return w;
}

double SpeedCosts::Time(const WorkProfile& w) const {
  return dense_float * w.dense_float_macs + depthwise_float * w.depthwise_float_macs +
         grouped_float * w.grouped_float_macs + dense_int8 * w.dense_int8_macs +
         depthwise_int8 * w.depthwise_int8_macs + grouped_int8 * w.grouped_int8_macs + converted * w.converted_elements +
         other * w.other_elements + node * w.nodes + integer_node * w.integer_nodes;
}

SpeedEstimate EstimateSpeed(const WorkProfile& float_work, const WorkProfile& int8_work, const SpeedCosts& costs) {
  SpeedEstimate e;
  e.cpu = costs.cpu;
  e.float_ms = costs.Time(float_work) * 1e-6;
  e.int8_ms = costs.Time(int8_work) * 1e-6;
  return e;
}

// Fitted by non-negative least squares on relative error to ONNX Runtime
// 1.30 latencies (1 thread, batch 1, bench_compare.js) of 9 models (resnet18,
// mobilenet_v2, shufflenet_v2, regnet_x_400mf, efficientnet_b0, BlazeFace,
// M-LSD, the Fashion-MNIST ResNet, the BERT-style encoder), float and
// quantized for three targets, on an AMD EPYC with AVX-512 VNNI: speedups
// predicted within 20% for 21 of 27, mean error 13%, on the right side of
// 1.0 for 22 of 27 (README "Deployment targets").
const SpeedCosts& OrtX86VnniCosts() {
  static const SpeedCosts c{"x86 with VNNI", /*dense_float=*/0.01147, /*depthwise_float=*/0.1128,
                            /*grouped_float=*/0.0248, /*dense_int8=*/0.003610, /*depthwise_int8=*/0.1110,
                            /*grouped_int8=*/0.0275, /*converted=*/0.2325, /*other=*/0.1996, /*node=*/1029,
                            /*integer_node=*/3721};
  return c;
}
// No machine without VNNI was at hand: the VNNI costs with the depthwise
// int8 cost scaled (x1.48) to come closest to the two figures measured on an
// AMD EPYC with AVX2 only (issue 18), all layers int8: mobilenet_v2 1.29x
// (predicted 1.20x) and a depthwise-heavy face detector 0.53x (BlazeFace: 0.77x).
const SpeedCosts& OrtX86NoVnniCosts() {
  static const SpeedCosts c{"x86 without VNNI", 0.01147, 0.1128, 0.0248, 0.003610, 0.1642, 0.0275, 0.2325, 0.1996,
                            1029, 3721};
  return c;
}

}  // namespace onnxc
