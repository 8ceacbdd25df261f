// Will the quantized model be faster than the float one where it is deployed?
// ONNX Runtime runs int8 convolutions ~3x faster than float on x86, but
// depthwise convolutions gain little (or lose, on x86 without VNNI), and every
// QuantizeLinear/DequantizeLinear left between int8 and float layers is a
// full pass over an activation. A model of mostly depthwise layers, or one cut
// into many int8 islands, can come out slower than float.
//
// The estimate counts the work of one inference, per kind, by running the
// model once with the kernels (shapes are then exact): multiply-adds of dense
// and depthwise convolutions and matrix products, in float or in integer
// kernels, elements converted by standalone Q/DQ, and elements of every other
// op. Per-kind costs (SpeedCosts) are fitted to ONNX Runtime 1.30 latencies
// measured side by side (testdata/target_report.sh prints the estimate next
// to the measurement; README "Deployment targets").
#ifndef ONNXC_PASSES_QUANTIZATION_SPEED_ESTIMATE_H_
#define ONNXC_PASSES_QUANTIZATION_SPEED_ESTIMATE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/model.h"
#include "ir/tensor.h"
#include "kernels/executor.h"
#include "nlohmann/json.hpp"

namespace onnxc {

// One inference's work, by kind.
struct WorkProfile {
  double dense_float_macs = 0, depthwise_float_macs = 0;  // Conv/Gemm/MatMul in float
  double dense_int8_macs = 0, depthwise_int8_macs = 0;    // QLinearConv, QGemm, ConvInteger, ...
  double grouped_float_macs = 0, grouped_int8_macs = 0;   // group > 1, several channels per group
  double converted_elements = 0;                          // standalone Q, DQ, DynamicQuantizeLinear
  double other_elements = 0;                              // outputs of every other op
  double nodes = 0;                                       // float ops run (each costs a dispatch)
  double integer_nodes = 0;                               // integer kernels run (dispatch + requantisation setup)
  nlohmann::json ToJson() const;
};

// Runs `model` once on `inputs` and counts its work (subgraphs that ran included).
absl::StatusOr<WorkProfile> ProfileWork(const Model& model, const std::vector<std::pair<std::string, Tensor>>& inputs,
                                        const ExecutorOptions& executor);

// Nanoseconds per unit of work, for one kind of CPU.
struct SpeedCosts {
  std::string cpu;  // "x86 with VNNI"
  double dense_float, depthwise_float, grouped_float, dense_int8, depthwise_int8, grouped_int8, converted, other,
      node, integer_node;
  double Time(const WorkProfile& w) const;
};
// The fitted costs: ONNX Runtime on x86 with VNNI, and without.
const SpeedCosts& OrtX86VnniCosts();
const SpeedCosts& OrtX86NoVnniCosts();

struct SpeedEstimate {
  std::string cpu;
  double float_ms = 0, int8_ms = 0;
  double speedup() const { return int8_ms > 0 ? float_ms / int8_ms : 0; }
};
SpeedEstimate EstimateSpeed(const WorkProfile& float_work, const WorkProfile& int8_work, const SpeedCosts& costs);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_SPEED_ESTIMATE_H_
