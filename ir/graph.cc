#include "ir/graph.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace onnxc {

Graph::Graph(Node* parent_node)
    : parent_node_(parent_node),
      names_(parent_node ? parent_node->graph()->names_ : std::make_shared<NameTable>()) {}

Graph::~Graph() {
  // Drop this graph's uses of values it captured from enclosing graphs, and
  // its references from their output_of lists, before anything is freed.
  for (auto& n : nodes_) {
    for (int i = 0; i < n->num_inputs(); ++i) RemoveUse(n.get(), i);
    n->attributes_.clear();  // nested subgraphs first
  }
  for (Value* v : outputs_) {
    auto& of = v->output_of_;
    of.erase(std::find(of.begin(), of.end(), this));
  }
}

Graph* Graph::parent() const { return parent_node_ ? parent_node_->graph() : nullptr; }

Graph* Graph::root() {
  Graph* g = this;
  while (g->parent() != nullptr) g = g->parent();
  return g;
}

int Graph::depth() const {
  int d = 0;
  for (const Graph* g = parent(); g != nullptr; g = g->parent()) ++d;
  return d;
}

std::vector<Node*> Graph::NodeSnapshot() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

// ---- Use lists. Each node input slot remembers its position in the value's
// use vector, so removal is a swap with the last use: O(1).

void Graph::AddUse(Value* v, Node* n, int index) {
  n->use_pos_[index] = v->uses_.size();
  v->uses_.push_back(Use{n, index});
}

void Graph::RemoveUse(Node* n, int index) {
  if (index >= n->num_inputs()) return;
  Value* v = n->inputs_[index];
  if (v == nullptr) return;
  size_t pos = n->use_pos_[index];
  Use last = v->uses_.back();
  v->uses_[pos] = last;
  last.node->use_pos_[last.index] = pos;
  v->uses_.pop_back();
  n->inputs_[index] = nullptr;
}

// ---- Values.

void Graph::RegisterName(Value* v) {
  scope_[v->name_] = v;
  names_->used.insert(v->name_);
}

Value* Graph::CreateValue(const std::string& name) {
  values_.push_back(std::unique_ptr<Value>(new Value(this, name)));
  Value* v = values_.back().get();
  v->self_ = std::prev(values_.end());
  if (!name.empty()) RegisterName(v);
  return v;
}

void Graph::EraseValue(Value* v) {
  auto it = scope_.find(v->name_);
  if (it != scope_.end() && it->second == v) scope_.erase(it);
  if (v->initializer_ || v->sparse_) initializer_order_.erase(v->initializer_pos_);
  if (v->in_value_info_) value_info_order_.erase(v->value_info_pos_);
  values_.erase(v->self_);
}

Value* Graph::FindLocalValue(const std::string& name) const {
  auto it = scope_.find(name);
  return it == scope_.end() ? nullptr : it->second;
}

Value* Graph::FindValue(const std::string& name) const {
  for (const Graph* g = this; g != nullptr; g = g->parent()) {
    if (Value* v = g->FindLocalValue(name)) return v;
  }
  return nullptr;
}

std::string Graph::FreshName(const std::string& base) {
  std::string b = base.empty() ? "v" : base;
  if (!names_->used.contains(b)) {
    names_->used.insert(b);
    return b;
  }
  std::string candidate;
  do {
    candidate = absl::StrCat(b, "__", ++names_->counter);
  } while (names_->used.contains(candidate));
  names_->used.insert(candidate);
  return candidate;
}

Value* Graph::AddInput(const std::string& name) {
  Value* v = FindLocalValue(name);
  if (v == nullptr) v = CreateValue(name);
  v->is_graph_input_ = true;
  inputs_.push_back(v);
  return v;
}

void Graph::RemoveInput(int i) {
  Value* v = inputs_[i];
  inputs_.erase(inputs_.begin() + i);
  v->is_graph_input_ = false;
  if (!v->initializer_ && !v->sparse_) EraseValue(v);
}

void Graph::AddOutput(Value* v) {
  outputs_.push_back(v);
  v->output_of_.push_back(this);
}

void Graph::SetOutput(int i, Value* v) {
  Value* old = outputs_[i];
  auto& of = old->output_of_;
  of.erase(std::find(of.begin(), of.end(), this));
  outputs_[i] = v;
  v->output_of_.push_back(this);
}

void Graph::RemoveOutput(int i) {
  Value* old = outputs_[i];
  auto& of = old->output_of_;
  of.erase(std::find(of.begin(), of.end(), this));
  outputs_.erase(outputs_.begin() + i);
}

Value* Graph::AddInitializer(const std::string& name, Tensor t) {
  Value* v = CreateValue(name);
  SetInitializer(v, std::move(t));
  return v;
}

