// Node: one operator application. Inputs and outputs are Values; an empty
// (omitted optional) input or output is a nullptr.
#ifndef ONNXC_IR_NODE_H_
#define ONNXC_IR_NODE_H_

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "ir/value.h"

namespace onnxc {

class Graph;

class Node {
 public:
  const std::string& op_type() const { return op_type_; }
  // "" is the default ONNX domain ("ai.onnx" is normalised to "" only when
  // comparing; the original spelling is kept for export).
  const std::string& domain() const { return domain_; }
  bool IsOp(const char* op_type) const;  // default domain and this op_type
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  const std::string& doc_string() const { return doc_string_.get(); }
  void set_doc_string(std::string s) { doc_string_.set(std::move(s)); }
  Graph* graph() const { return graph_; }
  // "name (OpType)" or "#index (OpType)" for messages.
  std::string Describe() const;

  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  Value* input(int i) const { return i < num_inputs() ? inputs_[i] : nullptr; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  void SetInput(int i, Value* v);  // grows the input list if needed
  void AddInput(Value* v) { SetInput(num_inputs(), v); }
  void RemoveLastInput();

  int num_outputs() const { return static_cast<int>(outputs_.size()); }
  Value* output(int i) const { return i < num_outputs() ? outputs_[i] : nullptr; }
  const std::vector<Value*>& outputs() const { return outputs_; }

  // Attributes in their original order.
  const std::vector<Attribute>& attributes() const { return attributes_; }
  const Attribute* attr(const std::string& name) const;
  Attribute* mutable_attr(const std::string& name);
  int64_t GetInt(const std::string& name, int64_t def) const;
  float GetFloat(const std::string& name, float def) const;
  std::string GetString(const std::string& name, const std::string& def) const;
  std::vector<int64_t> GetInts(const std::string& name) const;
  void SetAttr(Attribute a);  // replaces an attribute of the same name
  bool RemoveAttr(const std::string& name);
  // Subgraphs of all GRAPH/GRAPHS attributes.
  std::vector<Graph*> subgraphs() const;

 private:
  friend class Graph;
  Node() = default;

  std::string op_type_, domain_, name_;
  RareString doc_string_;
  Graph* graph_ = nullptr;
  std::vector<Value*> inputs_;
  std::vector<size_t> use_pos_;  // where each input sits in its value's uses()
  std::vector<Value*> outputs_;
  std::vector<Attribute> attributes_;
  std::list<std::unique_ptr<Node>>::iterator self_;
};

}  // namespace onnxc

#endif  // ONNXC_IR_NODE_H_
