// Executor: runs an IR graph on the CPU.
//
//   auto ex = Executor::Create(model.graph(), {.threads = 2});   // plans once
//   auto outs = (*ex)->Run({{"input", tensor}}, &observer);      // runs many times
//
// Create checks every node (subgraphs included) against the kernel registry
// and lists all unsupported ops in one error. Shapes are computed at run
// time, so the batch size may change between runs. Each intermediate tensor is
// freed right after its last consumer: peak memory is the weights plus the
// largest live set. An observer sees every tensor as it is produced (graph
// inputs and node outputs of the main graph, and of If branches and Loop
// bodies each time they run), so calibration statistics can stream without
// keeping activations.
#ifndef ONNXC_KERNELS_EXECUTOR_H_
#define ONNXC_KERNELS_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ir/node.h"
#include "ir/tensor.h"
#include "ir/value.h"
#include "kernels/kernel_options.h"

namespace onnxc {

// Read-only view of a tensor handed to observers. Valid only during the call.
// FLOAT16 data is seen as FLOAT (the executor computes in float32).
struct TensorView {
  DataType type;
  absl::Span<const int64_t> dims;
  const void* data;

  int64_t num_elements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
  template <typename T> absl::Span<const T> span() const {
    return absl::Span<const T>(static_cast<const T*>(data), num_elements());
  }
};

using Observer = std::function<void(const Value& value, const TensorView& t)>;

struct ExecutorOptions {
  int threads = 1;
  // Opset of the default domain; -1: taken from the model by the caller
  // (Executor::Create needs it; see CreateForModel).
  int opset = -1;
  // Accumulate wall time per step (see Executor::op_profile); off by default.
  bool profile = false;
  // oneDNN on/off, activation layout, split threshold (kernel_options.h).
  KernelOptions kernels;
};

namespace kernels {
struct GraphPlan;
class Frame;
class BufferPool;
}  // namespace kernels

class Executor {
 public:
  // `g` must outlive the executor. `o.opset` must be set (>= 1).
  static absl::StatusOr<std::unique_ptr<Executor>> Create(const Graph& g,
                                                          const ExecutorOptions& o);
  // Same, for the model's main graph; o.opset defaults to the model's opset.
  static absl::StatusOr<std::unique_ptr<Executor>> Create(const Model& m,
                                                          const ExecutorOptions& o);
  ~Executor();

  // Inputs by graph input name. Graph inputs with an initializer may be
  // omitted (the initializer is used). Returns the graph outputs in order.
  absl::StatusOr<std::vector<Tensor>> Run(
      const std::vector<std::pair<std::string, Tensor>>& inputs,
      const Observer* observer = nullptr);

  // Bytes of non-weight tensors alive at the worst point of the last Run
  // (inputs and intermediates; weights excluded).
  int64_t peak_live_bytes() const { return peak_live_bytes_; }
  const Graph& graph() const { return graph_; }
  // With options.profile: milliseconds per step kind summed over all runs
  // since creation, keyed by op type ("Conv+BatchNormalization+Relu" for a
  // fused step). Measures the plan actually run (fused without observer).
  const std::map<std::string, double>& op_profile() const { return op_profile_; }

 private:
  Executor(const Graph& g, const ExecutorOptions& o);
  absl::StatusOr<std::vector<Tensor>> RunImpl(
      const std::vector<std::pair<std::string, Tensor>>& inputs, const Observer* observer);
  const Graph& graph_;
  ExecutorOptions options_;
  std::unique_ptr<kernels::GraphPlan> plan_;        // every node (observed runs)
  std::unique_ptr<kernels::GraphPlan> fused_plan_;  // Conv+BN+act fused
  int64_t peak_live_bytes_ = 0;
  std::map<std::string, double> op_profile_;
  // Intermediate buffers are recycled across runs (freed when unused for a run).
  std::shared_ptr<kernels::BufferPool> pool_;
  friend class kernels::Frame;
};

// True if a kernel exists for the node at this opset (subgraphs of If/Loop
// are not inspected here; Executor::Create checks them).
bool IsSupported(const Node& node, int opset);

// Every node in `g` and its subgraphs that has no kernel, as
// "OpType (domain ai.onnx): node names"; empty if all are supported.
std::vector<std::string> UnsupportedOps(const Graph& g, int opset);

// Runs one node on given inputs (nullptr for omitted optional inputs), for
// constant folding. Nodes with subgraphs are run with no outer scope beyond
// the node's own graph initializers.
absl::StatusOr<std::vector<Tensor>> RunNode(const Node& node,
                                            const std::vector<const Tensor*>& inputs,
                                            int opset);

}  // namespace onnxc

#endif  // ONNXC_KERNELS_EXECUTOR_H_
