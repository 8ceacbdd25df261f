// CalibrationStats: per-tensor activation statistics for post-training
// quantization, streamed through the executor's observer (no activation is
// ever stored: each tensor updates its stats as it is produced and is freed
// by the executor after its last consumer). Memory is O(tensors x bins),
// independent of the number of samples.
//
// Histograms are exact, not approximate: when a histogram method may be needed
// (CalibrationSettings::histograms, the default), calibration makes two
// passes over the data: pass 1 finds min/max per tensor, pass 2 fills a
// histogram over that fixed [min, max]. The cost is a second inference run
// over the calibration set (calibration time doubles; memory does not
// change). Without histograms there is one pass and only the min/max and
// moving-average methods are available.
//
// Sharding (CalibrationSettings::shard, --calib-shard k/n): each process
// calibrates on every n-th batch and saves its statistics; merging them gives
// exactly the unsharded min/max (and so the same minmax quantization record).
// Histograms from different shards cover different ranges and are merged by
// rebinning, which is close but not exact; moving averages are merged as a
// batch-weighted mean.
#ifndef ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_STATS_H_
#define ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_STATS_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/analysis_manager.h"
#include "analysis/calibration/calibration_settings.h"

namespace onnxc {

struct Histogram {
  double lo = 0, hi = 0;
  std::vector<double> counts;  // counts of x over [lo, hi], equal-width bins

  double total() const;
  // Count of values below x, assuming values spread evenly inside each bin.
  double CountBelow(double x) const;
  // The same distribution on `bins` equal bins over [lo, hi] (mass in each old
  // bin is split in proportion to overlap). Mass outside [lo, hi] goes to the
  // end bins.
  Histogram Rebin(double lo, double hi, int64_t bins) const;
};

struct TensorStats {
  double min = +std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();  // over all samples
  double avg_min = 0, avg_max = 0;  // moving average of per-batch min/max (constant 0.01, as ORT)
  int64_t batches = 0, elements = 0;
  Histogram hist;  // 2048 bins by default over [min, max]

  // Folds one batch's values into min/max/moving average (pass 1).
  // `threads` split the values, with the same result as one.
  void UpdateRange(const float* x, int64_t n, int threads = 1);
  // Adds values to the histogram (pass 2; hist.lo/hi already set).
  void UpdateHistogram(const float* x, int64_t n, int threads = 1);
};

inline constexpr double kMovingAverageConstant = 0.01;

struct CalibrationStats : Analysis {
  static constexpr char kName[] = "calibration-stats";
  using Settings = CalibrationSettings;
  // Streams settings.data through the Executor, collecting stats for every
  // float tensor of the main graph (graph inputs and node outputs), or loads
  // and merges settings.stats_in; saves to settings.stats_out if given. No
  // activation is stored: observers update stats as tensors are produced.
  static absl::StatusOr<std::unique_ptr<CalibrationStats>> Compute(Model& model, const AnalysisContext& ctx,
                                                                   const Settings& settings);
  std::map<std::string, TensorStats> tensors;  // by value name
  int64_t samples = 0;
  std::string source;       // what the statistics cover: CalibrationData::Describe(), with the shards
  std::string data_source;  // the whole data set, without shards (to merge shards back into it)
  int64_t shard_count = 1;
  std::vector<int64_t> shards = {0};  // the shards these statistics cover
  absl::Status Save(const std::string& path) const;            // protobuf (a .proto in analysis/)
  static absl::StatusOr<CalibrationStats> Load(const std::string& path);
  absl::Status Merge(const CalibrationStats& other);           // calibrate across processes/machines and combine

  // Filled by Compute (not saved): passes over the data, batches run, the
  // executor's worst peak of live activation bytes over all runs, seconds.
  int passes = 0;
  int64_t runs = 0;
  int64_t peak_live_bytes = 0;
  double seconds = 0;
  // Bytes held by the statistics themselves (O(tensors x bins)).
  int64_t MemoryBytes() const;

 private:
  // Merges the description of what `other` covers into this one's.
  void MergeSource(const CalibrationStats& other, bool first);
};

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_STATS_H_
