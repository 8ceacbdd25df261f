// Constant values as passes and analyses see them: initializers, IR < 4
// initializer-inputs, and Constant nodes.
#ifndef ONNXC_IR_CONSTANTS_H_
#define ONNXC_IR_CONSTANTS_H_

#include <optional>
#include <string>

#include "ir/model.h"

namespace onnxc {

// The constant value of `v`, if it has one a pass may rely on: an initializer
// that is not a graph input, an initializer that is (only in IR < 4 models,
// where every initializer must be listed as an input), or the output of a
// Constant node with a `value` tensor (as PaddleOCR exports weights).
std::optional<Tensor> GetConstant(const Model& model, const Value* v);

// Adds a new initializer to `graph`, also as a graph input in IR < 4 models
// (where the checker requires it).
Value* AddConstant(Model& model, Graph& graph, const std::string& base_name, Tensor t);

// Removes `v`'s initializer once nothing reads it (and it is not a graph
// input): weights a rewrite replaced.
void RemoveIfUnusedConstant(Graph& graph, Value* v);

}  // namespace onnxc

#endif  // ONNXC_IR_CONSTANTS_H_
