// Small graph edits and questions rewrites share: may a node be rewritten in
// place, bypassing a node, which nodes are deterministic.
#ifndef ONNXC_IR_REWRITE_H_
#define ONNXC_IR_REWRITE_H_

#include "ir/graph.h"

namespace onnxc {

// True when only `user` reads `v` (so it may be rewritten in place).
bool SoleUser(const Value* v, const Node* user);

// Removes `node` by letting its readers read `replacement` instead. When
// the node's output is a graph output, `replacement` takes over the output's
// name and type if it can (it is an ordinary node output of the same graph);
// otherwise nothing changes and false is returned, because output names are
// the model's interface.
bool BypassNode(Graph& graph, Node* node, Value* replacement);

// False for ops whose results differ between runs (Random*, Multinomial,
// Bernoulli, training Dropout) and nodes with subgraphs: such nodes are never
// merged or folded.
bool IsDeterministic(const Node& n);

}  // namespace onnxc

#endif  // ONNXC_IR_REWRITE_H_
