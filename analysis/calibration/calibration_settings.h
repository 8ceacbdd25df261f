// How calibration data is read and summarised: the settings of the
// calibration-stats analysis. compress fills them from --calib-* flags and
// the config file; a pass that needs statistics may narrow them (quantize
// sets `samples` from its config) and asks the analysis manager with them,
// so different settings give different, separately cached statistics.
#ifndef ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_SETTINGS_H_
#define ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_SETTINGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onnxc {

// One slice of the calibration data: every `count`-th batch starting at
// `index` (calibrate on several machines, then merge the saved statistics).
struct CalibrationShard {
  int64_t index = 0;
  int64_t count = 1;

  // "k/n" (0 <= k < n), or "auto": the rank and size of the MPI job
  // (OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE, PMIX_RANK with
  // OMPI_COMM_WORLD_SIZE) or the Slurm job array (SLURM_ARRAY_TASK_ID,
  // SLURM_ARRAY_TASK_COUNT, ids from SLURM_ARRAY_TASK_MIN) this process runs in.
  static absl::StatusOr<CalibrationShard> Parse(const std::string& text);
  std::string ToString() const;  // "k/n"
};

struct CalibrationSettings {
  // A folder of ONNX test-layout .pb files, .npy/.npz, raw float32 .bin files
  // ("x.bin:1x3x224x224"), or "random" (synthetic, with a loud warning).
  std::string data;
  int64_t samples = -1;        // at most this many samples; -1: all
  int64_t bins = 2048;         // histogram bins
  bool histograms = true;      // a second pass for exact histograms (see calibration_stats.h)
  int64_t batch = 32;          // rows per run when a file holds more
  std::string shape;           // shape of raw .bin files, "1x3x224x224"
  CalibrationShard shard;
  // Load and merge these saved statistics instead of running.
  std::vector<std::string> stats_in;
  // Save the statistics here after computing them ("{shard}" becomes the
  // shard index).
  std::string stats_out;

  // Everything that changes the statistics (stats_out does not).
  std::string CacheKey() const;
  // stats_out with "{shard}" replaced.
  std::string StatsOutPath() const;
};

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_SETTINGS_H_
