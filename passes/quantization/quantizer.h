// Static post-training quantization of a model into QDQ form:
// QuantizeLinear/DequantizeLinear pairs placed where runtimes fuse them into
// integer kernels (ONNX Runtime's QLinearConv, QGemm, QLinearAdd, ...):
//
// - weights of Conv/ConvTranspose/Gemm/MatMul become int8 initializers read
//   through DequantizeLinear (per channel by default); bias becomes int32 with
//   scale = input scale x weight scale;
// - each quantized activation tensor gets one Q/DQ pair, shared by all its
//   quantized consumers; consumers kept in float read the float tensor, so a
//   skipped layer really stays float;
// - Relu and Clip after a quantized op are folded into its output range;
// - data-movement ops (Reshape, Transpose, MaxPool, Concat, ...) share one
//   scale and zero point across their inputs and outputs, so runtimes can run
//   them on integers;
// - anything else stays float.
#ifndef ONNXC_PASSES_QUANTIZATION_QUANTIZER_H_
#define ONNXC_PASSES_QUANTIZATION_QUANTIZER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_stats.h"
#include "ir/model.h"
#include "passes/quantization/quantization_config.pb.h"
#include "passes/quantization/quantization_settings.h"

namespace onnxc {

struct QuantizeOptions {
  const CalibrationStats* stats = nullptr;  // activation statistics (main graph tensors)
  // When set, only these nodes (by StableNodeId) are quantized: sensitivity
  // analysis quantizes one layer at a time.
  std::optional<absl::flat_hash_set<std::string>> only;
  // Nodes (by StableNodeId) kept in float, with the reason, e.g. fallback.
  std::vector<std::pair<std::string, std::string>> keep_float;
  // Nodes (by StableNodeId) whose activations get 16 bits, with the reason
  // (fallback{precision=a16}): their input and output tensors, and every
  // tensor sharing a scale with those, are quantized to uint16/int16 while
  // their weights stay 8-bit. The nodes must be quantized to matter.
  std::vector<std::pair<std::string, std::string>> wide_activations;
};

// The skip reason of nodes calibration never ran (If branches not taken).
inline constexpr char kNoStatistics[] = "no calibration statistics for its tensors";

struct QuantizeReport {
  QuantizationRecord record;
  int64_t quantized_nodes = 0;
  int64_t qdq_pairs = 0;
  int64_t folded_activations = 0;  // Relu/Clip folded into ranges
  int64_t already_quantized = 0;   // nodes with Q/DQ around them already (left alone)
  std::vector<std::string> notes;
};

// A name for a node that survives Clone: its name, or "op_type#k" for the
// k-th unnamed node of that type in `graph`, after `prefix` (subgraph nodes:
// "<id of the If/Loop>/<attribute>/").
std::vector<std::pair<const Node*, std::string>> StableNodeIds(const Graph& graph, const std::string& prefix = "");

// Nodes the quantizer would quantize with a weight or compute (Conv, Gemm,
// MatMul, Add, ...), by StableNodeId, in graph order: the layers of a
// sensitivity analysis.
std::vector<std::string> QuantizableLayers(const Model& model, const QuantizationSettings& settings);

// Whether any graph of the model holds a depthwise convolution (one input
// and one output channel per group).
bool HasDepthwiseConv(const Model& model);

absl::StatusOr<QuantizeReport> QuantizeModel(Model& model, const QuantizationSettings& settings,
                                             const QuantizeOptions& options);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_QUANTIZER_H_
