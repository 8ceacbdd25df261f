// Helpers shared by kernel tests and tools: ONNX test-case directories
// (model.onnx + test_data_set_*/input_*.pb, output_*.pb) and tolerant
// tensor comparison.
#ifndef ONNXC_KERNELS_TESTUTIL_H_
#define ONNXC_KERNELS_TESTUTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/tensor.h"

namespace onnxc {
namespace kernels {

// Reads a serialized TensorProto (.pb) file. `name` receives the proto's name.
absl::StatusOr<Tensor> ReadTensorPb(const std::string& path, std::string* name = nullptr);
// Reads a .npy file (little-endian, C order; f4/f8/i1/u1/i4/i8/b1/f2).
absl::StatusOr<Tensor> ReadNpy(const std::string& path);
// Files in `dir` named <prefix><K>.<ext>, sorted by K.
std::vector<std::string> NumberedFiles(const std::string& dir, const std::string& prefix,
                                       const std::string& ext);
// Loads input_K.pb (or input_K.npy / any *.npy sorted) files of a directory
// and pairs them with graph input names: by TensorProto name when it names a
// graph input, else by order over the graph inputs that have no initializer.
absl::StatusOr<std::vector<std::pair<std::string, Tensor>>> LoadInputs(const Graph& g,
                                                                       const std::string& dir);
// Compares `got` to `want`: same shape; |got - want| <= atol + rtol * |want|
// for floats (NaN == NaN), exact for integers and bools. Float16 data
// compares by value with float. Returns "" when equal, else a reason.
std::string CompareTensors(const Tensor& want, const Tensor& got, double rtol, double atol);

}  // namespace kernels
}  // namespace onnxc

#endif  // ONNXC_KERNELS_TESTUTIL_H_
