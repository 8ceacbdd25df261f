// Writing files so that a reader never sees half of one: a temporary file in
// the same folder, then rename. Every output the project writes (models,
// records, reports, statistics) goes this way.
#ifndef ONNXC_IR_ATOMIC_FILE_H_
#define ONNXC_IR_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace onnxc {

// Writes `bytes` to `path` via a temporary file and rename.
absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes);

}  // namespace onnxc

#endif  // ONNXC_IR_ATOMIC_FILE_H_
