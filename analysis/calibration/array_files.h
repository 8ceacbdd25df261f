// Arrays in files, read row by row: one .npy file, the entries of an .npz,
// or a raw float32 .bin file (AMCT's calibration format) with a shape.
#ifndef ONNXC_ANALYSIS_CALIBRATION_ARRAY_FILES_H_
#define ONNXC_ANALYSIS_CALIBRATION_ARRAY_FILES_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/byte_stream.h"
#include "analysis/calibration/model_inputs.h"
#include "ir/tensor.h"

namespace onnxc {
namespace calibration {

// One n-d array in a file, read sequentially.
struct ArraySpec {
  std::string where;  // "x.npz:input" for messages
  DataType type;
  std::vector<int64_t> dims;
  std::function<std::unique_ptr<ByteStream>()> open;  // positioned at the data
};

absl::StatusOr<ArraySpec> NpySpec(const std::string& path);
// Every entry of an .npz, by entry name (".npy" dropped).
absl::StatusOr<std::vector<std::pair<std::string, ArraySpec>>> NpzSpecs(const std::string& path);
// "1x3x224x224" (or with commas).
absl::StatusOr<std::vector<int64_t>> ParseShape(const std::string& s, const std::string& where);
// A raw float32 file: `shape` (may cover several batches: the file holds k
// times its elements), or the model input's shape with the batch taken from
// the file size.
absl::StatusOr<ArraySpec> BinSpec(const std::string& path, const std::string& shape, const InputInfo& in);

}  // namespace calibration
}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_ARRAY_FILES_H_
