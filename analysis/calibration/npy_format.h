// The .npy array format (numpy's): header parsing for the readers, bytes
// for the writers. Little-endian, C order; Fortran order and big-endian
// arrays are refused with the reason.
#ifndef ONNXC_ANALYSIS_CALIBRATION_NPY_FORMAT_H_
#define ONNXC_ANALYSIS_CALIBRATION_NPY_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/byte_stream.h"
#include "ir/tensor.h"

namespace onnxc {
namespace calibration {

struct NpyHeader {
  DataType type = onnx::TensorProto::UNDEFINED;
  std::vector<int64_t> dims;
  int64_t header_bytes = 0;  // magic + header; data follows
};

// Reads the magic and header; `where` names the array in messages.
absl::StatusOr<NpyHeader> ReadNpyHeader(ByteStream& in, const std::string& where);
// numpy's dtype string for `t` ("<f4"), or "" when .npy cannot hold it.
std::string NpyDescr(DataType t);
// A whole .npy file holding `t`.
std::string NpyBytes(const Tensor& t);

}  // namespace calibration

// Writes a float32/float64/int64/int32/uint8/int8 tensor as a .npy file
// (little-endian, C order), e.g. for preparing calibration data or tests.
absl::Status WriteNpy(const std::string& path, const Tensor& t);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_NPY_FORMAT_H_