void Graph::SetInitializer(Value* v, Tensor t) {
  if (!v->initializer_ && !v->sparse_) {
    initializer_order_.push_back(v);
    v->initializer_pos_ = std::prev(initializer_order_.end());
  }
  v->initializer_ = std::make_unique<Tensor>(std::move(t));
}

void Graph::RemoveInitializer(Value* v) {
  if (!v->initializer_ && !v->sparse_) return;
  if (!v->is_graph_input_ && v->producer_ == nullptr && !v->IsUsed()) {
    EraseValue(v);
    return;
  }
  initializer_order_.erase(v->initializer_pos_);
  v->initializer_.reset();
  v->sparse_.reset();
}

Value* Graph::AddSparseInitializer(const std::string& name, onnx::SparseTensorProto sparse) {
  Value* v = CreateValue(name);
  v->sparse_ = std::make_unique<onnx::SparseTensorProto>(std::move(sparse));
  initializer_order_.push_back(v);
  v->initializer_pos_ = std::prev(initializer_order_.end());
  return v;
}

void Graph::AddToValueInfo(Value* v) {
  if (v->in_value_info_) return;
  v->in_value_info_ = true;
  value_info_order_.push_back(v);
  v->value_info_pos_ = std::prev(value_info_order_.end());
}

void Graph::ReplaceAllUsesWith(Value* from, Value* to) {
  if (from == to) return;
  while (!from->uses_.empty()) {
    Use u = from->uses_.back();
    u.node->SetInput(u.index, to);
  }
  std::vector<Graph*> graphs = from->output_of_;
  for (Graph* g : graphs) {
    for (int i = 0; i < static_cast<int>(g->outputs_.size()); ++i)
      if (g->outputs_[i] == from) g->SetOutput(i, to);
  }
}

void Graph::RenameValue(Value* v, const std::string& new_name) {
  Graph* g = v->graph_;
  auto it = g->scope_.find(v->name_);
  if (it != g->scope_.end() && it->second == v) g->scope_.erase(it);
  v->name_ = new_name;
  g->RegisterName(v);
}

void Graph::SetProducer(Value* v, Node* n, int index) {
  v->producer_ = n;
  v->output_index_ = index;
}

// ---- Nodes.

Node* Graph::NewDetachedNode(const std::string& op_type, const std::string& domain) {
  nodes_.push_back(std::unique_ptr<Node>(new Node()));
  Node* n = nodes_.back().get();
  n->self_ = std::prev(nodes_.end());
  n->graph_ = this;
  n->op_type_ = op_type;
  n->domain_ = domain;
  return n;
}

Node* Graph::CreateNodeWithOutputs(const std::string& op_type, absl::Span<Value* const> inputs,
                                   absl::Span<const std::string> output_names, Node* before,
                                   const std::string& name, const std::string& domain) {
  Node* n = NewDetachedNode(op_type, domain);
  n->name_ = name;
  if (before != nullptr) nodes_.splice(before->self_, nodes_, n->self_);
  for (Value* in : inputs) n->AddInput(in);
  for (size_t i = 0; i < output_names.size(); ++i) {
    Value* out = nullptr;
    if (!output_names[i].empty()) {
      out = CreateValue(output_names[i]);
      SetProducer(out, n, static_cast<int>(i));
    }
    n->outputs_.push_back(out);
  }
  return n;
}

Node* Graph::CreateNode(const std::string& op_type, absl::Span<Value* const> inputs,
                        int num_outputs, Node* before, const std::string& name,
                        const std::string& domain) {
  std::string node_name = name.empty() ? FreshName(op_type) : name;
  std::vector<std::string> outs;
  for (int i = 0; i < num_outputs; ++i)
    outs.push_back(FreshName(num_outputs == 1 ? node_name : absl::StrCat(node_name, "_", i)));
  return CreateNodeWithOutputs(op_type, inputs, outs, before, node_name, domain);
}

void Graph::EraseNode(Node* node) {
  for (int i = 0; i < node->num_inputs(); ++i) RemoveUse(node, i);
  node->attributes_.clear();  // destroys subgraphs, dropping their captures
  for (Value* out : node->outputs_) {
    if (out == nullptr) continue;
    // Still-used outputs would dangle; the caller must have rewired them.
    if (out->IsUsed()) {
      std::fprintf(stderr, "internal error: erasing %s whose output '%s' is still used\n",
                   node->Describe().c_str(), out->name().c_str());
      std::abort();
    }
    EraseValue(out);
  }
  nodes_.erase(node->self_);
}

Node* Graph::NodeAfter(const Node* node) const {
  auto it = std::next(node->self_);
  return it == nodes_.end() ? nullptr : it->get();
}

