// Graph: nodes in topological order plus the values they connect. Subgraphs
// (If/Loop/Scan bodies) are Graphs with a parent; a name a subgraph does not
// define resolves to the enclosing graph's value, and that value records the
// inner node among its uses.
//
// Every edit below keeps producer/consumer links exact, so passes never
// rebuild indexes and stay linear in graph size.
#ifndef ONNXC_IR_GRAPH_H_
#define ONNXC_IR_GRAPH_H_

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "ir/node.h"
#include "ir/tensor.h"
#include "ir/value.h"
#include "onnx/onnx_pb.h"

namespace onnxc {

// Every name used anywhere in one model, so fresh names never collide, even
// with names inside sibling subgraphs.
struct NameTable {
  absl::flat_hash_set<std::string> used;
  int64_t counter = 0;
};

class Graph {
 public:
  using NodeList = std::list<std::unique_ptr<Node>>;

  // A root graph (parent == nullptr) or the body of `parent_node`'s attribute.
  explicit Graph(Node* parent_node = nullptr);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return meta_.name(); }
  void set_name(const std::string& n) { meta_.set_name(n); }
  // Graph-level fields the IR does not model (doc_string,
  // quantization_annotation); kept verbatim.
  const onnx::GraphProto& meta() const { return meta_; }
  onnx::GraphProto* mutable_meta() { return &meta_; }

  Node* parent_node() const { return parent_node_; }
  Graph* parent() const;
  Graph* root();
  // Nesting depth: 0 for the main graph.
  int depth() const;

  // ---- Nodes, in topological order.
  const NodeList& nodes() const { return nodes_; }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  // A copy of the node pointers, for loops that erase nodes other than the
  // current one.
  std::vector<Node*> NodeSnapshot() const;

  // Creates a node before `before` (nullptr: at the end). Outputs get fresh
  // names derived from `name` (or op_type).
  Node* CreateNode(const std::string& op_type, absl::Span<Value* const> inputs,
                   int num_outputs, Node* before = nullptr, const std::string& name = "",
                   const std::string& domain = "");
  // Same, with given output names (must be unused; "" for an omitted output).
  Node* CreateNodeWithOutputs(const std::string& op_type, absl::Span<Value* const> inputs,
                              absl::Span<const std::string> output_names, Node* before = nullptr,
                              const std::string& name = "", const std::string& domain = "");
  // Erases a node whose outputs are no longer used. Its inputs lose the uses.
  void EraseNode(Node* node);
  // The node after `node` in order, or nullptr for the last one.
  Node* NodeAfter(const Node* node) const;
  // Moves `node` to just before `before` (nullptr: to the end).
  void MoveNode(Node* node, Node* before);
  // Sorts nodes topologically (stable: keeps the current order where it can).
  // Fails naming a node on a cycle.
  absl::Status TopologicalSort();

  // ---- Values.
  // Looks `name` up in this graph, then in enclosing graphs.
  Value* FindValue(const std::string& name) const;
  Value* FindLocalValue(const std::string& name) const;
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* AddInput(const std::string& name);
  // Removes graph input i; an initializer keeps its value, otherwise the
  // value must be unused.
  void RemoveInput(int i);
  void AddOutput(Value* v);
  void SetOutput(int i, Value* v);
  void RemoveOutput(int i);
  // Initializers, in their original order.
  const std::list<Value*>& initializers() const { return initializer_order_; }
  Value* AddInitializer(const std::string& name, Tensor t);
  // Makes an existing graph input an initializer too (IR < 4 models).
  void SetInitializer(Value* v, Tensor t);
  // Drops the value's constant data; an unused non-input value is erased.
  void RemoveInitializer(Value* v);
  Value* AddSparseInitializer(const std::string& name, onnx::SparseTensorProto sparse);
  // Values listed in value_info, in order (types from shape inference are
  // appended when exported).
  const std::list<Value*>& value_info() const { return value_info_order_; }
  void AddToValueInfo(Value* v);
  // value_info entries naming no value of this graph, kept verbatim.
  std::vector<onnx::ValueInfoProto>& orphan_value_info() { return orphan_value_info_; }
  const std::vector<onnx::ValueInfoProto>& orphan_value_info() const { return orphan_value_info_; }

  // Redirects every use of `from` (node inputs, graph outputs, captures in
  // subgraphs) to `to`.
  void ReplaceAllUsesWith(Value* from, Value* to);
  // Renames a value everywhere it is referenced. `new_name` must be unused.
  void RenameValue(Value* v, const std::string& new_name);
  // A model-wide unused name starting with `base`.
  std::string FreshName(const std::string& base);
  bool NameInUse(const std::string& name) const { return names_->used.contains(name); }
  int64_t num_values() const { return static_cast<int64_t>(values_.size()); }

  // Deep copy; `parent_node` is the owner of the copy (nullptr for a root).
  // Values captured from outside this graph stay pointing at the originals
  // unless `value_map` maps them. Tensor data is shared copy-on-write.
  std::unique_ptr<Graph> Clone(Node* parent_node = nullptr,
                               absl::flat_hash_map<const Value*, Value*>* value_map = nullptr) const;

  // Visits this graph and every nested subgraph, outermost first.
  template <typename F> void ForEachGraph(F&& f) {
    f(this);
    for (auto& n : nodes_)
      for (Graph* g : n->subgraphs()) g->ForEachGraph(f);
  }

  // For the importer: a value with no producer yet.
  Value* CreateValue(const std::string& name);
  void SetProducer(Value* v, Node* n, int index);
  void AppendNodeOutput(Node* n, Value* v) { n->outputs_.push_back(v); }
  // Attaches a created node (inputs/outputs set) at the end; importer only.
  Node* NewDetachedNode(const std::string& op_type, const std::string& domain);

 private:
  friend class Node;
  void RegisterName(Value* v);
  void EraseValue(Value* v);
  static void AddUse(Value* v, Node* n, int index);
  static void RemoveUse(Node* n, int index);

  Node* parent_node_;
  std::shared_ptr<NameTable> names_;
  onnx::GraphProto meta_;
  NodeList nodes_;
  std::list<std::unique_ptr<Value>> values_;
  absl::flat_hash_map<std::string, Value*> scope_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  std::list<Value*> initializer_order_;
  std::list<Value*> value_info_order_;
  std::vector<onnx::ValueInfoProto> orphan_value_info_;
};

}  // namespace onnxc

#endif  // ONNXC_IR_GRAPH_H_
