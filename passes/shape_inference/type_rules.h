// Type and shape rules for the common ONNX operators, run in-process.
//
// ONNX's own shape inference needs the graph exported to a proto, allocates
// per node, and (in libonnx 1.12) crashes on some malformed nodes, so the
// shape-inference pass runs it in a forked child. For the operators that make
// up most models (convolutions, pooling, GEMMs, activations, broadcasting
// arithmetic, reshapes, reductions, Q/DQ...) the same result is computed
// here directly on the IR, which is ~10x cheaper. Each rule follows ONNX
// 1.12's inference function for that operator; a rule that meets anything
// unusual (an unknown input type, an opset it does not know, a shape ONNX
// would reject, ceil_mode pooling...) declines, and the node is left to ONNX.
// One deliberate difference: an unknown dimension stays unnamed where ONNX
// invents a symbol for it ("unk__N").
// //passes:shape_inference_test checks the rules against ONNX on every
// conformance model.
#ifndef ONNXC_PASSES_SHAPE_INFERENCE_TYPE_RULES_H_
#define ONNXC_PASSES_SHAPE_INFERENCE_TYPE_RULES_H_

#include <cstdint>
#include <vector>

#include "ir/node.h"
#include "onnx/onnx_pb.h"

namespace onnxc {

// Computes the types of every output of `node`, an operator of the default
// domain at opset `opset`, from the types of its inputs and the data of its
// constant inputs. `outputs` gets one entry per output (entries for omitted
// outputs are left empty). Returns false when there is no rule for the node
// or the rule declines; `outputs` is then unspecified.
bool InferTypesWithRules(const Node& node, int64_t opset, std::vector<onnx::TypeProto>* outputs);

// True if a rule exists for this op type (it may still decline a node).
bool HasTypeRule(const std::string& op_type);

}  // namespace onnxc

#endif  // ONNXC_PASSES_SHAPE_INFERENCE_TYPE_RULES_H_
