// Moving a model to a newer opset with ONNX's version converter, isolated in
// a child process (upgrade_opset.cc; also the pass upgrade-opset{to=N}).
#ifndef ONNXC_PASSES_TRANSFORMS_UPGRADE_OPSET_H_
#define ONNXC_PASSES_TRANSFORMS_UPGRADE_OPSET_H_

#include <cstdint>

#include "absl/status/status.h"
#include "ir/child_process.h"
#include "ir/model.h"

namespace onnxc {

// Converts `model` in place to default-domain opset `to` (<= 17); a model
// already there is left alone.
absl::Status UpgradeOpset(Model& model, int64_t to, Isolation isolation = Isolation::kChildProcess);

}  // namespace onnxc

#endif  // ONNXC_PASSES_TRANSFORMS_UPGRADE_OPSET_H_
