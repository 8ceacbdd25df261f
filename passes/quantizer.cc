#include "passes/quantizer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "analysis/range_methods.h"
#include "passes/pass_utils.h"
#include "passes/quant_params.h"

namespace onnxc {
namespace {

const std::set<std::string>& WeightedOps() {
  static const auto* s = new std::set<std::string>{"Conv", "ConvTranspose", "Gemm", "MatMul"};
  return *s;
}
// Ops with an integer kernel in common runtimes, on activations only.
const std::set<std::string>& ComputeOps() {
  static const auto* s = new std::set<std::string>{"Add", "Mul", "AveragePool", "GlobalAveragePool",
                                                   "Sigmoid", "LeakyRelu", "Relu", "Clip"};
  return *s;
}
// Ops that move data without arithmetic: one scale for inputs and outputs.
const std::set<std::string>& DataMovementOps() {
  static const auto* s = new std::set<std::string>{
      "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "MaxPool", "GlobalMaxPool", "Slice",
      "Split", "Concat", "Resize", "Gather", "DepthToSpace", "SpaceToDepth"};
  return *s;
}

bool IsFloat(DataType t) {
  return t == onnx::TensorProto::FLOAT || t == onnx::TensorProto::FLOAT16 || t == onnx::TensorProto::UNDEFINED;
}

RangeMethod ToRangeMethod(CalibrationMethod m) {
  switch (m) {
    case MOVING_AVERAGE: return RangeMethod::kMovingAverage;
    case PERCENTILE: return RangeMethod::kPercentile;
    case ENTROPY: return RangeMethod::kEntropy;
    case MSE: return RangeMethod::kMse;
    case IFMR: return RangeMethod::kIfmr;
    default: return RangeMethod::kMinMax;
  }
}

// Activation inputs of a node: the inputs that carry data to quantize.
std::vector<int> ActivationInputs(const Model& model, const Node& n) {
  std::vector<int> idx;
  const std::string& op = n.op_type();
  if (op == "Concat") {
    for (int i = 0; i < n.num_inputs(); ++i) idx.push_back(i);
  } else if (op == "Add" || op == "Mul" || op == "MatMul") {
    for (int i = 0; i < std::min(2, n.num_inputs()); ++i)
      if (!GetConstant(model, n.input(i))) idx.push_back(i);
  } else if (n.num_inputs() > 0) {
    idx.push_back(0);
  }
  std::vector<int> out;
  for (int i : idx)
    if (n.input(i) != nullptr && IsFloat(n.input(i)->elem_type())) out.push_back(i);
  return out;
}

// Index of the weight input of a weighted op, or -1.
int WeightInput(const Model& model, const Node& n) {
  if (!WeightedOps().count(n.op_type())) return -1;
  std::optional<Tensor> w = GetConstant(model, n.input(1));
  if (!w || (w->type() != onnx::TensorProto::FLOAT && w->type() != onnx::TensorProto::FLOAT16)) return -1;
  return 1;
}

int WeightAxis(const Node& n, const Tensor& w) {
  if (n.op_type() == "Conv") return 0;
  if (n.op_type() == "ConvTranspose") return 1;
  if (n.op_type() == "Gemm") return n.GetInt("transB", 0) ? 0 : 1;
  return static_cast<int>(w.rank()) - 1;  // MatMul: output features are the last axis
}

// Union-find over values that must share quantization parameters.
class Groups {
 public:
  const Value* Find(const Value* v) {
    auto it = parent_.find(v);
    if (it == parent_.end() || it->second == v) return v;
    const Value* root = Find(it->second);
    parent_[v] = root;
    return root;
  }
  void Join(const Value* a, const Value* b) {
    const Value* ra = Find(a);
    const Value* rb = Find(b);
    if (ra != rb) parent_[ra] = rb;
    parent_.emplace(rb, rb);
  }

