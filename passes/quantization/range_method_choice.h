// quantize{method=auto}: the activation range method chosen by measuring it.
//
// No single clipping rule wins everywhere. MSE ranges lift our random-weight
// efficientnet and mobilenet_v2, but cost PP-OCR's trained classifier 18 dB
// against plain minmax (and entropy 29 dB). So each candidate (minmax, mse,
// percentile) quantizes a copy-on-write clone, the clones run on a few
// calibration samples, and the one whose outputs are closest to the float
// model's (pooled output SQNR) is kept. Candidates share the calibration
// statistics (one pass over the data); the cost is a quantization and a few
// inferences per candidate.
#ifndef ONNXC_PASSES_QUANTIZATION_RANGE_METHOD_CHOICE_H_
#define ONNXC_PASSES_QUANTIZATION_RANGE_METHOD_CHOICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/progress.h"
#include "analysis/tensor_metrics.h"
#include "ir/model.h"
#include "kernels/executor.h"
#include "nlohmann/json.hpp"
#include "passes/quantization/quantizer.h"

namespace onnxc {

struct RangeMethodChoice {
  CalibrationMethod method = MINMAX;
  struct Candidate {
    CalibrationMethod method;
    ErrorMetrics outputs;  // pooled over the samples, vs float
  };
  std::vector<Candidate> candidates;
  int64_t samples = 0;  // rows: a batched sample counts its rows
  std::string Note() const;  // "method=auto: mse (output SQNR ...; minmax ..., percentile ...)"
  nlohmann::json ToJson() const;
};

// `settings` has method=auto; `options` as quantize will use them (stats,
// kept-float and 16-bit lists). Evaluates on up to `max_samples` samples of
// `calibration`.
absl::StatusOr<RangeMethodChoice> ChooseRangeMethod(const Model& model, const QuantizationSettings& settings,
                                                    const QuantizeOptions& options,
                                                    const CalibrationSettings& calibration,
                                                    const ExecutorOptions& executor, const Reporter& reporter,
                                                    int64_t max_samples = 16);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_RANGE_METHOD_CHOICE_H_
