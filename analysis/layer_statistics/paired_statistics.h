// Paired layer statistics: for least-squares refits of a layer whose input
// has changed (channel pruning removed input channels, or earlier layers were
// already rebuilt). On the same calibration samples, the layer's input rows
// in the current model, X (with a constant 1 appended as the last feature,
// for the bias), and the same layer's input rows in a reference model, X0
// (also with a 1):
//   own   = [X 1]^T  [X 1]     (d+1) x (d+1)
//   cross = [X 1]^T  [X0 1]    (d+1) x (d0+1)
//   ref   = [X0 1]^T [X0 1]    (d0+1) x (d0+1)
// From these alone, the weights W, b that best reproduce the reference
// layer's output X0 W0^T + b0 are
//   [W b] = [W0 b0] cross^T (own + lambda I)^-1,
// and the output error of any [W b] is
//   tr([W b] own [W b]^T) - 2 tr([W b] cross [W0 b0]^T) + tr([W0 b0] ref [W0 b0]^T).
// Channel rows (PairedRequest::channels): instead of the layer's feature rows,
// one row per pixel of its input with one feature per channel (a Conv's
// N x C x H x W input gives N*H*W rows of C; a Gemm reading a flattened
// N x (C*b) tensor gives N*b rows of C). Their statistics relate the
// channels of the two models (which reference channel each current channel
// set predicts), and are well determined even when the layer has more
// features than there are calibration rows.
// Only the calibration shard's samples count (CalibrationSettings::shard).
// Streaming like LayerStatistics: per sample, the reference's rows are held
// only until the current model has produced its own; sums of disjoint sample
// sets add (Merge).
#ifndef ONNXC_ANALYSIS_LAYER_STATISTICS_PAIRED_STATISTICS_H_
#define ONNXC_ANALYSIS_LAYER_STATISTICS_PAIRED_STATISTICS_H_

#include <map>
#include <string>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "analysis/analysis_manager.h"
#include "analysis/calibration/calibration_settings.h"
#include "ir/model.h"

namespace onnxc {

struct PairedGram {
  Eigen::MatrixXd own, cross, ref;  // as above, LinearLayer feature order, the 1 last
  int64_t rows = 0;
  absl::Status Merge(const PairedGram& other);
};

struct PairedRequest {
  std::string layer;     // a group-1 Conv or a Gemm/MatMul, same name in both models
  bool channels = false; // channel rows instead of feature rows
  int64_t block = 1;     // channel rows of a Gemm/MatMul: features per channel
};

// For each requested layer (reading inputs of the same geometry in both models).
absl::StatusOr<std::map<std::string, PairedGram>> ComputePairedStatistics(
    const Model& reference, const Model& current, const std::vector<PairedRequest>& layers,
    const CalibrationSettings& calibration, const AnalysisContext& ctx);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_LAYER_STATISTICS_PAIRED_STATISTICS_H_