 private:
  absl::flat_hash_map<const Value*, const Value*> parent_;
};

struct ActParams {
  QParams q;
  QuantType type = UINT8;
  float lo = 0, hi = 0;
};

QuantizationRecord::Tensor RecordTensor(const std::string& name, const std::vector<float>& scales,
                                        const std::vector<int32_t>& zps, QuantType type, int axis) {
  QuantizationRecord::Tensor t;
  t.set_name(name);
  for (float s : scales) t.add_scale(s);
  for (int32_t z : zps) t.add_zero_point(z);
  t.set_type(type);
  if (axis >= 0) t.set_axis(axis);
  return t;
}

}  // namespace

std::vector<std::pair<const Node*, std::string>> StableNodeIds(const Graph& graph) {
  std::vector<std::pair<const Node*, std::string>> out;
  std::map<std::string, int> unnamed;
  for (const auto& n : graph.nodes()) {
    std::string id = n->name().empty() ? absl::StrCat(n->op_type(), "#", unnamed[n->op_type()]++) : n->name();
    out.emplace_back(n.get(), id);
  }
  return out;
}

std::vector<std::string> QuantizableLayers(const Model& model, const QuantizationSettings& settings) {
  std::vector<std::string> layers;
  for (const auto& [n, id] : StableNodeIds(model.graph())) {
    if (settings.For(*n).skip) continue;
    if (WeightInput(model, *n) >= 0 || (ComputeOps().count(n->op_type()) && !ActivationInputs(model, *n).empty()))
      layers.push_back(id);
  }
  return layers;
}

absl::StatusOr<QuantizeReport> QuantizeModel(Model& model, const QuantizationSettings& settings,
                                             const QuantizeOptions& options) {
  QuantizeReport report;
  Graph& g = model.graph();
  const QuantizationConfig& config = settings.config();
  const int64_t opset = model.OpsetVersion("");
  if (opset < 10)
    return absl::FailedPreconditionError(absl::StrCat(
        "opset ", opset, " has no QuantizeLinear/DequantizeLinear (opset 10+); convert the model first"));
  const bool per_axis_ok = opset >= 13;
  if (options.stats == nullptr) return absl::FailedPreconditionError("static quantization needs calibration statistics");
  const CalibrationStats& stats = *options.stats;

  auto ids = StableNodeIds(g);
  absl::flat_hash_map<const Node*, std::string> id_of(ids.begin(), ids.end());
  absl::flat_hash_map<std::string, std::string> keep_float(options.keep_float.begin(), options.keep_float.end());

  // 1. Which nodes to quantize.
  absl::flat_hash_map<const Node*, NodeSettings> node_settings;
  std::vector<Node*> compute;  // weighted + compute ops
  for (Node* n : g.NodeSnapshot()) {
    bool weighted = WeightedOps().count(n->op_type()) > 0, comp = ComputeOps().count(n->op_type()) > 0;
    if ((!weighted && !comp) || (!n->domain().empty() && n->domain() != "ai.onnx")) continue;
    NodeSettings s = settings.For(*n);
    const std::string& id = id_of[n];
    std::string why;
    if (options.only && !options.only->contains(id)) continue;
    if (s.skip) why = s.skip_reason;
    else if (keep_float.contains(id)) why = keep_float[id];
    else if (weighted && n->op_type() != "MatMul" && WeightInput(model, *n) < 0) why = "weights are not constant float";
    else if (comp && ActivationInputs(model, *n).empty()) why = "no float activation input";
    if (!why.empty()) {
      report.record.add_skipped(absl::StrCat(id, " (", why, ")"));
      continue;
    }
    bool has_stats = true;
    for (int i : ActivationInputs(model, *n)) has_stats &= stats.tensors.count(n->input(i)->name()) > 0;
    for (Value* out : n->outputs()) has_stats &= out == nullptr || stats.tensors.count(out->name()) > 0;
    if (!has_stats) {
      report.record.add_skipped(absl::StrCat(id, " (no calibration statistics for its tensors)"));
      continue;
    }
    node_settings[n] = s;
    compute.push_back(n);
  }
  absl::flat_hash_set<const Node*> quantized(compute.begin(), compute.end());

  // Nodes kept float on purpose (skip lists, fallback) and the data-movement
  // ops that lead into them. ONNX Runtime quantizes a float Conv/Gemm whose
  // input comes from a DequantizeLinear by itself (WeightBiasQuantization),
  // also when the DequantizeLinear sits before a MaxPool/Reshape it
  // propagates through; so a kept-float node must read float tensors all
  // the way back, and its outputs get no Q/DQ pair either.
  absl::flat_hash_set<const Node*> kept_float;
  for (Node* n : g.NodeSnapshot()) {
    const std::string& id = id_of[n];
    const std::string& op = n->op_type();
    if (!WeightedOps().count(op) && !ComputeOps().count(op) && !DataMovementOps().count(op)) continue;
    if (settings.For(*n).skip || keep_float.contains(id)) kept_float.insert(n);
  }
  absl::flat_hash_set<const Node*> float_feeders;  // data-movement ops read (transitively) by kept-float nodes
  {
    std::vector<Node*> order = g.NodeSnapshot();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node* n = *it;
      if (!DataMovementOps().count(n->op_type())) continue;
      bool feeds = false;
      for (Value* out : n->outputs())
        if (out)
          for (const Use& u : out->uses()) feeds |= kept_float.contains(u.node) || float_feeders.contains(u.node);
      if (feeds) float_feeders.insert(n);
    }
  }

