#include "kernels/executor.h"

#include <algorithm>
#include <map>
#include <new>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/ktensor.h"
#include "kernels/registry.h"

namespace onnxc {
namespace kernels {

struct Step {
  const Node* node;
  const KernelDef* kernel;
  std::vector<int> in_slots;  // -1: omitted, -2: outer scope (looked up by value)
  std::vector<const Value*> in_values;
  std::vector<int> out_slots;  // -1: omitted output
  std::vector<int> frees;      // slots released after this step
};

struct GraphPlan {
  const Graph* graph = nullptr;
  int opset = 0;
  absl::flat_hash_map<const Value*, int> slot_of;
  std::vector<const Value*> values;
  std::vector<Step> steps;
  std::vector<int> input_slots;
  std::vector<std::pair<int, KTensor>> consts;
  std::vector<char> is_const;
  std::vector<const Value*> outputs;
  absl::flat_hash_map<const Graph*, std::unique_ptr<GraphPlan>> subplans;
};

namespace {

int SlotFor(GraphPlan& p, const Value* v) {
  auto it = p.slot_of.find(v);
  if (it != p.slot_of.end()) return it->second;
  int s = static_cast<int>(p.values.size());
  p.values.push_back(v);
  p.slot_of[v] = s;
  return s;
}

// The node of graph `g` that contains `n` (n itself or an ancestor If/Loop).
const Node* AncestorIn(const Node* n, const Graph* g) {
  while (n != nullptr && n->graph() != g) {
    Node* parent = n->graph()->parent_node();
    n = parent;
  }
  return n;
}

absl::StatusOr<std::unique_ptr<GraphPlan>> BuildPlan(const Graph& g, int opset) {
  auto p = std::make_unique<GraphPlan>();
  p->graph = &g;
  p->opset = opset;
  for (const Value* v : g.inputs()) p->input_slots.push_back(SlotFor(*p, v));
  for (const Value* v : g.initializers()) {
    int s = SlotFor(*p, v);
    auto t = KTensor::FromTensor(*v->initializer());
    if (!t.ok()) {
      return absl::Status(t.status().code(),
                          absl::StrCat("initializer '", v->name(), "': ", t.status().message()));
    }
    p->consts.emplace_back(s, *std::move(t));
  }
  absl::flat_hash_map<const Node*, int> step_of;
  for (const auto& np : g.nodes()) {
    const Node* n = np.get();
    Step st;
    st.node = n;
    st.kernel = FindKernel(n->domain(), n->op_type(), opset);
    for (const Value* v : n->inputs()) {
      st.in_values.push_back(v);
      if (v == nullptr) {
        st.in_slots.push_back(-1);
      } else if (v->graph() != &g) {
        st.in_slots.push_back(-2);
      } else {
        st.in_slots.push_back(SlotFor(*p, v));
      }
    }
    for (const Value* v : n->outputs()) st.out_slots.push_back(v ? SlotFor(*p, v) : -1);
    step_of[n] = static_cast<int>(p->steps.size());
    p->steps.push_back(std::move(st));
    for (const Graph* sg : n->subgraphs()) {
      auto sp = BuildPlan(*sg, opset);
      if (!sp.ok()) return sp.status();
      p->subplans[sg] = *std::move(sp);
    }
  }
  for (const Value* v : g.outputs()) p->outputs.push_back(v);
  p->is_const.assign(p->values.size(), 0);
  for (auto& [s, t] : p->consts) p->is_const[s] = 1;
  // Last use of every local value; graph outputs and constants are kept.
  for (size_t s = 0; s < p->values.size(); ++s) {
    const Value* v = p->values[s];
    if (p->is_const[s]) continue;
    bool keep = false;
    int last = -1;
    for (const Graph* og : v->output_of()) {
      if (og == &g) {
        keep = true;
      } else {
        const Node* a = AncestorIn(og->parent_node(), &g);
        if (a == nullptr) keep = true; else last = std::max(last, step_of[a]);
      }
    }
    for (const Use& u : v->uses()) {
      const Node* a = AncestorIn(u.node, &g);
      if (a == nullptr) { keep = true; continue; }
      auto it = step_of.find(a);
      if (it == step_of.end()) { keep = true; continue; }
      last = std::max(last, it->second);
    }
    if (keep) continue;
    if (last < 0) {
      // Unused: freed right after its producer (graph inputs: after step 0).
      if (v->producer() != nullptr && v->producer()->graph() == &g) {
        last = step_of[v->producer()];
      } else {
        last = 0;
      }
    }
    if (!p->steps.empty()) p->steps[last].frees.push_back(static_cast<int>(s));
  }
  return p;
}

void CollectUnsupported(const Graph& g, int opset,
                        std::map<std::string, std::vector<std::string>>* out) {
  for (const auto& n : g.nodes()) {
    if (!IsSupported(*n, opset)) {
      std::string key = absl::StrCat(n->op_type(), " (domain '",
                                     n->domain().empty() ? "ai.onnx" : n->domain(), "', opset ",
                                     opset, ")");
      (*out)[key].push_back(n->name().empty() ? n->Describe() : n->name());
    }
    for (const Graph* sg : n->subgraphs()) CollectUnsupported(*sg, opset, out);
  }
}

}  // namespace

class Frame : public SubgraphRunner {
 public:
  Frame(const GraphPlan& plan, const Frame* parent, int threads, const Observer* observer)
      : plan_(plan), parent_(parent), threads_(threads), observer_(observer) {
    slots_.resize(plan.values.size());
    for (const auto& [s, t] : plan.consts) slots_[s] = t;
  }

