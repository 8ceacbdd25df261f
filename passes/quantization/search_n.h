// SearchN (AMCT's shift_bit): per output channel of a quantized Conv, Gemm
// or MatMul, the right shift N that narrows its int32 accumulator to int16
// with the least error, for integer pipelines that keep int16 between
// layers (Ascend). From the layer's float output y over the calibration
// data:
//   s32 = clamp(round(y / (scale_d * scale_w[c])), int32)
//   for N = 1..16: s16 = clamp(floor(s32 / 2^N), int16),
//                  err(N) = sum over samples and positions of (s32 - s16 * 2^N)^2
//   N* = argmin err(N), ties going to the larger N (AMCT's reference).
// y streams through an observer; memory is 16 sums per channel.
#ifndef ONNXC_PASSES_QUANTIZATION_SEARCH_N_H_
#define ONNXC_PASSES_QUANTIZATION_SEARCH_N_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/progress.h"
#include "ir/model.h"
#include "kernels/executor.h"

namespace onnxc {

struct SearchNLayer {
  std::string output;          // the layer's output value in the float model (before any activation)
  int channel_axis = 1;        // 1 for Conv (NCHW), -1 (last) for Gemm/MatMul
  float scale_d = 1;           // input activation scale
  std::vector<float> scale_w;  // weight scale per output channel (or one)
};

// Shift bits per layer output name, one per channel (one when scale_w has one).
absl::StatusOr<std::map<std::string, std::vector<int>>> SearchShiftBits(const Model& float_model,
                                                                        const std::vector<SearchNLayer>& layers,
                                                                        const CalibrationSettings& calibration,
                                                                        const ExecutorOptions& executor,
                                                                        const Reporter& reporter);

// The N of one channel from its 16 error sums (index 0 = N 1).
int ChooseShiftBit(const std::vector<double>& err);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_SEARCH_N_H_
