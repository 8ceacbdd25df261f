// Runs a model in ONNX Runtime (onnxruntime-node, the reference runtime) from
// C++ tests, through testdata/ort/run.js. The runtime's folder comes from the
// ONNXC_ORT_DIR environment variable (tools/test.sh sets it).
#ifndef ONNXC_TESTDATA_ORT_RUNNER_H_
#define ONNXC_TESTDATA_ORT_RUNNER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/tensor_io.h"

namespace onnxc {

// "" when ONNXC_ORT_DIR is not set.
std::string OrtDir();
// Folder of generated test models (ONNXC_TESTDATA), "" when not set.
std::string GeneratedTestdataDir();

// A float tensor of uniform random values in [lo, hi), reproducible by seed.
Tensor RandomTensor(std::vector<int64_t> dims, float lo, float hi, int seed);

// Runs `model_path` on `inputs` (named by graph input) and returns its outputs
// in graph order.
absl::StatusOr<std::vector<NamedTensor>> RunWithOrt(const std::string& model_path,
                                                    const std::vector<NamedTensor>& inputs);

}  // namespace onnxc

#endif  // ONNXC_TESTDATA_ORT_RUNNER_H_
