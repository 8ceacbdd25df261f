// Value: one SSA name in a graph: a graph input, an initializer, or a node
// output. It knows its producer and every consumer, including consumers
// inside subgraphs that capture it from the outer scope, so use lookups are
// O(1) and never scan the graph.
#ifndef ONNXC_IR_VALUE_H_
#define ONNXC_IR_VALUE_H_

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/rare_string.h"
#include "ir/tensor.h"
#include "onnx/onnx_pb.h"

namespace onnxc {

class Graph;
class Node;

// One consumer: input slot `index` of `node`.
struct Use {
  Node* node;
  int index;
};

class Value {
 public:
  const std::string& name() const { return name_; }
  Graph* graph() const { return graph_; }  // the graph that defines it

  // Node that produces it, or nullptr for graph inputs and initializers.
  Node* producer() const { return producer_; }
  int output_index() const { return output_index_; }
  // Node inputs that read it, in no particular order.
  const std::vector<Use>& uses() const { return uses_; }
  // Graphs that list it among their outputs (its own graph or a subgraph).
  const std::vector<Graph*>& output_of() const { return output_of_; }
  bool IsUsed() const { return !uses_.empty() || !output_of_.empty(); }
  bool IsGraphOutput() const;  // output of its own graph

  bool is_graph_input() const { return is_graph_input_; }
  // Constant data: an initializer (possibly also a graph input in IR < 4, in
  // which case callers may override it and it is not a true constant).
  bool has_initializer() const { return initializer_ != nullptr; }
  const Tensor* initializer() const { return initializer_.get(); }
  Tensor* mutable_initializer() { return initializer_.get(); }
  // A constant whose value cannot change at run time: an initializer that is
  // not also a graph input.
  const Tensor* constant() const { return is_graph_input_ ? nullptr : initializer(); }
  bool is_sparse_initializer() const { return sparse_ != nullptr; }
  const onnx::SparseTensorProto* sparse_initializer() const { return sparse_.get(); }

  // Type and shape, if known (from the model's value_info or shape inference).
  bool has_type() const { return type_ != nullptr; }
  const onnx::TypeProto* type() const { return type_.get(); }
  void set_type(onnx::TypeProto t) {
    if (type_) {
      *type_ = std::move(t);
    } else {
      type_ = std::make_unique<onnx::TypeProto>(std::move(t));
    }
  }
  void clear_type() { type_.reset(); }
  // Convenience views of a tensor type: element type (UNDEFINED if unknown)
  // and dims (-1 for unknown or symbolic); nullopt if the rank is unknown.
  DataType elem_type() const;
  std::optional<std::vector<int64_t>> shape() const;
  bool in_value_info() const { return in_value_info_; }
  // value_info doc_string, kept for a lossless round trip.
  const std::string& doc_string() const { return doc_string_.get(); }
  void set_doc_string(std::string s) { doc_string_.set(std::move(s)); }

 private:
  friend class Graph;
  friend class Node;
  Value(Graph* graph, std::string name) : graph_(graph), name_(std::move(name)) {}

  Graph* graph_;
  std::string name_;
  Node* producer_ = nullptr;
  int output_index_ = -1;
  std::vector<Use> uses_;
  std::vector<Graph*> output_of_;
  bool is_graph_input_ = false;
  bool in_value_info_ = false;
  // Held by pointer: most values have no data, no type at load time and no
  // doc string, and a model has a value per node (a Value is ~190 bytes
  // instead of ~340 with these inline).
  std::unique_ptr<Tensor> initializer_;
  std::unique_ptr<onnx::SparseTensorProto> sparse_;
  std::unique_ptr<onnx::TypeProto> type_;
  RareString doc_string_;
  // Positions in the owning graph's lists, for O(1) removal.
  std::list<std::unique_ptr<Value>>::iterator self_;
  std::list<Value*>::iterator initializer_pos_;
  std::list<Value*>::iterator value_info_pos_;
};

}  // namespace onnxc

#endif  // ONNXC_IR_VALUE_H_