  const KTensor* Lookup(const Value* v) const {
    auto it = plan_.slot_of.find(v);
    if (it != plan_.slot_of.end() && slots_[it->second].valid()) return &slots_[it->second];
    if (parent_ != nullptr) return parent_->Lookup(v);
    return nullptr;
  }

  void Bind(int slot, KTensor t) {
    live_ += static_cast<int64_t>(t.nbytes());
    peak_ = std::max(peak_, live_);
    slots_[slot] = std::move(t);
  }

  void Observe(const Value* v, const KTensor& t) {
    if (observer_ == nullptr || v == nullptr) return;
    TensorView view{t.type, absl::MakeConstSpan(t.dims), t.data};
    (*observer_)(*v, view);
  }

  absl::Status Execute() {
    for (const Step& st : plan_.steps) {
      OpContext ctx{*st.node, plan_.opset, {}, {}, threads_, this};
      ctx.in.reserve(st.in_slots.size());
      for (size_t i = 0; i < st.in_slots.size(); ++i) {
        int s = st.in_slots[i];
        const KTensor* t = nullptr;
        if (s == -1) {
          t = nullptr;
        } else {
          t = s == -2 ? Lookup(st.in_values[i]) : (slots_[s].valid() ? &slots_[s] : nullptr);
          if (t == nullptr) {
            return absl::InternalError(absl::StrCat("node ", st.node->Describe(), ": input '",
                                                    st.in_values[i]->name(),
                                                    "' has no value (not provided?)"));
          }
        }
        ctx.in.push_back(t);
      }
      ctx.out.resize(st.out_slots.size());
      absl::Status status;
      if (st.kernel == nullptr) {
        status = absl::UnimplementedError("no kernel");
      } else {
        status = st.kernel->fn(ctx);
      }
      if (!status.ok()) {
        std::string shapes;
        for (const KTensor* t : ctx.in) {
          absl::StrAppend(&shapes, shapes.empty() ? "" : ", ",
                          t ? absl::StrCat(DataTypeName(t->type), ShapeString(t->dims)) : "none");
        }
        return absl::Status(status.code(),
                            absl::StrCat("node ", st.node->Describe(), " (inputs ", shapes,
                                         "): ", status.message()));
      }
      for (size_t i = 0; i < st.out_slots.size(); ++i) {
        int s = st.out_slots[i];
        if (s < 0) continue;
        if (!ctx.out[i].valid()) {
          return absl::InternalError(absl::StrCat("node ", st.node->Describe(), ": output ", i,
                                                  " was not produced"));
        }
        Bind(s, std::move(ctx.out[i]));
        Observe(plan_.values[s], slots_[s]);
      }
      ctx.in.clear();
      for (int s : st.frees) {
        if (!slots_[s].valid()) continue;
        live_ -= static_cast<int64_t>(slots_[s].nbytes());
        slots_[s] = KTensor();
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<KTensor>> CollectOutputs() const {
    std::vector<KTensor> outs;
    for (const Value* v : plan_.outputs) {
      const KTensor* t = Lookup(v);
      if (t == nullptr) {
        return absl::InternalError(absl::StrCat("graph output '", v->name(), "' has no value"));
      }
      outs.push_back(*t);
    }
    return outs;
  }

  absl::StatusOr<std::vector<KTensor>> RunSubgraph(const Graph& g,
                                                   std::vector<KTensor> inputs) override {
    auto it = plan_.subplans.find(&g);
    if (it == plan_.subplans.end()) return absl::InternalError("subgraph was not planned");
    const GraphPlan& sp = *it->second;
    Frame child(sp, this, threads_, nullptr);
    if (inputs.size() > sp.input_slots.size()) {
      return absl::InvalidArgumentError(absl::StrCat("subgraph '", g.name(), "' takes ",
                                                     sp.input_slots.size(), " inputs, got ",
                                                     inputs.size()));
    }
    for (size_t i = 0; i < inputs.size(); ++i) child.Bind(sp.input_slots[i], std::move(inputs[i]));
    absl::Status st = child.Execute();
    if (!st.ok()) return st;
    return child.CollectOutputs();
  }

  int64_t peak() const { return peak_; }

 private:
  const GraphPlan& plan_;
  const Frame* parent_;
  int threads_;
  const Observer* observer_;
  std::vector<KTensor> slots_;
  int64_t live_ = 0, peak_ = 0;
};

}  // namespace kernels

using kernels::KTensor;

bool IsSupported(const Node& node, int opset) {
  const kernels::KernelDef* k = kernels::FindKernel(node.domain(), node.op_type(), opset);
  if (k == nullptr) return false;
  return k->supports == nullptr || k->supports(node, opset);
}

std::vector<std::string> UnsupportedOps(const Graph& g, int opset) {
  std::map<std::string, std::vector<std::string>> by_op;
  kernels::CollectUnsupported(g, opset, &by_op);
  std::vector<std::string> out;
  for (auto& [op, names] : by_op) {
    std::vector<std::string> shown(names.begin(), names.begin() + std::min<size_t>(names.size(), 10));
    out.push_back(absl::StrCat(op, ": ", names.size(), " node(s): ", absl::StrJoin(shown, ", "),
                               names.size() > shown.size() ? ", ..." : ""));
  }
  return out;
}

Executor::~Executor() = default;

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(const Model& m,
                                                           const ExecutorOptions& o) {
  ExecutorOptions opts = o;
  if (opts.opset < 0) opts.opset = static_cast<int>(m.OpsetVersion(""));
  if (opts.opset < 0) opts.opset = 1;
  return Create(m.graph(), opts);
}

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(const Graph& g,
                                                           const ExecutorOptions& o) {
  if (o.opset < 1) {
    return absl::InvalidArgumentError(
        "ExecutorOptions.opset must be set to the model's default-domain opset");
  }
  std::vector<std::string> bad = UnsupportedOps(g, o.opset);
  if (!bad.empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "the executor does not support ", bad.size(), " op type(s) used by this graph:\n  ",
        absl::StrJoin(bad, "\n  ")));
  }
  std::unique_ptr<Executor> ex(new Executor(g, o));
  if (ex->options_.threads < 1) ex->options_.threads = 1;
  auto plan = kernels::BuildPlan(g, o.opset);
  if (!plan.ok()) return plan.status();
  ex->plan_ = *std::move(plan);
  return ex;
}

absl::StatusOr<std::vector<Tensor>> Executor::Run(
    const std::vector<std::pair<std::string, Tensor>>& inputs, const Observer* observer) {
  kernels::SetBlasThreads(options_.threads);
  const kernels::GraphPlan& plan = *plan_;
  kernels::Frame frame(plan, nullptr, options_.threads, observer);
  std::vector<char> given(plan.input_slots.size(), 0);
  for (const auto& [name, tensor] : inputs) {
    size_t idx = 0;
    while (idx < plan.input_slots.size() && graph_.inputs()[idx]->name() != name) ++idx;
    if (idx == plan.input_slots.size()) {
      std::vector<std::string> names;
      for (const Value* v : graph_.inputs()) names.push_back(v->name());
      return absl::InvalidArgumentError(absl::StrCat("the graph has no input named '", name,
                                                     "' (inputs: ", absl::StrJoin(names, ", "),
                                                     ")"));
    }
    const Value* v = graph_.inputs()[idx];
    DataType want = v->elem_type();
    DataType got = tensor.type();
    if (want != onnx::TensorProto::UNDEFINED && want != got) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "' must be ",
                                                     DataTypeName(want), ", got ",
                                                     DataTypeName(got)));
    }
    if (auto shape = v->shape(); shape.has_value() && shape->size() != tensor.dims().size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "' must have rank ", shape->size(), ", got shape ",
          kernels::ShapeString(tensor.dims())));
    }
    auto kt = KTensor::FromTensor(tensor);
    if (!kt.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "': ", kt.status().message()));
    }
    frame.Bind(plan.input_slots[idx], *std::move(kt));
    given[idx] = 1;
  }
  for (size_t i = 0; i < given.size(); ++i) {
    if (given[i]) continue;
    const Value* v = graph_.inputs()[i];
    if (v->has_initializer()) continue;
    return absl::InvalidArgumentError(absl::StrCat("missing input '", v->name(), "'"));
  }
  for (size_t i = 0; i < given.size(); ++i) {
    if (given[i]) {
      const Value* v = graph_.inputs()[i];
      frame.Observe(v, *frame.Lookup(v));
    }
  }
  absl::Status st;
  absl::StatusOr<std::vector<KTensor>> outs;
  try {
    st = frame.Execute();
    if (st.ok()) outs = frame.CollectOutputs();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while running the graph");
  }
  peak_live_bytes_ = frame.peak();
  if (!st.ok()) return st;
  if (!outs.ok()) return outs.status();
  std::vector<Tensor> result;
  for (const KTensor& t : *outs) result.push_back(t.ToTensor());
  return result;
}