  // Whether a data-movement node will be quantized in step 3 (it then reads
  // the DequantizeLinear of a quantized neighbour's output).
  auto movement_quantized = [&](const Node* n) {
    if (!DataMovementOps().count(n->op_type()) || (!n->domain().empty() && n->domain() != "ai.onnx")) return false;
    const std::string& id = id_of[n];
    if (kept_float.contains(n) || float_feeders.contains(n) || (options.only && !options.only->contains(id)))
      return false;
    std::vector<int> ins = ActivationInputs(model, *n);
    bool has_stats = !ins.empty();
    for (int i : ins) has_stats &= stats.tensors.count(n->input(i)->name()) > 0;
    for (Value* out : n->outputs()) has_stats &= out == nullptr || stats.tensors.count(out->name()) > 0;
    return has_stats;
  };

  // 2. Fold Relu/Clip into the range of the quantized op before them.
  absl::flat_hash_map<const Value*, std::pair<float, float>> range_override;
  if (config.fold_relu()) {
    for (Node* p : compute) {
      // A Relu/Clip folded earlier in this loop has been erased: `p` may point
      // to freed memory, so ask `quantized` (which forgot it) before touching it.
      if (!quantized.contains(p) || p->op_type() == "Relu" || p->op_type() == "Clip") continue;
      const NodeSettings& ps = node_settings[p];
      if (ps.activation.symmetric()) continue;  // a symmetric range cannot clamp at 0
      Value* y = p->output(0);
      if (y == nullptr || y->uses().size() != 1 || !y->output_of().empty()) continue;
      Node* r = y->uses()[0].node;
      if (!quantized.contains(r) || (r->op_type() != "Relu" && r->op_type() != "Clip")) continue;
      // Folding is exact only if every reader of the Relu's output then reads
      // the DequantizeLinear of `y` (whose range starts at 0). A float reader
      // (a kept-float layer, a graph output) would get y without the Relu.
      Value* r_out = r->output(0);
      if (r_out == nullptr || r_out->IsGraphOutput() || r_out->uses().empty()) continue;
      bool all_quantized = true;
      for (const Use& u : r_out->uses())
        all_quantized &= (quantized.contains(u.node) && u.node != r) || movement_quantized(u.node);
      if (!all_quantized) continue;
      float lo = 0, hi = INFINITY;
      if (r->op_type() == "Clip") {
        if (opset < 11) {
          lo = r->GetFloat("min", -INFINITY);
          hi = r->GetFloat("max", INFINITY);
        } else {
          std::optional<Tensor> a = GetConstant(model, r->input(1)), b = GetConstant(model, r->input(2));
          if ((r->input(1) && !a) || (r->input(2) && !b)) continue;
          lo = a ? static_cast<float>(a->ScalarAt(0)) : -INFINITY;
          hi = b ? static_cast<float>(b->ScalarAt(0)) : INFINITY;
        }
        if (lo != 0) continue;  // only a clamp at 0 is exact with an asymmetric range
      }
      auto it = stats.tensors.find(r->output(0)->name());
      if (it == stats.tensors.end()) continue;
      RangeOptions ro{ToRangeMethod(ps.activation.method()), ps.activation.percentile(),
                      BitsOf(ps.activation.type()), false, ps.activation.num_quantized_bins()};
      auto [rlo, rhi] = ComputeRange(it->second, ro);
      rlo = std::max(rlo, lo);
      rhi = std::min(rhi, hi);
      std::string rid = id_of[r];
      std::vector<Value*> clip_bounds;
      for (int i = 1; i < r->num_inputs(); ++i)
        if (r->input(i)) clip_bounds.push_back(r->input(i));
      if (!BypassNode(g, r, y)) continue;
      // Clip's min/max initializers are left unread (unless another node shares them).
      for (Value* c : clip_bounds)
        RemoveIfUnusedConstant(g, c);
      quantized.erase(r);
      range_override[y] = {rlo, rhi};
      report.notes.push_back(absl::StrCat(rid, " folded into ", id_of[p]));
      ++report.folded_activations;
    }
    compute.erase(std::remove_if(compute.begin(), compute.end(), [&](Node* n) { return !quantized.contains(n); }),
                  compute.end());
  }

