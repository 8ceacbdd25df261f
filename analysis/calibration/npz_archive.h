// .npz files: zip archives of .npy arrays, as numpy.savez writes them
// (stored or deflated, zip64 included). The reader lists the entries and
// where their data starts; nothing is loaded.
#ifndef ONNXC_ANALYSIS_CALIBRATION_NPZ_ARCHIVE_H_
#define ONNXC_ANALYSIS_CALIBRATION_NPZ_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/tensor.h"

namespace onnxc {
namespace calibration {

struct ZipEntry {
  std::string name;
  int method = 0;  // 0 stored, 8 deflate
  int64_t comp_size = 0, size = 0;
  int64_t local_offset = 0;  // where the entry's data starts
};

absl::StatusOr<std::vector<ZipEntry>> ReadZipDirectory(const std::string& path);

}  // namespace calibration

// Writes an .npz (zip of .npy entries, stored or deflated) of named tensors,
// as numpy.savez / savez_compressed do.
absl::Status WriteNpz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays,
                      bool compress = false);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_NPZ_ARCHIVE_H_
