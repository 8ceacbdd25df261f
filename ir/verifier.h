// Structural checks of the IR, run after passes (and by tests).
#ifndef ONNXC_IR_VERIFIER_H_
#define ONNXC_IR_VERIFIER_H_

#include <string>

#include "absl/status/status.h"
#include "ir/child_process.h"
#include "ir/model.h"

namespace onnxc {

// The IR's own invariants, for a graph and all its subgraphs: every input is
// visible from the node (its graph or an enclosing one), producer and use
// links agree in both directions, nodes are in topological order, names are
// unique in their scope, and graph outputs are defined.
absl::Status VerifyGraph(const Graph& graph);
absl::Status VerifyModel(const Model& model);

// The newest ONNX opset and IR version the bundled checker knows.
constexpr int64_t kCheckerMaxOpset = 17;
constexpr int64_t kCheckerMaxIrVersion = 8;

// Runs ONNX's own checker on the exported model when its opset and IR
// version are ones the checker knows; `*ran` says whether it did.
absl::Status CheckWithOnnx(const Model& model, bool* ran = nullptr, Isolation isolation = Isolation::kChildProcess);

}  // namespace onnxc

#endif  // ONNXC_IR_VERIFIER_H_
