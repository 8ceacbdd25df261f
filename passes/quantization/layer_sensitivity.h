// Layer sensitivity: how much each quantizable layer suffers from
// quantization on its own. For every layer the quantizer would quantize
// (QuantizableLayers with the run's quantization settings), a clone of the
// model is quantized with ONLY that layer (QuantizeModel{only={id}}, with the
// cached calibration statistics) and run on N calibration samples; its
// outputs are compared with the float model's:
//
//   - at the layer's output as its consumers read it (the DequantizeLinear
//     after it when the output is quantized, else the node's own output), and
//   - at the model's outputs (all outputs, all samples, pooled),
//
// as cosine similarity, SQNR (dB) and MSE. The float reference (model outputs
// and every layer's float output) is computed once and kept, so the cost is
// (layers + 2) runs over the N samples (the reference twice: observed for the
// layer outputs, unobserved for the model outputs the candidates are held to,
// as each candidate runs unobserved, fused, with its measured tensor as an
// extra graph output).
//
// Ranking, worst first: by default by output SQNR (equivalently output MSE:
// the noise each layer alone adds to what the model returns). AMCT ranks by
// the cosine at the layer's own output; that is rank-by=layer-cosine. We
// prefer the output measure because fallback targets the model's outputs and,
// under the usual additive-noise model (each layer's quantization noise adds
// up at the outputs), keeping the k layers with the largest output noise in
// float removes the most output noise for k layers.
//
// The pass `layer-sensitivity{eval-samples=16,rank-by=output-sqnr}`
// (layer_sensitivity_pass.cc) reports the analysis (JSON in the pass's
// details) and takes the same quantization options as `quantize`
// (method=..., config=..., ...); `fallback` asks for the same analysis and
// gets the cached result. It lives with the quantization family because it
// quantizes clones of the model.
#ifndef ONNXC_PASSES_QUANTIZATION_LAYER_SENSITIVITY_H_
#define ONNXC_PASSES_QUANTIZATION_LAYER_SENSITIVITY_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/analysis_manager.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/calibration/calibration_stats.h"
#include "analysis/tensor_metrics.h"
#include "ir/model.h"
#include "nlohmann/json.hpp"
#include "passes/quantization/quantization_settings.h"

namespace onnxc {

struct LayerSensitivityEntry {
  std::string node;     // StableNodeId
  std::string op_type;
  // Relu/Clip the quantizer folds into this layer's output range (as runtimes
  // fuse Conv+Relu): measured, ranked and kept float together with it. They
  // are not entries of their own.
  std::vector<std::string> folded;
  bool measured = false;  // false: quantizing it alone did nothing (see note)
  std::string note;
  std::string tensor;     // the layer output compared
  ErrorMetrics layer;     // at the layer's output
  ErrorMetrics output;    // at the model's outputs
  // With revert: the model's outputs with every layer quantized but this one.
  ErrorMetrics revert;
};

struct LayerSensitivity : Analysis {
  static constexpr char kName[] = "layer-sensitivity";
  struct Settings {
    QuantizationConfig config;        // what "quantized" means (as quantize resolves it)
    CalibrationSettings calibration;  // the calibration statistics, and where the samples come from
    int64_t samples = 16;             // samples to measure on (the first N)
    // output-sqnr (default) | output-cosine | layer-cosine | layer-sqnr | revert-sqnr
    std::string rank_by = "output-sqnr";
    bool revert = false;  // also measure each layer kept float with all others quantized
    std::string CacheKey() const;
  };
  static absl::StatusOr<std::unique_ptr<LayerSensitivity>> Compute(Model& model, const AnalysisContext& ctx,
                                                                   const Settings& settings);

  std::vector<LayerSensitivityEntry> layers;  // graph order
  std::vector<int> ranking;                   // indices into layers, worst first (measured only)
  std::string rank_by;
  QuantizationSettings settings;              // what "quantized" meant

  // The evaluation set, reused by fallback: the samples and the float model's
  // outputs on them.
  std::vector<CalibrationSample> samples;
  std::vector<std::vector<Tensor>> reference_outputs;  // [sample][output]
  int64_t sample_count = 0;                            // rows over all samples

  bool has_revert = false;
  ErrorMetrics all_quantized;  // with revert: every layer quantized

  int64_t runs = 0;       // executor runs (one per sample per model)
  double seconds = 0;

  std::vector<std::string> RankedNodes() const;  // StableNodeIds, worst first
  // The nodes a ranked layer stands for: itself and its folded Relu/Clip.
  std::vector<std::string> Members(const std::string& node) const;
  nlohmann::json ToJson() const;
};

// The settings the last layer-sensitivity pass of a run asked with (left in
// PassContext::state), so a later fallback without eval-samples/rank-by
// options asks for the same, already cached, analysis.
struct LastSensitivityRequest {
  LayerSensitivity::Settings settings;
};

// Runs `candidate` on the analysis's samples and compares its outputs with the
// float reference (pooled over outputs and samples).
absl::StatusOr<ErrorMetrics> CompareOutputs(const Model& candidate, const LayerSensitivity& reference,
                                            const ExecutorOptions& executor);

// The same quantization as `quantize` on a clone of `model`, keeping
// `keep_float` in float and giving `wide_activations` 16-bit activations
// (QuantizeOptions); returns the quantized clone.
absl::StatusOr<std::unique_ptr<Model>> QuantizeClone(
    const Model& model, const QuantizationSettings& settings, const CalibrationStats& stats,
    const std::vector<std::pair<std::string, std::string>>& keep_float,
    const std::vector<std::pair<std::string, std::string>>& wide_activations = {});

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_LAYER_SENSITIVITY_H_
