// Attribute: a named constant on a node. Scalar, list and tensor payloads stay
// in their AttributeProto (lossless by construction); GRAPH and GRAPHS
// attributes become subgraphs of the IR so passes can rewrite If/Loop bodies.
#ifndef ONNXC_IR_ATTRIBUTE_H_
#define ONNXC_IR_ATTRIBUTE_H_

#include <memory>
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"

namespace onnxc {

class Graph;

class Attribute {
 public:
  using Type = onnx::AttributeProto::AttributeType;

  Attribute() = default;
  // Payload without graphs (graphs are attached with add_graph).
  explicit Attribute(onnx::AttributeProto proto);
  Attribute(Attribute&&) noexcept;
  Attribute& operator=(Attribute&&) noexcept;
  ~Attribute();

  const std::string& name() const { return proto_.name(); }
  Type type() const { return proto_.type(); }
  // The payload. For GRAPH(S) attributes its g/graphs fields are empty.
  const onnx::AttributeProto& proto() const { return proto_; }
  onnx::AttributeProto* mutable_proto() { return &proto_; }

  int64_t i() const { return proto_.i(); }
  float f() const { return proto_.f(); }
  const std::string& s() const { return proto_.s(); }
  const onnx::TensorProto& t() const { return proto_.t(); }
  std::vector<int64_t> ints() const { return {proto_.ints().begin(), proto_.ints().end()}; }
  std::vector<float> floats() const { return {proto_.floats().begin(), proto_.floats().end()}; }

  // Subgraphs (one for GRAPH, any number for GRAPHS).
  const std::vector<std::unique_ptr<Graph>>& graphs() const { return graphs_; }
  Graph* graph() const { return graphs_.empty() ? nullptr : graphs_[0].get(); }
  void add_graph(std::unique_ptr<Graph> g);

  // Builders for the common cases.
  static Attribute Int(const std::string& name, int64_t v);
  static Attribute Float(const std::string& name, float v);
  static Attribute String(const std::string& name, const std::string& v);
  static Attribute Ints(const std::string& name, const std::vector<int64_t>& v);
  static Attribute Floats(const std::string& name, const std::vector<float>& v);
  static Attribute TensorValue(const std::string& name, onnx::TensorProto v);

 private:
  onnx::AttributeProto proto_;
  std::vector<std::unique_ptr<Graph>> graphs_;
};

}  // namespace onnxc

#endif  // ONNXC_IR_ATTRIBUTE_H_
