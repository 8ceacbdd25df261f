// Bias correction (Nagel et al. 2019, with the input means taken from
// calibration data): quantizing a layer's weights shifts the mean of its
// outputs per channel by (W - W_q) E[x]; with E[x] the per-channel mean of
// the layer's input in the float model on the calibration data, the shift is
// taken out of the int32 bias:
//   b_q[c] += round(((W - W_q) E[x])[c] / bias_scale[c]).
// Each layer is corrected for its own weights' error only, from float
// inputs, so errors of earlier layers are not counted twice.
// A layer whose shift is large against its bias (||shift|| > bound x
// ||bias||, NNCF's safeguard) is left as it is and named in the notes.
// The float model is run once over the data; layers are matched by node name.
// Layers named in `leave` are not touched (AdaRound already refit their biases).
#ifndef ONNXC_PASSES_QUANTIZATION_BIAS_CORRECTION_H_
#define ONNXC_PASSES_QUANTIZATION_BIAS_CORRECTION_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/progress.h"
#include "ir/model.h"
#include "kernels/executor.h"

namespace onnxc {

struct BiasCorrectionReport {
  int corrected = 0;
  std::vector<std::string> notes;
};

absl::StatusOr<BiasCorrectionReport> CorrectBiases(const Model& float_model, Model& quantized,
                                                   const CalibrationSettings& calibration,
                                                   const ExecutorOptions& executor, const Reporter& reporter,
                                                   double bound = 2.0, const std::set<std::string>& leave = {});

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_BIAS_CORRECTION_H_
