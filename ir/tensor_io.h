// Reading and writing single tensors as ONNX TensorProto files (.pb), the
// layout of ONNX's test data (input_0.pb, output_0.pb, ...).
#ifndef ONNXC_IR_TENSOR_IO_H_
#define ONNXC_IR_TENSOR_IO_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/tensor.h"

namespace onnxc {

// A tensor and the name stored with it ("" if none).
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

absl::StatusOr<NamedTensor> ReadTensorPb(const std::string& path);
absl::Status WriteTensorPb(const std::string& path, const Tensor& t, const std::string& name = "");
// prefix_0.pb, prefix_1.pb, ... in `dir`, in index order.
absl::StatusOr<std::vector<NamedTensor>> ReadTensorPbSeries(const std::string& dir,
                                                            const std::string& prefix);

}  // namespace onnxc

#endif  // ONNXC_IR_TENSOR_IO_H_