void Graph::MoveNode(Node* node, Node* before) {
  nodes_.splice(before ? before->self_ : nodes_.end(), nodes_, node->self_);
}

absl::Status Graph::TopologicalSort() {
  // Iterative DFS in the current order: dependencies are emitted first, so an
  // already sorted graph keeps its order, and deep chains cannot overflow the
  // stack. A node's dependencies include producers of values its subgraphs
  // capture.
  absl::flat_hash_map<Node*, int> state;  // 1 = on stack, 2 = emitted
  state.reserve(nodes_.size());
  std::vector<Node*> order;
  order.reserve(nodes_.size());
  auto deps = [this](Node* n) {
    std::vector<Node*> out;
    std::vector<Node*> stack = {n};
    while (!stack.empty()) {
      Node* m = stack.back();
      stack.pop_back();
      for (Value* v : m->inputs_)
        if (v != nullptr && v->producer_ != nullptr && v->producer_->graph_ == this)
          out.push_back(v->producer_);
      for (Graph* g : m->subgraphs())
        for (auto& inner : g->nodes_) stack.push_back(inner.get());
    }
    return out;
  };
  struct Frame {
    Node* node;
    std::vector<Node*> deps;
    size_t next;
  };
  for (auto& start : nodes_) {
    if (state[start.get()] != 0) continue;
    std::vector<Frame> stack;
    stack.push_back({start.get(), deps(start.get()), 0});
    state[start.get()] = 1;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next < f.deps.size()) {
        Node* d = f.deps[f.next++];
        int& s = state[d];
        if (s == 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              "graph '", name(), "' has a cycle through node ", d->Describe()));
        }
        if (s == 0) {
          s = 1;
          stack.push_back({d, deps(d), 0});
        }
        continue;
      }
      state[f.node] = 2;
      order.push_back(f.node);
      stack.pop_back();
    }
  }
  for (Node* n : order) nodes_.splice(nodes_.end(), nodes_, n->self_);
  return absl::OkStatus();
}

// ---- Clone.

std::unique_ptr<Graph> Graph::Clone(Node* parent_node,
                                    absl::flat_hash_map<const Value*, Value*>* value_map) const {
  absl::flat_hash_map<const Value*, Value*> local_map;
  if (value_map == nullptr) value_map = &local_map;
  auto g = std::make_unique<Graph>(parent_node);
  if (parent_node == nullptr) *g->names_ = *names_;
  g->meta_ = meta_;
  auto copy_value = [&](const Value* v) {
    Value* c = g->CreateValue(v->name_);
    if (v->type_) c->type_ = std::make_unique<onnx::TypeProto>(*v->type_);
    c->doc_string_ = v->doc_string_;
    (*value_map)[v] = c;
    return c;
  };
  auto mapped = [&](Value* v) -> Value* {
    if (v == nullptr) return nullptr;
    auto it = value_map->find(v);
    return it == value_map->end() ? v : it->second;  // captured: keep
  };
  for (const Value* v : inputs_) {
    Value* c = copy_value(v);
    c->is_graph_input_ = true;
    g->inputs_.push_back(c);
  }
  for (const Value* v : initializer_order_) {
    Value* c = value_map->contains(v) ? (*value_map)[v] : copy_value(v);
    if (v->initializer_) g->SetInitializer(c, *v->initializer_);
    if (v->sparse_) {
      c->sparse_ = std::make_unique<onnx::SparseTensorProto>(*v->sparse_);
      if (!c->initializer_) {
        g->initializer_order_.push_back(c);
        c->initializer_pos_ = std::prev(g->initializer_order_.end());
      }
    }
  }
  for (const auto& n : nodes_) {
    Node* c = g->NewDetachedNode(n->op_type_, n->domain_);
    c->name_ = n->name_;
    c->doc_string_ = n->doc_string_;
    for (Value* in : n->inputs_) c->AddInput(mapped(in));
    for (size_t i = 0; i < n->outputs_.size(); ++i) {
      Value* out = nullptr;
      if (n->outputs_[i] != nullptr) {
        out = copy_value(n->outputs_[i]);
        g->SetProducer(out, c, static_cast<int>(i));
      }
      c->outputs_.push_back(out);
    }
    for (const Attribute& a : n->attributes_) {
      Attribute ca(a.proto());
      for (const auto& sub : a.graphs()) ca.add_graph(sub->Clone(c, value_map));
      c->attributes_.push_back(std::move(ca));
    }
  }
  for (Value* v : outputs_) g->AddOutput(mapped(v));
  for (const Value* v : value_info_order_) g->AddToValueInfo(mapped(const_cast<Value*>(v)));
  g->orphan_value_info_ = orphan_value_info_;
  return g;
}

}  // namespace onnxc
