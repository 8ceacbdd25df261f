#include "kernels/executor.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include <cmath>
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/ktensor.h"
#include "kernels/registry.h"

namespace onnxc {
namespace kernels {

// Conv (+ BatchNormalization folded into its weights) (+ Add of another
// tensor) (+ Relu/Clip applied in cache), used when no observer needs the
// intermediate tensors.
struct FusedConv {
  KTensor w, b;
  Epilogue epi;
  const Node* add = nullptr;  // the folded Add, if any
  int add_pos = 0;            // which input of `add` the conv result is
  std::shared_ptr<void> dnnl;  // oneDNN primitives per input shape (DnnlConv)
};

struct Step {
  std::shared_ptr<FusedConv> fused;
  const Node* node;
  const KernelDef* kernel;
  std::vector<int> in_slots;  // -1: omitted, -2: outer scope (looked up by value)
  std::vector<const Value*> in_values;  // fused conv: {x} or {x, residual}
  std::vector<int> out_slots;  // -1: omitted output
  std::vector<int> frees;      // slots released after this step
  std::string label;           // op type(s), for profiles
  // Fused conv: the residual's buffer may take the result if nothing else
  // holds it at run time (its last use, a buffer the executor allocated).
  bool residual_writable = false;
  // Output 0 may stay in a oneDNN layout (KTensor::layout): every reader is
  // a step that takes one (fused conv, oneDNN pooling).
  bool out_keeps_layout = false;
  // MaxPool/AveragePool run through oneDNN in the input's layout.
  bool dnnl_pool = false;
  mutable std::shared_ptr<void> dnnl;  // its primitives per input shape
};

struct GraphPlan {
  const Graph* graph = nullptr;
  int opset = 0;
  KernelOptions options;
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

const Node* SoleConsumer(const Value* v, const Graph& g) {
  if (v == nullptr || !v->output_of().empty() || v->uses().size() != 1) return nullptr;
  const Node* n = v->uses()[0].node;
  return n->graph() == &g ? n : nullptr;
}

bool OnlyFirstOutputUsed(const Node* n) {
  for (int i = 1; i < n->num_outputs(); ++i)
    if (n->output(i) != nullptr && n->output(i)->IsUsed()) return false;
  return true;
}

// The value of a float scalar given by an initializer or a Constant node.
std::optional<float> ConstantScalar(const Value* v) {
  if (const Tensor* t = v->constant()) {
    if (t->type() != TP::FLOAT || t->num_elements() != 1) return std::nullopt;
    return t->data<float>()[0];
  }
  const Node* p = v->producer();
  if (p == nullptr || !p->IsOp("Constant") || !p->subgraphs().empty()) return std::nullopt;
  if (const Attribute* a = p->attr("value_float")) return a->f();
  const Attribute* a = p->attr("value");
  if (a == nullptr) return std::nullopt;
  auto t = Tensor::FromProto(a->t());
  if (!t.ok() || t->type() != TP::FLOAT || t->num_elements() != 1 || !t->Load().ok()) {
    return std::nullopt;
  }
  return t->data<float>()[0];
}

// A short description of a Conv for profiles: "Conv(dw3x3/s2)", "Conv(1x1)".
std::string ConvLabel(const Node* conv) {
  const Tensor* w = conv->input(1) ? conv->input(1)->constant() : nullptr;
  std::string k = "?";
  bool dw = false;
  if (w != nullptr && w->dims().size() >= 3) {
    k.clear();
    for (size_t i = 2; i < w->dims().size(); ++i) absl::StrAppend(&k, i > 2 ? "x" : "", w->dims()[i]);
    dw = conv->GetInt("group", 1) == w->dims()[0] && w->dims()[1] == 1 && w->dims()[0] > 1;
  }
  std::vector<int64_t> s = conv->GetInts("strides");
  bool strided = false;
  for (int64_t v : s) strided |= v != 1;
  return absl::StrCat("Conv(", dw ? "dw" : "", k, strided ? absl::StrCat("/s", s[0]) : "", ")");
}

// Matches Conv [-> BatchNormalization] [-> Add] [-> Relu | Clip] with
// constant parameters and single consumers; returns the fused parameters and
// the nodes it absorbs (after the Conv). An Add is folded only if its other
// input is `available` at the Conv's position (computed by an earlier step).
std::shared_ptr<FusedConv> MatchConv(const Node* conv, const Graph& g, int opset,
                                     const std::function<bool(const Value*)>& available,
                                     const std::function<const Tensor*(const Value*)>& constant_of,
                                     std::vector<const Node*>* absorbed) {
  if (!conv->IsOp("Conv") || conv->num_inputs() < 2 || !OnlyFirstOutputUsed(conv)) return nullptr;
  const Tensor* w = constant_of(conv->input(1));
  const Tensor* b = constant_of(conv->input(2));
  if (w == nullptr || (conv->input(2) != nullptr && b == nullptr)) return nullptr;
  if (w->type() != TP::FLOAT || (b && b->type() != TP::FLOAT)) return nullptr;
  const int64_t M = w->dims().empty() ? 0 : w->dims()[0];
  if (M == 0) return nullptr;
  std::vector<double> wt(w->num_elements()), bt(M, 0.0);
  const float* wp = w->data<float>();
  for (int64_t i = 0, n = w->num_elements(); i < n; ++i) wt[i] = wp[i];
  if (b) {
    if (b->num_elements() != M) return nullptr;
    for (int64_t i = 0; i < M; ++i) bt[i] = b->data<float>()[i];
  }
  const Value* out = conv->output(0);
  const Node* next = SoleConsumer(out, g);
  if (next && next->IsOp("BatchNormalization") && next->input(0) == out &&
      next->GetInt("training_mode", 0) == 0 && OnlyFirstOutputUsed(next) && next->num_inputs() == 5) {
    const Tensor* p[4];
    bool ok = true;
    for (int i = 0; i < 4; ++i) {
      p[i] = constant_of(next->input(i + 1));
      ok &= p[i] != nullptr && p[i]->type() == TP::FLOAT && p[i]->num_elements() == M;
    }
    if (ok) {
      double eps = next->GetFloat("epsilon", 1e-5f);
      int64_t per = w->num_elements() / M;
      for (int64_t m = 0; m < M; ++m) {
        double a = p[0]->data<float>()[m] / std::sqrt(static_cast<double>(p[3]->data<float>()[m]) + eps);
        for (int64_t j = 0; j < per; ++j) wt[m * per + j] *= a;
        bt[m] = (bt[m] - p[2]->data<float>()[m]) * a + p[1]->data<float>()[m];
      }
      absorbed->push_back(next);
      out = next->output(0);
      next = SoleConsumer(out, g);
    }
  }
  const Node* add = nullptr;
  int add_pos = 0;
  if (next && next->IsOp("Add") && next->num_inputs() == 2 && next->input(0) != nullptr &&
      next->input(1) != nullptr && next->input(0) != next->input(1)) {
    add_pos = next->input(0) == out ? 0 : 1;
    const Value* other = next->input(1 - add_pos);
    if (available(other)) {
      add = next;
      absorbed->push_back(next);
      out = next->output(0);
      next = SoleConsumer(out, g);
    }
  }
  Epilogue epi;
  // SiLU: `out` read only by Sigmoid(out) and Mul(out, that Sigmoid).
  const Node* silu_mul = nullptr;
  const Node* silu_sigmoid = nullptr;
  if (out->uses().size() == 2 && out->output_of().empty()) {
    for (const Use& u : out->uses())
      if (u.node->IsOp("Sigmoid")) silu_sigmoid = u.node;
    const Node* mul = silu_sigmoid ? SoleConsumer(silu_sigmoid->output(0), g) : nullptr;
    const bool reads_both = mul && mul->IsOp("Mul") && mul->num_inputs() == 2 &&
                            ((mul->input(0) == out && mul->input(1) == silu_sigmoid->output(0)) ||
                             (mul->input(1) == out && mul->input(0) == silu_sigmoid->output(0)));
    bool uses_ok = reads_both;
    for (const Use& u : out->uses()) uses_ok = uses_ok && (u.node == silu_sigmoid || u.node == mul);
    if (uses_ok && silu_sigmoid->graph() == &g && mul->graph() == &g) silu_mul = mul;
  }
  if (silu_mul != nullptr) {
    epi.kind = Epilogue::kSwish;
    absorbed->push_back(silu_sigmoid);
    absorbed->push_back(silu_mul);
  } else if (next && next->IsOp("Relu") && next->input(0) == out) {
    epi.kind = Epilogue::kClamp;
    epi.lo = 0.f;
    absorbed->push_back(next);
  } else if (next && next->IsOp("Clip") && next->input(0) == out) {
    bool ok = true;
    float lo = -INFINITY, hi = INFINITY;
    if (opset < 11) {
      lo = next->GetFloat("min", -3.402823e+38f);
      hi = next->GetFloat("max", 3.402823e+38f);
    } else {
      for (int i = 1; i <= 2; ++i) {
        const Value* v = next->input(i);
        if (v == nullptr || v->name().empty()) continue;
        std::optional<float> f = ConstantScalar(v);
        if (!f.has_value()) {
          ok = false;
          break;
        }
        (i == 1 ? lo : hi) = *f;
      }
    }
    if (ok) {
      epi.kind = Epilogue::kClamp;
      epi.lo = lo;
      epi.hi = hi;
      absorbed->push_back(next);
    }
  }
  // A Conv with nothing after it to fuse still takes the fused path (so does
  // a weight folded from a QDQ model's DequantizeLinear): it is the one that
  // keeps oneDNN's blocked layout between convs. As a plain
  // Conv node it ran 1.6x slower and reordered its neighbours' tensors
  // (resnet18 after `optimize`: BN folded away, 34 -> 39 ms at 1 thread).
  auto f = std::make_shared<FusedConv>();
  f->w = KTensor::Alloc(TP::FLOAT, w->dims());
  float* fw = f->w.mut<float>();
  for (int64_t i = 0, n = w->num_elements(); i < n; ++i) fw[i] = static_cast<float>(wt[i]);
  f->b = KTensor::Alloc(TP::FLOAT, {M});
  for (int64_t i = 0; i < M; ++i) f->b.mut<float>()[i] = static_cast<float>(bt[i]);
  f->epi = epi;
  f->add = add;
  f->add_pos = add_pos;
  return f;
}

// Which fused steps may write over their residual and which outputs may
// stay in oneDNN's blocked layout (see Step).
void PlanLayouts(const Graph& g, const absl::flat_hash_map<const Node*, int>& step_of,
                 GraphPlan* p) {
  auto takes_blocked = [&](const Step& st, const Value* v) {
    if (st.fused) {
      return std::find(st.in_values.begin(), st.in_values.end(), v) != st.in_values.end();
    }
    return st.dnnl_pool && st.in_values.size() == 1 && st.in_values[0] == v;
  };
  for (Step& st : p->steps) {
    if (st.fused && st.fused->add != nullptr && st.in_slots[1] >= 0) {
      // Only buffers the executor allocated itself: a fused conv or an op
      // that always returns a new tensor (not a graph input, a constant or a
      // view such as Identity/Reshape of one).
      int rs = st.in_slots[1];
      const Value* r = st.in_values[1];
      const Node* prod = r->producer();
      auto it = prod ? step_of.find(prod) : step_of.end();
      bool fresh = it != step_of.end() &&
                   (p->steps[it->second].fused != nullptr || prod->IsOp("Conv") ||
                    prod->IsOp("Add") || prod->IsOp("Relu") || prod->IsOp("Clip") ||
                    prod->IsOp("MaxPool") || prod->IsOp("AveragePool"));
      st.residual_writable = fresh && r != st.in_values[0] && !p->is_const[rs] &&
                             std::find(st.frees.begin(), st.frees.end(), rs) != st.frees.end();
    }
    if (!DnnlConvAvailable(p->options) || !(st.fused || st.dnnl_pool) || st.out_slots.empty() ||
        st.out_slots[0] < 0) {
      continue;
    }
    const Value* v = p->values[st.out_slots[0]];
    bool ok = v->output_of().empty() && !v->uses().empty();
    for (const Use& u : v->uses()) {
      auto it = u.node->graph() == &g ? step_of.find(u.node) : step_of.end();
      ok &= it != step_of.end() && takes_blocked(p->steps[it->second], v);
    }
    st.out_keeps_layout = ok;
  }
}

absl::StatusOr<std::unique_ptr<GraphPlan>> BuildPlan(const Graph& g, int opset, bool fuse,
                                                     const KernelOptions& options) {
  auto p = std::make_unique<GraphPlan>();
  p->graph = &g;
  p->opset = opset;
  p->options = options;
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
  absl::flat_hash_set<const Node*> skip;
  // A QDQ model's weights and biases are DequantizeLinear of initializers:
  // constants, made once here (fused plan only: nothing observes them), so
  // the convs reading them fuse and take the prepacked path as a float
  // model's do, instead of dequantizing and running im2col on every run.
  absl::flat_hash_map<const Value*, Tensor> folded;
  auto constant_of = [&](const Value* v) -> const Tensor* {
    if (v == nullptr) return nullptr;
    if (const Tensor* t = v->constant()) return t;
    auto it = folded.find(v);
    return it == folded.end() ? nullptr : &it->second;
  };
  // Runs `n` once now and binds its one output as a constant of the plan;
  // false when it cannot. visible_to_convs: MatchConv may read it as a weight.
  auto fold = [&](const Node* n, const std::vector<const Tensor*>& ins, bool visible_to_convs) {
    auto t = RunNode(*n, ins, opset);
    if (!t.ok() || t->size() != 1) return false;
    auto kt = KTensor::FromTensor((*t)[0]);
    if (!kt.ok()) return false;
    p->consts.emplace_back(SlotFor(*p, n->output(0)), *std::move(kt));
    if (visible_to_convs) folded.emplace(n->output(0), std::move((*t)[0]));
    return true;
  };
  for (const auto& np : g.nodes()) {
    const Node* n = np.get();
    if (skip.contains(n)) continue;
    if (fuse && n->IsOp("DequantizeLinear") && n->num_outputs() == 1 && n->output(0) != nullptr &&
        !n->output(0)->IsGraphOutput()) {
      std::vector<const Tensor*> ins;
      bool constant = true;
      for (const Value* v : n->inputs()) {
        ins.push_back(constant_of(v));
        constant = constant && (v == nullptr || ins.back() != nullptr);
      }
      if (constant && fold(n, ins, /*visible_to_convs=*/true)) continue;
    }
    // Without an observer nothing needs to see a Constant being produced:
    // its value is made once here instead of on every run.
    if (fuse && n->IsOp("Constant") && n->subgraphs().empty() && n->num_outputs() == 1 &&
        n->output(0) != nullptr && fold(n, {}, /*visible_to_convs=*/false))
      continue;
    Step st;
    st.node = n;
    st.kernel = FindKernel(n->domain(), n->op_type(), opset);
    std::vector<const Node*> absorbed;
    auto available = [&](const Value* v) {
      const Node* prod = v->producer();
      return v->graph() != &g || prod == nullptr || step_of.contains(prod);
    };
    if (fuse) st.fused = MatchConv(n, g, opset, available, constant_of, &absorbed);
    if (st.fused) {
      st.in_values.push_back(n->input(0));
      if (st.fused->add != nullptr) {
        st.in_values.push_back(st.fused->add->input(1 - st.fused->add_pos));
      }
      for (const Value* v : st.in_values) {
        st.in_slots.push_back(v->graph() != &g ? -2 : SlotFor(*p, v));
      }
      st.label = ConvLabel(n);
      for (const Node* a : absorbed) absl::StrAppend(&st.label, "+", a->op_type());
      const Node* last = absorbed.empty() ? n : absorbed.back();
      st.out_slots.push_back(SlotFor(*p, last->output(0)));
      int idx = static_cast<int>(p->steps.size());
      step_of[n] = idx;
      for (const Node* a : absorbed) {
        skip.insert(a);
        step_of[a] = idx;
      }
      p->steps.push_back(std::move(st));
      continue;
    }
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
    st.label = n->IsOp("Conv") ? ConvLabel(n) : n->op_type();
    st.dnnl_pool = fuse && DnnlConvAvailable(p->options) &&
                   (n->IsOp("MaxPool") || n->IsOp("AveragePool")) && OnlyFirstOutputUsed(n);
    step_of[n] = static_cast<int>(p->steps.size());
    p->steps.push_back(std::move(st));
    for (const Graph* sg : n->subgraphs()) {
      auto sp = BuildPlan(*sg, opset, fuse, options);
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
  if (fuse) PlanLayouts(g, step_of, p.get());
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
  Frame(const GraphPlan& plan, const Frame* parent, int threads, const Observer* observer,
        std::map<std::string, double>* profile = nullptr)
      : plan_(plan), parent_(parent), threads_(threads), observer_(observer), profile_(profile) {
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
    if (t.layout != 0) return Observe(v, ToPlainLayout(t));
    TensorView view{t.type, absl::MakeConstSpan(t.dims), t.data};
    (*observer_)(*v, view);
  }

  // Reorders blocked inputs of a step to plain, in their slots (so later
  // readers do not reorder again) or, from an outer scope, into `temps`.
  void MakePlain(const Step& st, OpContext& ctx, std::vector<KTensor>* temps) {
    for (size_t i = 0; i < ctx.in.size(); ++i) {
      if (ctx.in[i] == nullptr || ctx.in[i]->layout == 0) continue;
      int s = st.in_slots[i];
      if (s >= 0) {
        live_ -= static_cast<int64_t>(slots_[s].nbytes());
        slots_[s] = ToPlainLayout(slots_[s]);
        live_ += static_cast<int64_t>(slots_[s].nbytes());
        peak_ = std::max(peak_, live_);
      } else {
        temps->push_back(ToPlainLayout(*ctx.in[i]));
        ctx.in[i] = &temps->back();
      }
    }
  }

  absl::Status RunFused(const Step& st, OpContext& ctx) {
    FusedConv& f = *st.fused;
    std::vector<KTensor> temps;
    temps.reserve(ctx.in.size());
    ConvResidual res;
    if (f.add != nullptr) {
      res.t = ctx.in[1];
      int rs = st.in_slots[1];
      res.writable = st.residual_writable && slots_[rs].holder.use_count() == 1;
      auto od = ConvOutputDims(ctx, *ctx.in[0], f.w);
      if (!od.ok()) return od.status();
      if (res.t->type != TP::FLOAT || res.t->dims != *od) return RunFusedBroadcast(st, ctx);
    }
    if (DnnlConvAvailable(plan_.options)) {
      bool done = false;
      absl::Status status =
          DnnlConv(ctx, f.w, &f.b, f.epi, res, st.out_keeps_layout, &f.dnnl, &done);
      if (!status.ok() || done) return status;
    }
    MakePlain(st, ctx, &temps);
    if (f.add != nullptr) {
      res.t = ctx.in[1];
      res.writable = res.writable && slots_[st.in_slots[1]].holder.use_count() == 1;
    }
    return ConvWithEpilogue(ctx, f.w, &f.b, f.epi, res);
  }

  // A folded Add whose other input broadcasts (or is not FLOAT): the conv,
  // then the Add kernel, then the clamp.
  absl::Status RunFusedBroadcast(const Step& st, OpContext& ctx) {
    FusedConv& f = *st.fused;
    std::vector<KTensor> temps;
    temps.reserve(ctx.in.size());
    MakePlain(st, ctx, &temps);
    absl::Status status = ConvWithEpilogue(ctx, f.w, &f.b, Epilogue());
    if (!status.ok()) return status;
    KTensor conv = std::move(ctx.out[0]);
    const KernelDef* add = FindKernel("", "Add", plan_.opset);
    if (add == nullptr) return absl::InternalError("no Add kernel");
    OpContext actx{*f.add, plan_.opset, {}, {}, threads_, this, &plan_.options};
    actx.in = f.add_pos == 0 ? std::vector<const KTensor*>{&conv, ctx.in[1]}
                             : std::vector<const KTensor*>{ctx.in[1], &conv};
    actx.out.resize(1);
    status = add->fn(actx);
    if (!status.ok()) return status;
    KTensor y = std::move(actx.out[0]);
    if (f.epi.kind == Epilogue::kClamp && y.type == TP::FLOAT) {
      float* p = y.mut<float>();
      for (int64_t i = 0, n = y.numel(); i < n; ++i) {
        p[i] = std::min(f.epi.hi, std::max(f.epi.lo, p[i]));
      }
    } else if (f.epi.kind == Epilogue::kSwish && y.type == TP::FLOAT) {
      float* p = y.mut<float>();
      for (int64_t i = 0, n = y.numel(); i < n; ++i) p[i] = p[i] / (1.f + std::exp(-p[i]));
    }
    ctx.out[0] = std::move(y);
    return absl::OkStatus();
  }

  absl::Status Execute() {
    for (const Step& st : plan_.steps) {
      std::chrono::steady_clock::time_point t0;
      if (profile_ != nullptr) t0 = std::chrono::steady_clock::now();
      OpContext ctx{*st.node, plan_.opset, {}, {}, threads_, this, &plan_.options};
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
      std::vector<KTensor> temps;  // plain copies of blocked outer-scope inputs
      temps.reserve(ctx.in.size());
      bool done = false;
      if (st.fused) {
        status = RunFused(st, ctx);
        done = true;
      } else if (st.dnnl_pool) {
        status = DnnlPool(ctx, &st.dnnl, &done);
      }
      if (!status.ok() || done) {
        // handled (or failed) above
      } else if (st.kernel == nullptr) {
        status = absl::UnimplementedError("no kernel");
      } else {
        MakePlain(st, ctx, &temps);
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
      if (profile_ != nullptr) {
        (*profile_)[st.label] +=
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
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
      outs.push_back(ToPlainLayout(*t));
    }
    return outs;
  }

  absl::StatusOr<std::vector<KTensor>> RunSubgraph(const Graph& g,
                                                   std::vector<KTensor> inputs) override {
    auto it = plan_.subplans.find(&g);
    if (it == plan_.subplans.end()) return absl::InternalError("subgraph was not planned");
    const GraphPlan& sp = *it->second;
    Frame child(sp, this, threads_, observer_);  // observers see subgraph tensors too (calibration inside If/Loop)
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
  std::map<std::string, double>* profile_;
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

Executor::Executor(const Graph& g, const ExecutorOptions& o)
    : graph_(g), options_(o), pool_(std::make_shared<kernels::BufferPool>()) {}
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
  auto plan = kernels::BuildPlan(g, o.opset, /*fuse=*/false, o.kernels);
  if (!plan.ok()) return plan.status();
  ex->plan_ = *std::move(plan);
  auto fused = kernels::BuildPlan(g, o.opset, /*fuse=*/true, o.kernels);
  if (!fused.ok()) return fused.status();
  ex->fused_plan_ = *std::move(fused);
  return ex;
}

absl::StatusOr<std::vector<Tensor>> Executor::Run(
    const std::vector<std::pair<std::string, Tensor>>& inputs, const Observer* observer) {
  absl::StatusOr<std::vector<Tensor>> result;
  {
    kernels::ScopedBufferPool scope(pool_);
    result = RunImpl(inputs, observer);
  }
  // Every intermediate is back in the pool; drop buffers this run did not use.
  pool_->Trim();
  return result;
}

absl::StatusOr<std::vector<Tensor>> Executor::RunImpl(
    const std::vector<std::pair<std::string, Tensor>>& inputs, const Observer* observer) {
  kernels::SetBlasThreads(options_.threads);
  // Without an observer, Conv+BatchNormalization+Relu/Clip run fused.
  const kernels::GraphPlan& plan = observer == nullptr ? *fused_plan_ : *plan_;
  kernels::Frame frame(plan, nullptr, options_.threads, observer,
                       options_.profile ? &op_profile_ : nullptr);
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
