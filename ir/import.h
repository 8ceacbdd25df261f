// Reading ONNX models into the IR.
#ifndef ONNXC_IR_IMPORT_H_
#define ONNXC_IR_IMPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ir/model.h"
#include "onnx/onnx_pb.h"

namespace onnxc {

// Loads `path`. External data is checked (exists, stays in the model's
// folder, is long enough) but read only when a tensor is used. Errors name the
// file, the graph and node, and the reason: a truncated or corrupt file, an
// input nobody defines, a value defined twice, a cycle, a bad tensor.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path);

// Converts a parsed proto (consumed: tensor data is moved, not copied).
// `model_dir` resolves external data; `path` is only used in messages.
absl::StatusOr<std::unique_ptr<Model>> ImportModel(onnx::ModelProto&& proto,
                                                   const std::string& model_dir,
                                                   const std::string& path = "");

// Parses a model from bytes (fuzzing, tests).
absl::StatusOr<std::unique_ptr<Model>> ParseModel(const std::string& bytes,
                                                  const std::string& model_dir = ".");

}  // namespace onnxc

#endif  // ONNXC_IR_IMPORT_H_
