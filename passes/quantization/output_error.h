// How far candidate models' outputs are from a reference model's on the
// calibration data: the check behind the passes that keep a change only when
// it measurably helps (bias correction's undo, smooth-quant's verify).
#ifndef ONNXC_PASSES_QUANTIZATION_OUTPUT_ERROR_H_
#define ONNXC_PASSES_QUANTIZATION_OUTPUT_ERROR_H_

#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/progress.h"
#include "ir/model.h"
#include "kernels/executor.h"

namespace onnxc {

// A model to compare and how to run it (a target emulation may change how
// the kernels add products).
struct ModelToRun {
  const Model* model = nullptr;
  ExecutorOptions executor;
};

// Mean squared error of each candidate's float outputs against the
// reference's, pooled over outputs and calibration samples. The reference
// runs once per sample.
absl::StatusOr<std::vector<double>> OutputErrors(const Model& reference, const ExecutorOptions& reference_executor,
                                                 const std::vector<ModelToRun>& candidates,
                                                 const CalibrationSettings& calibration, const Reporter& reporter);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_OUTPUT_ERROR_H_
