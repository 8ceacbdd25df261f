// Layer-wise reconstruction of the weight rounding (AdaRound, Nagel et al.
// 2020; AMCT's layer-wise distillation without a training framework): after
// W8A8 quantization, each quantized Conv/Gemm/MatMul re-chooses, per weight,
// rounding down or up (never further: the regulariser AdaRound anneals
// towards), so that the layer's output on calibration inputs taken from the
// quantized model (earlier layers already re-rounded) comes closest to the
// float layer's output on float inputs:
//   min over Q  || [X_q 1] [Q b]^T - [X 1] [W b0]^T ||^2 .
// The objective is quadratic, so it needs only the paired Gram matrices
// (paired_statistics.h), not stored samples. Instead of AdaRound's gradient
// descent on soft rounding, it is solved by the sequential rounding of GPTQ
// (sequential_rounding.h) towards the unconstrained optimum; the int32 bias
// is the last column and stays continuous, so it absorbs the mean shift
// (bias correction comes with it). A layer whose error would not drop keeps
// its nearest rounding. With few calibration rows per feature a fit
// reproduces those rows, not the layer, so the rounding is first fit on half
// of the samples and kept only if it lowers the error on the other half;
// then it is fit on all of them.
// Layers are rebuilt in waves (layer_waves.h); grouped convolutions
// (depthwise) keep nearest rounding.
#ifndef ONNXC_PASSES_QUANTIZATION_ADAROUND_H_
#define ONNXC_PASSES_QUANTIZATION_ADAROUND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/analysis_manager.h"
#include "analysis/calibration/calibration_settings.h"
#include "ir/model.h"

namespace onnxc {

struct AdaRoundLayer {
  std::string node;
  // The layer's output vs float on the held-out half of the calibration samples.
  double sqnr_db_nearest = 0, sqnr_db_adaround = 0;
  bool kept_nearest = false;
};

struct AdaRoundReport {
  std::vector<AdaRoundLayer> layers;
  std::vector<std::string> notes;
};

absl::StatusOr<AdaRoundReport> AdaRoundWeights(const Model& float_model, Model& quantized,
                                               const CalibrationSettings& calibration, const AnalysisContext& ctx,
                                               double damp = 0.01);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_ADAROUND_H_
