#include "ir/node.h"

#include "absl/strings/str_cat.h"
#include "ir/graph.h"

namespace onnxc {

bool Node::IsOp(const char* op_type) const {
  return op_type_ == op_type && (domain_.empty() || domain_ == "ai.onnx");
}

std::string Node::Describe() const {
  if (!name_.empty()) return absl::StrCat("'", name_, "' (", op_type_, ")");
  if (!outputs_.empty() && outputs_[0] != nullptr)
    return absl::StrCat(op_type_, " producing '", outputs_[0]->name(), "'");
  return absl::StrCat("unnamed ", op_type_);
}

void Node::SetInput(int i, Value* v) {
  if (i >= num_inputs()) {
    inputs_.resize(i + 1, nullptr);
    use_pos_.resize(i + 1, 0);
  }
  Graph::RemoveUse(this, i);
  inputs_[i] = v;
  if (v != nullptr) Graph::AddUse(v, this, i);
}

void Node::RemoveLastInput() {
  if (inputs_.empty()) return;
  Graph::RemoveUse(this, num_inputs() - 1);
  inputs_.pop_back();
  use_pos_.pop_back();
}

const Attribute* Node::attr(const std::string& name) const {
  for (const auto& a : attributes_)
    if (a.name() == name) return &a;
  return nullptr;
}

Attribute* Node::mutable_attr(const std::string& name) {
  for (auto& a : attributes_)
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t Node::GetInt(const std::string& name, int64_t def) const {
  const Attribute* a = attr(name);
  return a ? a->i() : def;
}

float Node::GetFloat(const std::string& name, float def) const {
  const Attribute* a = attr(name);
  return a ? a->f() : def;
}

std::string Node::GetString(const std::string& name, const std::string& def) const {
  const Attribute* a = attr(name);
  return a ? a->s() : def;
}

std::vector<int64_t> Node::GetInts(const std::string& name) const {
  const Attribute* a = attr(name);
  return a ? a->ints() : std::vector<int64_t>{};
}

void Node::SetAttr(Attribute a) {
  for (auto& existing : attributes_) {
    if (existing.name() == a.name()) {
      existing = std::move(a);
      return;
    }
  }
  attributes_.push_back(std::move(a));
}

bool Node::RemoveAttr(const std::string& name) {
  for (auto it = attributes_.begin(); it != attributes_.end(); ++it) {
    if (it->name() == name) {
      attributes_.erase(it);
      return true;
    }
  }
  return false;
}

std::vector<Graph*> Node::subgraphs() const {
  std::vector<Graph*> out;
  for (const auto& a : attributes_)
    for (const auto& g : a.graphs()) out.push_back(g.get());
  return out;
}

}  // namespace onnxc