absl::StatusOr<std::vector<Tensor>> RunNode(const Node& node,
                                            const std::vector<const Tensor*>& inputs, int opset) {
  const kernels::KernelDef* k = kernels::FindKernel(node.domain(), node.op_type(), opset);
  if (k == nullptr || (k->supports && !k->supports(node, opset))) {
    return absl::UnimplementedError(absl::StrCat("no kernel for ", node.Describe(), " at opset ",
                                                 opset));
  }
  if (!node.subgraphs().empty()) {
    return absl::UnimplementedError(
        absl::StrCat("RunNode does not run control flow (", node.Describe(), ")"));
  }
  std::vector<KTensor> held;
  held.reserve(inputs.size());
  kernels::OpContext ctx{node, opset, {}, {}, 1, nullptr};
  for (const Tensor* t : inputs) {
    if (t == nullptr) {
      held.emplace_back();
      continue;
    }
    auto kt = KTensor::FromTensor(*t);
    if (!kt.ok()) return kt.status();
    held.push_back(*std::move(kt));
  }
  for (size_t i = 0; i < held.size(); ++i) ctx.in.push_back(held[i].valid() ? &held[i] : nullptr);
  ctx.out.resize(node.num_outputs());
  absl::Status st;
  try {
    st = k->fn(ctx);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  }
  if (!st.ok()) {
    return absl::Status(st.code(), absl::StrCat("node ", node.Describe(), ": ", st.message()));
  }
  std::vector<Tensor> out;
  for (const KTensor& t : ctx.out) out.push_back(t.valid() ? t.ToTensor() : Tensor());
  return out;
}

}  // namespace onnxc