  // 3. Tensors to quantize: activation inputs and outputs of quantized nodes,
  // then data-movement ops next to them, sharing parameters.
  std::vector<const Value*> tensors;
  absl::flat_hash_set<const Value*> in_set;
  absl::flat_hash_map<const Value*, const Node*> settings_from;
  auto add_tensor = [&](const Value* v, const Node* n) {
    if (v == nullptr || !IsFloat(v->elem_type()) || GetConstant(model, v)) return;
    // A tensor only read as a graph output gets no Q/DQ pair: nothing would
    // read its DequantizeLinear, and a QuantizeLinear on a graph output keeps
    // ONNX Runtime from fusing the producer (the last Gemm then stays float
    // instead of becoming QGemm with a float output).
    if (v->uses().empty()) return;
    if (v->producer() != nullptr && kept_float.contains(v->producer())) return;
    if (in_set.insert(v).second) tensors.push_back(v);
    settings_from.emplace(v, n);
  };
  for (Node* n : compute) {
    for (int i : ActivationInputs(model, *n)) add_tensor(n->input(i), n);
    for (Value* out : n->outputs()) add_tensor(out, n);
  }
  Groups groups;
  for (Node* n : g.NodeSnapshot()) {
    if (!DataMovementOps().count(n->op_type()) || (!n->domain().empty() && n->domain() != "ai.onnx")) continue;
    NodeSettings s = settings.For(*n);
    const std::string& id = id_of[n];
    if (s.skip || keep_float.contains(id) || float_feeders.contains(n) || (options.only && !options.only->contains(id)))
      continue;
    std::vector<int> ins = ActivationInputs(model, *n);
    bool touches = false;
    for (int i : ins) touches |= in_set.contains(n->input(i));
    for (Value* out : n->outputs()) touches |= out != nullptr && in_set.contains(out);
    bool has_stats = !ins.empty();
    for (int i : ins) has_stats &= stats.tensors.count(n->input(i)->name()) > 0;
    for (Value* out : n->outputs()) has_stats &= out == nullptr || stats.tensors.count(out->name()) > 0;
    if (!touches || !has_stats) continue;
    node_settings[n] = s;
    quantized.insert(n);
    for (int i : ins) {
      add_tensor(n->input(i), n);
      for (Value* out : n->outputs())
        if (out) groups.Join(n->input(i), out);
    }
    for (Value* out : n->outputs()) add_tensor(out, n);
  }

