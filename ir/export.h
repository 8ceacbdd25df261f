// Writing the IR back to ONNX.
#ifndef ONNXC_IR_EXPORT_H_
#define ONNXC_IR_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ir/model.h"
#include "onnx/onnx_pb.h"

namespace onnxc {

struct ExportOptions {
  // Tensors over this many bytes are exported with type and shape and a
  // one-byte placeholder for data (-1: all data). For in-memory protos handed to shape
  // inference or the checker, which never read weights.
  int64_t max_tensor_bytes = -1;
  // Read external tensors into raw_data instead of keeping their references.
  bool inline_external = false;
  // Write value_info for values typed by shape inference, not only those
  // the model listed.
  bool inferred_value_info = true;
  // Leave out the main graph's initializers (SaveModel streams them).
  bool skip_main_initializers = false;
  // ExportNodesAsGraph: list every initializer it writes among the graph
  // inputs too (IR < 4, where ONNX takes initializer types from the inputs).
  bool initializers_as_inputs = false;
};

// Builds a ModelProto. Copies tensor data (subject to max_tensor_bytes):
// for saving to disk use SaveModel, which streams weights instead.
onnx::ModelProto ExportModel(const Model& model, const ExportOptions& options = {});
void ExportGraph(const Graph& graph, onnx::GraphProto* proto, const ExportOptions& options = {});

// Exports only `nodes` (nodes of `graph`, in order) as a standalone graph, for
// analyses such as ONNX's shape inference that need part of a model: every
// value they read (their subgraphs included) but do not produce becomes a
// graph input with its known type, or an initializer when it is constant
// (plus an input if it is also one in `graph`). Their outputs that are
// outputs of `graph` stay graph outputs, and the types the model declares for
// their outputs are kept in value_info.
void ExportNodesAsGraph(const Graph& graph, const std::vector<const Node*>& nodes,
                        onnx::GraphProto* proto, const ExportOptions& options = {});

struct SaveOptions {
  // Tensors of the main graph with at least this many bytes go to the
  // external data file. -1: each tensor stays where it was (inline or
  // external), except that a model whose inline data would pass protobuf's
  // 2 GB limit moves tensors of 1 KiB and more out automatically.
  int64_t external_threshold = -1;
  // External data file name, next to the model (default: "<model file>.data").
  std::string external_file;
  // Refuse to write external data at all (error if the model needs it).
  bool forbid_external = false;
};

// Writes `model` to `path` atomically (temporary file + rename), external
// data included. Weights are streamed from the IR to the file: the model is
// never held twice in memory.
absl::Status SaveModel(const Model& model, const std::string& path,
                       const SaveOptions& options = {});

}  // namespace onnxc

#endif  // ONNXC_IR_EXPORT_H_
