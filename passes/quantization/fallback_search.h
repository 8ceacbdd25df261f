// The target search of the fallback pass: the fewest most-sensitive layers
// kept in float that meet an accuracy target.
//
// k counts layers of the sensitivity ranking kept float (on top of the manual
// ones):
//   binary (default, as AMCT): evaluate k=k_min; if it misses, evaluate
//     k=k_max; then bisect. About 2 + log2(L) evaluations. It ASSUMES the
//     metric improves monotonically with k (each extra float layer removes
//     noise). When that does not hold the answer still meets the target (only
//     evaluated, passing k are kept as the upper bound), but it may not be the
//     smallest such k.
//   linear: k = k_min, k_min+1, ... until met: up to L evaluations, the
//     smallest k along the ranking, no monotonicity assumption.
// NNCF re-ranks the remaining layers after each revert (L evaluations per
// step, O(L^2) overall); we rank once, because the single-layer ranking is
// already measured at the model's outputs and re-ranking costs a full
// sensitivity analysis per step.
//
// If no k up to k_max meets the target, the best configuration found is
// chosen (ties go to fewer float layers) and `met` is false.
#ifndef ONNXC_PASSES_QUANTIZATION_FALLBACK_SEARCH_H_
#define ONNXC_PASSES_QUANTIZATION_FALLBACK_SEARCH_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/progress.h"
#include "analysis/tensor_metrics.h"
#include "ir/model.h"
#include "kernels/executor.h"
#include "nlohmann/json.hpp"
#include "passes/quantization/layer_sensitivity.h"

namespace onnxc {

struct FallbackTarget {
  enum class Kind { kCosine, kSqnr, kMetric } kind = Kind::kCosine;
  double value = 0;
  bool lower_is_better = false;  // kMetric only: the eval-cmd prints a loss
  std::string eval_cmd;          // kMetric only
  std::string Describe() const;  // "output cosine", "output SQNR (dB)", "eval-cmd metric"
  bool Met(double metric) const { return lower_is_better ? metric <= value : metric >= value; }
};

struct FallbackStep {
  int k = 0;
  double metric = 0;
  bool met = false;
  ErrorMetrics outputs;  // vs float (always measured, cheap)
  std::string added;     // the layer this k adds over k-1 (for people)
};

struct FallbackSearchResult {
  int chosen = 0;
  bool met = false;
  int k_min = 0, k_max = 0;
  std::map<int, FallbackStep> steps;
  std::vector<int> order;              // evaluation order
  std::optional<double> float_metric;  // kMetric: the float model's
  double seconds = 0;
};

// The configuration for k ranked layers: the nodes kept float (manual ones
// included) and, with fallback{precision=a16}, the nodes given 16-bit
// activations instead (node id, reason).
struct FallbackConfig {
  std::vector<std::pair<std::string, std::string>> keep_float;
  std::vector<std::pair<std::string, std::string>> wide_activations;
};
using FallbackConfigForK = std::function<FallbackConfig(int k)>;

struct FallbackSearchInputs {
  const Model* model = nullptr;
  const QuantizationSettings* settings = nullptr;
  const CalibrationStats* stats = nullptr;
  const LayerSensitivity* sensitivity = nullptr;  // samples and float reference
  std::vector<std::string> ranked;                // layers, worst first
  FallbackConfigForK config_for;
  int k_min = 0, k_max = 0;
  bool binary = true;
  FallbackTarget target;
  ExecutorOptions executor;
  Reporter reporter;
};

absl::StatusOr<FallbackSearchResult> SearchFallback(const FallbackSearchInputs& in);

// The search for the report: every step, the choice, whether it met.
nlohmann::json FallbackSearchJson(const FallbackSearchInputs& in, const FallbackSearchResult& r);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_FALLBACK_SEARCH_H_