  // Constant tables read by Gather (embeddings) whose output gets a Q/DQ
  // pair: step 7 stores them quantized with the parameters of that output,
  // so ONNX Runtime drops the DequantizeLinear/QuantizeLinear around the
  // Gather and gathers 8-bit rows. Their range joins the output's group
  // range: rows calibration never gathered must not clip.
  // (Gather, table range), in graph order so the rewrite is deterministic.
  std::vector<std::pair<Node*, std::pair<float, float>>> tables;
  for (Node* n : g.NodeSnapshot()) {
    Value* tv = n->input(0);
    if (!n->IsOp("Gather") || tv == nullptr || !in_set.contains(n->output(0))) continue;
    const std::string& id = id_of[n];
    if (settings.For(*n).skip || keep_float.contains(id) || (options.only && !options.only->contains(id))) continue;
    const Tensor* t = tv->constant();
    // Only a table nothing else reads (a tied output projection keeps it float).
    if (t == nullptr || t->type() != onnx::TensorProto::FLOAT || t->num_elements() == 0 || tv->uses().size() != 1 ||
        !tv->output_of().empty())
      continue;
    auto data = t->span<float>();
    auto [lo, hi] = std::minmax_element(data.begin(), data.end());
    tables.push_back({n, {*lo, *hi}});
  }

  // 4. Parameters: each group's range is the union of its members' ranges.
  absl::flat_hash_map<const Value*, std::pair<float, float>> group_range;
  absl::flat_hash_map<const Value*, ActParams> params;
  for (const Value* v : tensors) {
    const NodeSettings& s = node_settings[settings_from[v]];
    std::pair<float, float> r;
    auto ov = range_override.find(v);
    if (ov != range_override.end()) {
      r = ov->second;
    } else {
      RangeOptions ro{ToRangeMethod(s.activation.method()), s.activation.percentile(), BitsOf(s.activation.type()),
                      s.activation.symmetric(), s.activation.num_quantized_bins()};
      r = ComputeRange(stats.tensors.at(v->name()), ro);
    }
    auto [it, fresh] = group_range.emplace(groups.Find(v), r);
    if (!fresh) it->second = {std::min(it->second.first, r.first), std::max(it->second.second, r.second)};
  }
  for (const auto& [n, r] : tables) {
    auto it = group_range.find(groups.Find(n->output(0)));
    if (it != group_range.end())
      it->second = {std::min(it->second.first, r.first), std::max(it->second.second, r.second)};
  }
  for (const Value* v : tensors) {
    const NodeSettings& s = node_settings[settings_from[v]];
    auto [lo, hi] = group_range[groups.Find(v)];
    ActParams p;
    p.type = s.activation.type();
    p.lo = lo;
    p.hi = hi;
    p.q = ComputeQParams(lo, hi, p.type, s.activation.symmetric());
    params[v] = p;
  }

  // 5. Rewrite: Q/DQ pairs on activations.
  bool wide = false;
  absl::flat_hash_map<const Value*, const Value*> original_of;  // DQ output -> float tensor
  absl::flat_hash_set<const Value*> quantized_tensors;          // float tensors given a Q/DQ pair
  for (const Value* cv : tensors) {
    Value* v = const_cast<Value*>(cv);
    const ActParams& p = params[v];
    // Only tensors a quantized node reads get a pair. E.g. a quantized Conv
    // whose only consumer is kept float: a Q/DQ pair there would be read by
    // nothing, and ONNX Runtime cannot fuse the Conv anyway (its output also
    // feeds a float node).
    bool read_quantized = false;
    for (const Use& u : v->uses()) read_quantized |= quantized.contains(u.node);
    if (!read_quantized) continue;
    std::string domain;
    if (BitsOf(p.type) == 16 && opset < 21) {
      domain = "com.microsoft";  // 16-bit Q/DQ before opset 21
      wide = true;
    }
    Node* before = v->producer() ? g.NodeAfter(v->producer()) : (g.nodes().empty() ? nullptr : g.nodes().front().get());
    Value* scale = g.AddInitializer(g.FreshName(v->name() + "_scale"), ScaleTensor({p.q.scale}, false));
    Value* zp = g.AddInitializer(g.FreshName(v->name() + "_zero_point"),
                                 ZeroPointTensor({p.q.zero_point}, OnnxTypeOf(p.type), false));
    Node* q = g.CreateNode("QuantizeLinear", {v, scale, zp}, 1, before, g.FreshName(v->name() + "_QuantizeLinear"), domain);
    Node* dq = g.CreateNode("DequantizeLinear", {q->output(0), scale, zp}, 1, before,
                            g.FreshName(v->name() + "_DequantizeLinear"), domain);
    std::vector<Use> uses = v->uses();
    for (const Use& u : uses)
      if (quantized.contains(u.node)) u.node->SetInput(u.index, dq->output(0));
    original_of[dq->output(0)] = v;
    quantized_tensors.insert(v);
    ++report.qdq_pairs;
  }
  if (wide && model.OpsetVersion("com.microsoft") < 1) model.SetOpsetVersion("com.microsoft", 1);

