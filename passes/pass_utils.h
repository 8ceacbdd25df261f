// Helpers shared by passes: constants, rewiring, name matching.
#ifndef ONNXC_PASSES_PASS_UTILS_H_
#define ONNXC_PASSES_PASS_UTILS_H_

#include <optional>
#include <string>
#include <vector>

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

// True when only `user` reads `v` (so it may be rewritten in place).
bool SoleUser(const Value* v, const Node* user);

// Removes `node` by letting its readers read `replacement` instead. When
// the node's output is a graph output, `replacement` takes over the output's
// name and type if it can (it is an ordinary node output of the same graph);
// otherwise nothing changes and false is returned, because output names are
// the model's interface.
bool BypassNode(Graph& graph, Node* node, Value* replacement);

// Removes `v`'s initializer once nothing reads it (and it is not a graph
// input): weights a rewrite replaced.
void RemoveIfUnusedConstant(Graph& graph, Value* v);

// False for ops whose results differ between runs (Random*, Multinomial,
// Bernoulli, training Dropout) and nodes with subgraphs: such nodes are never
// merged or folded.
bool IsDeterministic(const Node& n);

// Shell-style glob match ("conv3*", "layer?.conv") of a node name.
bool MatchesAny(const std::string& name, const std::vector<std::string>& globs);

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_UTILS_H_
