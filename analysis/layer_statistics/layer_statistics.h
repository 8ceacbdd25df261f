// Per-layer input statistics, the one analysis behind SparseGPT, Wanda,
// GPTQ, AdaRound and least-squares reconstruction (pruning, decomposition):
// for each linear layer (linear_layer.h) and each of its groups, the Gram
// matrix of its input features over the calibration data,
//   H = sum over samples and output positions of x x^T   (features x features),
// and the number of rows summed. Everything these methods need follows from
// it: SparseGPT's Hessian is 2H/n, Wanda's feature norms are sqrt(diag H),
// and for a weight W and a replacement W' the layer's output error on the
// calibration data is tr((W - W') H (W - W')^T).
//
// Streaming: the executor's observer hands each layer's input to the
// accumulator as it is produced; rows (im2col patches for convs) are built in
// blocks and folded in at once, so memory is the Gram matrices plus one
// block, whatever the number of samples. Each feature's maximum magnitude
// comes along (SmoothQuant's per-channel activation maxima). Mergeable: statistics of disjoint
// sample sets add (Merge), so shards computed apart give the same H.
#ifndef ONNXC_ANALYSIS_LAYER_STATISTICS_LAYER_STATISTICS_H_
#define ONNXC_ANALYSIS_LAYER_STATISTICS_LAYER_STATISTICS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"
#include "analysis/analysis_manager.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/layer_statistics/linear_layer.h"

namespace onnxc {

struct LayerGram {
  std::string layer;     // LinearLayer::name()
  int64_t features = 0;  // LinearLayer::features()
  bool diagonal_only = false;
  // Per group: features x features (diagonal_only: features x 1, the diagonal).
  std::vector<Eigen::MatrixXd> gram;
  int64_t rows = 0;  // feature rows summed, per group
  // Per group: each feature's least and greatest value over the rows (with
  // 0 included; SmoothQuant's activation ranges).
  std::vector<Eigen::VectorXd> min, max;

  // diag(H) of group g.
  Eigen::VectorXd Diagonal(int64_t g) const;
  // max |x| of each feature of group g.
  Eigen::VectorXd AbsMax(int64_t g) const { return max[g].cwiseMax(-min[g]); }
  // Adds another sample set's statistics of the same layer.
  absl::Status Merge(const LayerGram& other);
};

struct LayerStatistics : Analysis {
  static constexpr char kName[] = "layer-statistics";
  struct Settings {
    CalibrationSettings calibration;  // data, samples, batch
    std::vector<std::string> layers;  // LinearLayer::name()s; empty: every layer that has input rows
    bool diagonal_only = false;       // Wanda needs only the diagonal
    int64_t channel_pad = 4;          // as LinearLayer
    std::string CacheKey() const;
  };
  static absl::StatusOr<std::unique_ptr<LayerStatistics>> Compute(Model& model, const AnalysisContext& ctx,
                                                                  const Settings& settings);

  std::map<std::string, LayerGram> layers;  // by layer name
  int64_t samples = 0;
  std::string source;  // the calibration data described
  double seconds = 0;

  // Adds statistics of other samples of the same layers.
  absl::Status Merge(const LayerStatistics& other);
};

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_LAYER_STATISTICS_LAYER_STATISTICS_H_