  // 6. Weights and bias of weighted ops.
  absl::flat_hash_map<const Value*, std::pair<Value*, QuantizedWeight>> weight_cache;
  for (Node* n : compute) {
    if (!quantized.contains(n)) continue;
    QuantizationRecord::Layer* layer = report.record.add_layer();
    layer->set_node(id_of[n]);
    layer->set_op_type(n->op_type());
    for (Value* in : n->inputs()) {
      auto orig = original_of.find(in);
      if (orig == original_of.end()) continue;
      const ActParams& p = params[orig->second];
      auto* t = layer->add_input();
      *t = RecordTensor(orig->second->name(), {p.q.scale}, {p.q.zero_point}, p.type, -1);
      t->set_range_min(p.lo);
      t->set_range_max(p.hi);
    }
    for (Value* out : n->outputs()) {
      if (out == nullptr || !params.count(out) || !quantized_tensors.contains(out)) continue;
      const ActParams& p = params[out];
      auto* t = layer->add_output();
      *t = RecordTensor(out->name(), {p.q.scale}, {p.q.zero_point}, p.type, -1);
      t->set_range_min(p.lo);
      t->set_range_max(p.hi);
    }
    ++report.quantized_nodes;
    int wi = WeightInput(model, *n);
    if (wi < 0) continue;
    const NodeSettings& s = node_settings[n];
    Value* wv = n->input(wi);
    auto cached = weight_cache.find(wv);
    if (cached == weight_cache.end()) {
      Tensor w = *GetConstant(model, wv);
      int axis = s.weight.per_channel() && per_axis_ok && w.rank() >= 1 ? WeightAxis(*n, w) : -1;
      QuantizedWeight qw = QuantizeWeight(w, s.weight.type(), s.weight.symmetric(), axis);
      Value* data = g.AddInitializer(g.FreshName(wv->name() + "_quantized"), qw.data);
      Value* scale = g.AddInitializer(g.FreshName(wv->name() + "_scale"), ScaleTensor(qw.scales, axis >= 0));
      // Weight zero points stay even when all 0: ONNX Runtime's QDQ Gemm -> QGemm
      // fusion needs B's zero point (without it the last Gemm stays float).
      Value* zp = g.AddInitializer(g.FreshName(wv->name() + "_zero_point"),
                                   ZeroPointTensor(qw.zero_points, OnnxTypeOf(s.weight.type()), axis >= 0));
      Node* dq = g.CreateNode("DequantizeLinear", {data, scale, zp}, 1, g.nodes().front().get(),
                              g.FreshName(wv->name() + "_DequantizeLinear"));
      if (axis >= 0) dq->SetAttr(Attribute::Int("axis", axis));
      cached = weight_cache.emplace(wv, std::make_pair(dq->output(0), std::move(qw))).first;
    }
    const QuantizedWeight& qw = cached->second.second;
    n->SetInput(wi, cached->second.first);
    *layer->mutable_weight() = RecordTensor(wv->name(), qw.scales, qw.zero_points, s.weight.type(), qw.axis);
    RemoveIfUnusedConstant(g, wv);

    // Bias: int32, scale = input scale x weight scale, when the input is quantized.
    bool has_bias = (n->op_type() == "Conv" || n->op_type() == "ConvTranspose" || n->op_type() == "Gemm") &&
                    n->input(2) != nullptr;
    if (!has_bias || !config.quantize_bias()) continue;
    std::optional<Tensor> b = GetConstant(model, n->input(2));
    auto xo = original_of.find(n->input(0));
    const Value* x_orig = xo == original_of.end() ? nullptr : xo->second;
    if (!b || x_orig == nullptr || b->rank() != 1) continue;
    int64_t channels = b->num_elements();
    if (qw.scales.size() != 1 && static_cast<int64_t>(qw.scales.size()) != channels) continue;
    QuantizedWeight qb = QuantizeBias(*b, params[x_orig].q.scale, qw.scales);
    Value* bv = n->input(2);
    Value* data = g.AddInitializer(g.FreshName(bv->name() + "_quantized"), qb.data);
    Value* scale = g.AddInitializer(g.FreshName(bv->name() + "_scale"), ScaleTensor(qb.scales, qb.axis >= 0));
    // Bias zero points are always 0: left out (DequantizeLinear's default);
    // ONNX Runtime fuses QLinearConv / QGemm without them, and for int32 they
    // are 4 bytes per channel of nothing.
    Node* dq = g.CreateNode("DequantizeLinear", {data, scale}, 1, g.nodes().front().get(),
                            g.FreshName(bv->name() + "_DequantizeLinear"));
    if (qb.axis >= 0) dq->SetAttr(Attribute::Int("axis", 0));
    n->SetInput(2, dq->output(0));
    *layer->mutable_bias() = RecordTensor(bv->name(), qb.scales, qb.zero_points, INT8, qb.axis);
    layer->mutable_bias()->clear_type();
    RemoveIfUnusedConstant(g, bv);
  }
  // 7. Gather tables (see above): the table in 8 bits with its output's
  // parameters, read through a DequantizeLinear.
  int64_t tables_quantized = 0;
  for (const auto& [n, r] : tables) {
    Value* out = n->output(0);
    if (!quantized_tensors.contains(out)) continue;
    const ActParams& p = params[out];
    if (BitsOf(p.type) != 8) continue;  // 16-bit Q/DQ need com.microsoft before opset 21: leave the table float
    Value* tv = n->input(0);
    const Tensor& t = *tv->constant();
    const QuantLimits l = LimitsOf(p.type, node_settings[settings_from[out]].activation.symmetric());
    Tensor q(OnnxTypeOf(p.type), t.dims());
    auto src = t.span<float>();
    for (size_t i = 0; i < src.size(); ++i) {
      int32_t v = QuantizeValue(src[i], p.q, l);
      if (q.type() == onnx::TensorProto::INT8) q.mutable_data<int8_t>()[i] = static_cast<int8_t>(v);
      else q.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(v);
    }
    Value* data = g.AddInitializer(g.FreshName(tv->name() + "_quantized"), std::move(q));
    Value* scale = g.AddInitializer(g.FreshName(tv->name() + "_scale"), ScaleTensor({p.q.scale}, false));
    Value* zp = g.AddInitializer(g.FreshName(tv->name() + "_zero_point"),
                                 ZeroPointTensor({p.q.zero_point}, OnnxTypeOf(p.type), false));
    Node* dq = g.CreateNode("DequantizeLinear", {data, scale, zp}, 1, g.nodes().front().get(),
                            g.FreshName(tv->name() + "_DequantizeLinear"));
    n->SetInput(0, dq->output(0));
    QuantizationRecord::Layer* layer = report.record.add_layer();
    layer->set_node(id_of[n]);
    layer->set_op_type(n->op_type());
    *layer->mutable_weight() = RecordTensor(tv->name(), {p.q.scale}, {p.q.zero_point}, p.type, -1);
    layer->mutable_weight()->set_range_min(r.first);
    layer->mutable_weight()->set_range_max(r.second);
    RemoveIfUnusedConstant(g, tv);
    ++tables_quantized;
  }
  if (tables_quantized > 0)
    report.notes.push_back(absl::StrCat(tables_quantized, " Gather table(s) stored in 8 bits"));

  report.notes.insert(report.notes.begin(),
                      absl::StrCat(report.quantized_nodes, " nodes quantized, ", report.qdq_pairs,
                                   " activation Q/DQ pairs, ", report.folded_activations, " Relu/Clip folded, ",
                                   report.record.skipped_size(), " kept in float"));
  return report;
}

}  // namespace onnxc
