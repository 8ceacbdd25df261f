#include "ir/attribute.h"

#include "ir/graph.h"

namespace onnxc {

Attribute::Attribute(onnx::AttributeProto proto) : proto_(std::move(proto)) {
  proto_.clear_g();
  proto_.clear_graphs();
}
Attribute::Attribute(Attribute&&) noexcept = default;
Attribute& Attribute::operator=(Attribute&&) noexcept = default;
Attribute::~Attribute() = default;

void Attribute::add_graph(std::unique_ptr<Graph> g) { graphs_.push_back(std::move(g)); }

namespace {
onnx::AttributeProto Named(const std::string& name, onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto p;
  p.set_name(name);
  p.set_type(type);
  return p;
}
}  // namespace

Attribute Attribute::Int(const std::string& name, int64_t v) {
  auto p = Named(name, onnx::AttributeProto::INT);
  p.set_i(v);
  return Attribute(std::move(p));
}
Attribute Attribute::Float(const std::string& name, float v) {
  auto p = Named(name, onnx::AttributeProto::FLOAT);
  p.set_f(v);
  return Attribute(std::move(p));
}
Attribute Attribute::String(const std::string& name, const std::string& v) {
  auto p = Named(name, onnx::AttributeProto::STRING);
  p.set_s(v);
  return Attribute(std::move(p));
}
Attribute Attribute::Ints(const std::string& name, const std::vector<int64_t>& v) {
  auto p = Named(name, onnx::AttributeProto::INTS);
  for (int64_t x : v) p.add_ints(x);
  return Attribute(std::move(p));
}
Attribute Attribute::Floats(const std::string& name, const std::vector<float>& v) {
  auto p = Named(name, onnx::AttributeProto::FLOATS);
  for (float x : v) p.add_floats(x);
  return Attribute(std::move(p));
}
Attribute Attribute::TensorValue(const std::string& name, onnx::TensorProto v) {
  auto p = Named(name, onnx::AttributeProto::TENSOR);
  *p.mutable_t() = std::move(v);
  return Attribute(std::move(p));
}

}  // namespace onnxc
