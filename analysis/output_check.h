// "What did compression cost?": runs the original and the compressed model on
// the same inputs with the kernels and compares their outputs. compress does
// this on every run and puts the numbers in its report.
#ifndef ONNXC_ANALYSIS_OUTPUT_CHECK_H_
#define ONNXC_ANALYSIS_OUTPUT_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/tensor_metrics.h"
#include "ir/model.h"
#include "kernels/executor.h"
#include "nlohmann/json.hpp"

namespace onnxc {

struct OutputCheck {
  int64_t runs = 0, samples = 0;
  std::string source;  // the inputs used
  struct Output {
    std::string name;
    TensorDiff worst;  // the worst run: lowest SQNR and cosine, largest max abs diff
  };
  std::vector<Output> outputs;
  nlohmann::json ToJson() const;
  std::string Summary() const;  // one line per output
};

// `data_spec` as for calibration ("" or "random": synthetic inputs, quietly).
// Fails with the reason when the kernels cannot run either model (e.g. an op
// only a specific runtime has, like com.microsoft.MatMulNBits).
absl::StatusOr<OutputCheck> CompareModelOutputs(const Model& reference, const Model& candidate,
                                                const std::string& data_spec, int64_t max_samples,
                                                const ExecutorOptions& executor);

// `candidate`'s outputs on `samples` against `reference` ([sample][output],
// the float model's outputs on the same samples), pooled over every output
// and sample: what a search compares candidates by.
absl::StatusOr<ErrorMetrics> PooledOutputError(const Model& candidate, const std::vector<CalibrationSample>& samples,
                                               const std::vector<std::vector<Tensor>>& reference,
                                               const ExecutorOptions& executor);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_OUTPUT_CHECK_H_
