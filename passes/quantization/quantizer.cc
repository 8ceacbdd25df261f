#include "passes/quantization/quantizer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "analysis/calibration/range_methods.h"
#include "ir/constants.h"
#include "ir/rewrite.h"
#include "passes/quantization/pair_safe_weights.h"
#include "passes/quantization/quant_params.h"

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

// A conv with one input and one output channel per group.
bool IsDepthwiseConv(const Model& model, const Node& n) {
  if (!n.IsOp("Conv")) return false;
  std::optional<Tensor> w = GetConstant(model, n.input(1));
  int64_t group = n.GetInt("group", 1);
  return w && w->rank() >= 3 && group > 1 && w->dims()[1] == 1 && w->dims()[0] == group;
}

// A tensor already in quantized form: a Q/DQ output, or read by a
// QuantizeLinear (a model quantized before, by us or another tool).
bool AlreadyQuantized(const Value* v) {
  if (v == nullptr) return false;
  if (const Node* p = v->producer())
    if (p->IsOp("DequantizeLinear") || p->IsOp("QuantizeLinear") || p->IsOp("DynamicQuantizeLinear")) return true;
  for (const Use& u : v->uses())
    if (u.node->IsOp("QuantizeLinear") || u.node->IsOp("DynamicQuantizeLinear")) return true;
  return false;
}

bool TouchesQuantized(const Node& n) {
  for (const Value* v : n.inputs())
    if (AlreadyQuantized(v)) return true;
  for (const Value* v : n.outputs())
    if (AlreadyQuantized(v)) return true;
  return false;
}

// Why the target keeps `n` float ("" when it does not): op types it does not
// quantize, and the speed guard's layer classes.
std::string TargetSkipReason(const Model& model, const QuantizationConfig& config, const Node& n) {
  if (config.quantize_op_type_size() > 0 &&
      std::find(config.quantize_op_type().begin(), config.quantize_op_type().end(), n.op_type()) ==
          config.quantize_op_type().end())
    return absl::StrCat("target ", config.target(), " does not quantize ", n.op_type());
  if (config.keep_depthwise_float() && IsDepthwiseConv(model, n))
    return absl::StrCat("depthwise conv kept float: slower in int8 on target ", config.target());
  return "";
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

std::vector<std::pair<const Node*, std::string>> StableNodeIds(const Graph& graph, const std::string& prefix) {
  std::vector<std::pair<const Node*, std::string>> out;
  std::map<std::string, int> unnamed;
  for (const auto& n : graph.nodes()) {
    std::string id = prefix + (n->name().empty() ? absl::StrCat(n->op_type(), "#", unnamed[n->op_type()]++) : n->name());
    out.emplace_back(n.get(), id);
  }
  return out;
}

std::vector<std::string> QuantizableLayers(const Model& model, const QuantizationSettings& settings) {
  std::vector<std::string> layers;
  for (const auto& [n, id] : StableNodeIds(model.graph())) {
    if (settings.For(*n).skip || !TargetSkipReason(model, settings.config(), *n).empty() || TouchesQuantized(*n)) continue;
    if (WeightInput(model, *n) >= 0 || (ComputeOps().count(n->op_type()) && !ActivationInputs(model, *n).empty()))
      layers.push_back(id);
  }
  return layers;
}

namespace {

// The weight quantized for the range the settings ask: full int8, pair-safe
// (x86 without VNNI cannot saturate on it) or ONNX Runtime's 7-bit
// reduce_range. Pair safety only applies where the runtime pairs weights.
QuantizedWeight QuantizeWeightForRuntime(const Node& n, const Tensor& w, const WeightSettings& ws, int axis) {
  const bool symmetric_int8 = ws.type() == INT8 && ws.symmetric();
  if (symmetric_int8 && ws.range() == INT16_PAIR_SAFE) {
    if (std::optional<ReductionLayout> layout = OrtReductionLayout(n, w, axis))
      return QuantizeWeightPairSafe(w, *layout, axis);
  }
  if (symmetric_int8 && ws.range() == REDUCED_7BIT) return QuantizeWeight(w, INT8, true, axis, /*reduced=*/true);
  return QuantizeWeight(w, ws.type(), ws.symmetric(), axis);
}

// One run of static quantization over a model, step by step (Run() lists
// the steps). Every step reads the state the earlier ones left.
class StaticQuantizer {
 public:
  // `g`: the main graph or a subgraph; `prefix` goes before its node ids.
  StaticQuantizer(Model& model, Graph& g, std::string prefix, const QuantizationSettings& settings,
                  const QuantizeOptions& options)
      : model_(model), g_(g), prefix_(std::move(prefix)), settings_(settings), config_(settings.config()),
        options_(options), stats_(*options.stats), opset_(model.OpsetVersion("")) {}

  QuantizeReport Run() {
    IdentifyNodes();
    SelectComputeNodes();
    FindKeptFloat();
    if (config_.fold_relu()) FoldActivations();
    CollectTensors();
    CollectDataMovement();
    CollectGatherTables();
    ComputeParameters();
    InsertActivationQdq();
    QuantizeWeightsAndBias();
    QuantizeGatherTables();
    report_.notes.insert(report_.notes.begin(),
                         absl::StrCat(report_.quantized_nodes, " nodes quantized, ", report_.qdq_pairs,
                                      " activation Q/DQ pairs, ", report_.folded_activations, " Relu/Clip folded, ",
                                      report_.record.skipped_size(), " kept in float"));
    if (report_.already_quantized > 0)
      report_.notes.push_back(absl::StrCat(report_.already_quantized,
                                           " nodes already quantized (Q/DQ around them) left as they are"));
    return std::move(report_);
  }

 private:
  bool HasStats(const Node& n, const std::vector<int>& ins) const {
    bool ok = true;
    for (int i : ins) ok &= stats_.tensors.count(n.input(i)->name()) > 0;
    for (Value* out : n.outputs()) ok &= out == nullptr || stats_.tensors.count(out->name()) > 0;
    return ok;
  }
  std::string AlwaysZeroInput(const Node& n) const {
    for (int i : ActivationInputs(model_, n)) {
      const TensorStats& t = stats_.tensors.at(n.input(i)->name());
      if (t.min == 0 && t.max == 0) return n.input(i)->name();
    }
    return "";
  }
  bool Excluded(const std::string& id) const { return options_.only && !options_.only->contains(id); }

  void IdentifyNodes() {
    auto ids = StableNodeIds(g_, prefix_);
    id_of_ = absl::flat_hash_map<const Node*, std::string>(ids.begin(), ids.end());
    keep_float_ = absl::flat_hash_map<std::string, std::string>(options_.keep_float.begin(), options_.keep_float.end());
    for (const auto& [id, why] : options_.wide_activations) wide_ids_.insert(id);
    KeepLogDomainFloat();
  }

  // Log, Sqrt and Reciprocal magnify small values: an 8-bit step of a
  // tensor that spans orders of magnitude (a power spectrum before a
  // log-mel's Log) erases its small values, and the output with them. The
  // ops computing such an input, back through elementwise and linear ops and
  // data movement (not through a Conv or anything else), stay float.
  void KeepLogDomainFloat() {
    static const absl::flat_hash_set<std::string> through = {
        "Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
        "Slice", "Concat", "Abs", "Identity"};
    for (Node* n : g_.NodeSnapshot()) {
      if (!n->IsOp("Log") && !n->IsOp("Sqrt") && !n->IsOp("Reciprocal")) continue;
      const std::string reason = absl::StrCat("computes the input of ", n->op_type(), " '", id_of_[n],
                                              "', which magnifies small values 8 bits would erase");
      std::vector<Node*> stack;
      if (n->input(0) && n->input(0)->producer()) stack.push_back(n->input(0)->producer());
      absl::flat_hash_set<Node*> seen;
      while (!stack.empty()) {
        Node* p = stack.back();
        stack.pop_back();
        if (!seen.insert(p).second || !through.contains(p->op_type()) || p->graph() != &g_) continue;
        keep_float_.emplace(id_of_[p], reason);
        for (Value* in : p->inputs())
          if (in && in->producer()) stack.push_back(in->producer());
      }
    }
  }

  // 1. Which weighted and compute nodes to quantize; the rest are recorded
  // as skipped with the reason.
  void SelectComputeNodes() {
    for (Node* n : g_.NodeSnapshot()) {
      bool weighted = WeightedOps().count(n->op_type()) > 0, comp = ComputeOps().count(n->op_type()) > 0;
      if ((!weighted && !comp) || (!n->domain().empty() && n->domain() != "ai.onnx")) continue;
      NodeSettings s = settings_.For(*n);
      const std::string& id = id_of_[n];
      std::string why;
      if (Excluded(id)) continue;
      if (TouchesQuantized(*n)) {
        ++report_.already_quantized;
        continue;
      }
      if (s.skip) why = s.skip_reason;
      else if (std::string t = TargetSkipReason(model_, config_, *n); !t.empty()) why = t;
      else if (keep_float_.contains(id)) why = keep_float_[id];
      else if (weighted && n->op_type() != "MatMul" && WeightInput(model_, *n) < 0) why = "weights are not constant float";
      else if (comp && ActivationInputs(model_, *n).empty()) why = "no float activation input";
      if (!why.empty()) {
        report_.record.add_skipped(absl::StrCat(id, " (", why, ")"));
        continue;
      }
      if (!HasStats(*n, ActivationInputs(model_, *n))) {
        report_.record.add_skipped(absl::StrCat(id, " (", kNoStatistics, ")"));
        continue;
      }
      // An input that was exactly 0 in every sample (a recurrent state the
      // calibration data always starts at zero) has no range to quantize
      // with: any scale would clip the values it takes in use.
      if (std::string zero = AlwaysZeroInput(*n); !zero.empty()) {
        report_.record.add_skipped(absl::StrCat(id, " (input '", zero,
                                                "' was 0 in every calibration sample: no range to quantize it with; "
                                                "calibrate with the values it takes in use)"));
        continue;
      }
      if (wide_ids_.contains(id)) {
        s.activation.set_type(Widened(s.activation.type()));
        wide_nodes_.insert(n);
      }
      node_settings_[n] = s;
      compute_.push_back(n);
    }
    quantized_ = absl::flat_hash_set<const Node*>(compute_.begin(), compute_.end());
  }

  // Nodes kept float on purpose (skip lists, fallback) and the data-movement
  // ops that lead into them. ONNX Runtime quantizes a float Conv/Gemm whose
  // input comes from a DequantizeLinear by itself (WeightBiasQuantization),
  // also when the DequantizeLinear sits before a MaxPool/Reshape it
  // propagates through; so a kept-float node must read float tensors all
  // the way back. Its outputs get a Q/DQ pair only for their quantized readers.
  void FindKeptFloat() {
    for (Node* n : g_.NodeSnapshot()) {
      const std::string& op = n->op_type();
      if (!WeightedOps().count(op) && !ComputeOps().count(op) && !DataMovementOps().count(op)) continue;
      if (settings_.For(*n).skip || keep_float_.contains(id_of_[n])) kept_float_.insert(n);
    }
    std::vector<Node*> order = g_.NodeSnapshot();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node* n = *it;
      if (!DataMovementOps().count(n->op_type())) continue;
      bool feeds = false;
      for (Value* out : n->outputs())
        if (out)
          for (const Use& u : out->uses()) feeds |= kept_float_.contains(u.node) || float_feeders_.contains(u.node);
      if (feeds) float_feeders_.insert(n);
    }
  }

  // Whether a data-movement node will be quantized in CollectDataMovement
  // (it then reads the DequantizeLinear of a quantized neighbour's output).
  bool MovementQuantized(const Node* n) {
    if (!DataMovementOps().count(n->op_type()) || (!n->domain().empty() && n->domain() != "ai.onnx")) return false;
    if (kept_float_.contains(n) || float_feeders_.contains(n) || Excluded(id_of_[n])) return false;
    std::vector<int> ins = ActivationInputs(model_, *n);
    return !ins.empty() && HasStats(*n, ins);
  }

  // 2. Relu/Clip(0, x) after a quantized op fold into the op's output range.
  void FoldActivations() {
    for (Node* p : compute_) {
      // A Relu/Clip folded earlier in this loop has been erased: `p` may point
      // to freed memory, so ask `quantized_` (which forgot it) before touching it.
      if (!quantized_.contains(p) || p->op_type() == "Relu" || p->op_type() == "Clip") continue;
      const NodeSettings& ps = node_settings_[p];
      if (ps.activation.symmetric()) continue;  // a symmetric range cannot clamp at 0
      Value* y = p->output(0);
      if (y == nullptr || y->uses().size() != 1 || !y->output_of().empty()) continue;
      Node* r = y->uses()[0].node;
      if (!quantized_.contains(r) || (r->op_type() != "Relu" && r->op_type() != "Clip")) continue;
      // Folding is exact only if every reader of the Relu's output then reads
      // the DequantizeLinear of `y` (whose range starts at 0). A float reader
      // (a kept-float layer, a graph output) would get y without the Relu.
      Value* r_out = r->output(0);
      if (r_out == nullptr || r_out->IsGraphOutput() || r_out->uses().empty()) continue;
      bool all_quantized = true;
      for (const Use& u : r_out->uses())
        all_quantized &= (quantized_.contains(u.node) && u.node != r) || MovementQuantized(u.node);
      if (!all_quantized) continue;
      float lo = 0, hi = INFINITY;
      if (r->op_type() == "Clip") {
        if (opset_ < 11) {
          lo = r->GetFloat("min", -INFINITY);
          hi = r->GetFloat("max", INFINITY);
        } else {
          std::optional<Tensor> a = GetConstant(model_, r->input(1)), b = GetConstant(model_, r->input(2));
          if ((r->input(1) && !a) || (r->input(2) && !b)) continue;
          lo = a ? static_cast<float>(a->ScalarAt(0)) : -INFINITY;
          hi = b ? static_cast<float>(b->ScalarAt(0)) : INFINITY;
        }
        if (lo != 0) continue;  // only a clamp at 0 is exact with an asymmetric range
      }
      auto it = stats_.tensors.find(r->output(0)->name());
      if (it == stats_.tensors.end()) continue;
      RangeOptions ro{ToRangeMethod(ps.activation.method()), ps.activation.percentile(),
                      BitsOf(ps.activation.type()), false, ps.activation.num_quantized_bins()};
      auto [rlo, rhi] = ComputeRange(it->second, ro);
      rlo = std::max(rlo, lo);
      rhi = std::min(rhi, hi);
      std::string rid = id_of_[r];
      std::vector<Value*> clip_bounds;
      for (int i = 1; i < r->num_inputs(); ++i)
        if (r->input(i)) clip_bounds.push_back(r->input(i));
      if (!BypassNode(g_, r, y)) continue;
      // Clip's min/max initializers are left unread (unless another node shares them).
      for (Value* c : clip_bounds) RemoveIfUnusedConstant(g_, c);
      quantized_.erase(r);
      range_override_[y] = {rlo, rhi};
      report_.notes.push_back(absl::StrCat(rid, " folded into ", id_of_[p]));
      ++report_.folded_activations;
    }
    compute_.erase(std::remove_if(compute_.begin(), compute_.end(), [&](Node* n) { return !quantized_.contains(n); }),
                   compute_.end());
  }

  // The output of a kept-float node is added too when a quantized node reads
  // it: InsertActivationQdq rewires only the quantized readers to the
  // DequantizeLinear, so the kept-float node's float readers still see float
  // while the quantized reader really runs in int8 in ONNX Runtime.
  void AddTensor(const Value* v, const Node* n) {
    if (v == nullptr || !IsFloat(v->elem_type()) || GetConstant(model_, v)) return;
    // A tensor only read as a graph output gets no Q/DQ pair: nothing would
    // read its DequantizeLinear, and a QuantizeLinear on a graph output keeps
    // ONNX Runtime from fusing the producer (the last Gemm then stays float
    // instead of becoming QGemm with a float output).
    if (v->uses().empty() || AlreadyQuantized(v)) return;
    if (in_set_.insert(v).second) tensors_.push_back(v);
    settings_from_.emplace(v, n);
  }

  // 3. Tensors to quantize: activation inputs and outputs of quantized nodes.
  void CollectTensors() {
    for (Node* n : compute_) {
      for (int i : ActivationInputs(model_, *n)) AddTensor(n->input(i), n);
      for (Value* out : n->outputs()) AddTensor(out, n);
    }
  }

  // Data-movement ops next to quantized tensors, sharing one scale and zero
  // point across their inputs and outputs.
  void CollectDataMovement() {
    for (Node* n : g_.NodeSnapshot()) {
      if (!DataMovementOps().count(n->op_type()) || (!n->domain().empty() && n->domain() != "ai.onnx")) continue;
      NodeSettings s = settings_.For(*n);
      const std::string& id = id_of_[n];
      if (s.skip || keep_float_.contains(id) || float_feeders_.contains(n) || Excluded(id) || TouchesQuantized(*n))
        continue;
      std::vector<int> ins = ActivationInputs(model_, *n);
      bool touches = false;
      for (int i : ins) touches |= in_set_.contains(n->input(i));
      for (Value* out : n->outputs()) touches |= out != nullptr && in_set_.contains(out);
      if (!touches || ins.empty() || !HasStats(*n, ins)) continue;
      node_settings_[n] = s;
      quantized_.insert(n);
      for (int i : ins) {
        AddTensor(n->input(i), n);
        for (Value* out : n->outputs())
          if (out) groups_.Join(n->input(i), out);
      }
      for (Value* out : n->outputs()) AddTensor(out, n);
    }
  }

  // Constant tables read by Gather (embeddings) whose output gets a Q/DQ
  // pair: QuantizeGatherTables stores them quantized with the parameters of
  // that output, so ONNX Runtime drops the DequantizeLinear/QuantizeLinear
  // around the Gather and gathers 8-bit rows. Their range joins the output's
  // group range: rows calibration never gathered must not clip. Kept in
  // graph order so the rewrite is deterministic.
  void CollectGatherTables() {
    for (Node* n : g_.NodeSnapshot()) {
      Value* tv = n->input(0);
      if (!n->IsOp("Gather") || tv == nullptr || !in_set_.contains(n->output(0))) continue;
      const std::string& id = id_of_[n];
      if (settings_.For(*n).skip || keep_float_.contains(id) || Excluded(id)) continue;
      const Tensor* t = tv->constant();
      // Only a table nothing else reads (a tied output projection keeps it float).
      if (t == nullptr || t->type() != onnx::TensorProto::FLOAT || t->num_elements() == 0 || tv->uses().size() != 1 ||
          !tv->output_of().empty())
        continue;
      auto data = t->span<float>();
      auto [lo, hi] = std::minmax_element(data.begin(), data.end());
      tables_.push_back({n, {*lo, *hi}});
    }
  }

  // 4. Parameters: each group's range is the union of its members' ranges.
  // A group touching a 16-bit node (an input or output of one) is 16-bit as
  // a whole, so data-movement ops keep one type across their inputs and outputs.
  void ComputeParameters() {
    absl::flat_hash_set<const Value*> wide_groups;
    for (const Value* v : tensors_) {
      bool wide = v->producer() != nullptr && wide_nodes_.contains(v->producer());
      for (const Use& u : v->uses()) wide |= wide_nodes_.contains(u.node);
      if (wide) wide_groups.insert(groups_.Find(v));
    }
    auto type_of = [&](const Value* v, const NodeSettings& s) {
      return wide_groups.contains(groups_.Find(v)) ? Widened(s.activation.type()) : s.activation.type();
    };
    absl::flat_hash_map<const Value*, std::pair<float, float>> group_range;
    for (const Value* v : tensors_) {
      const NodeSettings& s = node_settings_[settings_from_[v]];
      std::pair<float, float> r;
      auto ov = range_override_.find(v);
      if (ov != range_override_.end()) {
        r = ov->second;
      } else {
        RangeOptions ro{ToRangeMethod(s.activation.method()), s.activation.percentile(), BitsOf(type_of(v, s)),
                        s.activation.symmetric(), s.activation.num_quantized_bins()};
        r = ComputeRange(stats_.tensors.at(v->name()), ro);
      }
      auto [it, fresh] = group_range.emplace(groups_.Find(v), r);
      if (!fresh) it->second = {std::min(it->second.first, r.first), std::max(it->second.second, r.second)};
    }
    for (const auto& [n, r] : tables_) {
      auto it = group_range.find(groups_.Find(n->output(0)));
      if (it != group_range.end())
        it->second = {std::min(it->second.first, r.first), std::max(it->second.second, r.second)};
    }
    int64_t wide_tensors = 0;
    for (const Value* v : tensors_) {
      const NodeSettings& s = node_settings_[settings_from_[v]];
      auto [lo, hi] = group_range[groups_.Find(v)];
      ActParams p;
      p.type = type_of(v, s);
      wide_tensors += wide_groups.contains(groups_.Find(v));
      p.lo = lo;
      p.hi = hi;
      p.q = ComputeQParams(lo, hi, p.type, s.activation.symmetric());
      params_[v] = p;
    }
    if (!wide_nodes_.empty())
      report_.notes.push_back(absl::StrCat(wide_nodes_.size(), " nodes with 16-bit activations (",
                                           wide_tensors,
                                           " tensors widened around them), their weights 8-bit"));
  }

  // 5. Rewrite: one Q/DQ pair per activation tensor, shared by its quantized readers.
  void InsertActivationQdq() {
    bool wide = false;
    for (const Value* cv : tensors_) {
      Value* v = const_cast<Value*>(cv);
      const ActParams& p = params_[v];
      // Only tensors a quantized node reads get a pair. E.g. a quantized Conv
      // whose only consumer is kept float: a Q/DQ pair there would be read by
      // nothing, and ONNX Runtime cannot fuse the Conv anyway (its output also
      // feeds a float node).
      bool read_quantized = false, captured = false;
      for (const Use& u : v->uses()) {
        read_quantized |= quantized_.contains(u.node);
        captured |= u.node->graph() != &g_;
      }
      // The output of a quantized data-movement op that a subgraph reads
      // gets a pair too, and the subgraph reads its DequantizeLinear: ONNX
      // Runtime 1.30's transpose optimizer crashes on DequantizeLinear ->
      // Transpose whose output an If branch captures (Silero VAD). With the
      // pair it moves int8 data and dequantizes after; the values are the same.
      const bool movement_to_subgraph =
          captured && v->producer() != nullptr && quantized_.contains(v->producer()) &&
          DataMovementOps().count(v->producer()->op_type());
      if (!read_quantized && !movement_to_subgraph) continue;
      std::string domain;
      if (BitsOf(p.type) == 16 && opset_ < 21) {
        domain = "com.microsoft";  // 16-bit Q/DQ before opset 21
        wide = true;
      }
      // After its producer, or first when it is a graph input, a constant or
      // a value a subgraph reads from the graph around it.
      Node* before = v->producer() && v->graph() == &g_ ? g_.NodeAfter(v->producer())
                                                         : (g_.nodes().empty() ? nullptr : g_.nodes().front().get());
      Value* scale = g_.AddInitializer(g_.FreshName(v->name() + "_scale"), ScaleTensor({p.q.scale}, false));
      Value* zp = g_.AddInitializer(g_.FreshName(v->name() + "_zero_point"),
                                    ZeroPointTensor({p.q.zero_point}, OnnxTypeOf(p.type), false));
      Node* q = g_.CreateNode("QuantizeLinear", {v, scale, zp}, 1, before, g_.FreshName(v->name() + "_QuantizeLinear"),
                              domain);
      Node* dq = g_.CreateNode("DequantizeLinear", {q->output(0), scale, zp}, 1, before,
                               g_.FreshName(v->name() + "_DequantizeLinear"), domain);
      std::vector<Use> uses = v->uses();
      for (const Use& u : uses)
        if (quantized_.contains(u.node) || (movement_to_subgraph && u.node->graph() != &g_))
          u.node->SetInput(u.index, dq->output(0));
      original_of_[dq->output(0)] = v;
      quantized_tensors_.insert(v);
      ++report_.qdq_pairs;
    }
    if (wide && model_.OpsetVersion("com.microsoft") < 1) model_.SetOpsetVersion("com.microsoft", 1);
  }

  // The record entries of a quantized node's activation inputs and outputs.
  QuantizationRecord::Layer* RecordLayer(Node* n) {
    QuantizationRecord::Layer* layer = report_.record.add_layer();
    layer->set_node(id_of_[n]);
    layer->set_op_type(n->op_type());
    for (Value* in : n->inputs()) {
      auto orig = original_of_.find(in);
      if (orig == original_of_.end()) continue;
      const ActParams& p = params_[orig->second];
      auto* t = layer->add_input();
      *t = RecordTensor(orig->second->name(), {p.q.scale}, {p.q.zero_point}, p.type, -1);
      t->set_range_min(p.lo);
      t->set_range_max(p.hi);
    }
    for (Value* out : n->outputs()) {
      if (out == nullptr || !params_.count(out) || !quantized_tensors_.contains(out)) continue;
      const ActParams& p = params_[out];
      auto* t = layer->add_output();
      *t = RecordTensor(out->name(), {p.q.scale}, {p.q.zero_point}, p.type, -1);
      t->set_range_min(p.lo);
      t->set_range_max(p.hi);
    }
    return layer;
  }

  // The int8 weight of `n` read through a DequantizeLinear, shared by every
  // reader of the same float weight.
  const QuantizedWeight& QuantizeWeightOf(Node* n, int wi) {
    const NodeSettings& s = node_settings_[n];
    const bool per_axis_ok = opset_ >= 13;
    Value* wv = n->input(wi);
    auto cached = weight_cache_.find(wv);
    if (cached == weight_cache_.end()) {
      Tensor w = *GetConstant(model_, wv);
      int axis = s.weight.per_channel() && per_axis_ok && w.rank() >= 1 ? WeightAxis(*n, w) : -1;
      QuantizedWeight qw = QuantizeWeightForRuntime(*n, w, s.weight, axis);
      Value* data = g_.AddInitializer(g_.FreshName(wv->name() + "_quantized"), qw.data);
      Value* scale = g_.AddInitializer(g_.FreshName(wv->name() + "_scale"), ScaleTensor(qw.scales, axis >= 0));
      // Weight zero points stay even when all 0: ONNX Runtime's QDQ Gemm -> QGemm
      // fusion needs B's zero point (without it the last Gemm stays float).
      Value* zp = g_.AddInitializer(g_.FreshName(wv->name() + "_zero_point"),
                                    ZeroPointTensor(qw.zero_points, OnnxTypeOf(s.weight.type()), axis >= 0));
      Node* dq = g_.CreateNode("DequantizeLinear", {data, scale, zp}, 1, g_.nodes().front().get(),
                               g_.FreshName(wv->name() + "_DequantizeLinear"));
      if (axis >= 0) dq->SetAttr(Attribute::Int("axis", axis));
      cached = weight_cache_.emplace(wv, std::make_pair(dq->output(0), std::move(qw))).first;
    }
    n->SetInput(wi, cached->second.first);
    RemoveIfUnusedConstant(g_, wv);
    return cached->second.second;
  }

  // Bias: int32, scale = input scale x weight scale, when the input is quantized.
  void QuantizeBiasOf(Node* n, const QuantizedWeight& qw, QuantizationRecord::Layer* layer) {
    bool has_bias = (n->op_type() == "Conv" || n->op_type() == "ConvTranspose" || n->op_type() == "Gemm") &&
                    n->input(2) != nullptr;
    if (!has_bias || !config_.quantize_bias()) return;
    std::optional<Tensor> b = GetConstant(model_, n->input(2));
    auto xo = original_of_.find(n->input(0));
    const Value* x_orig = xo == original_of_.end() ? nullptr : xo->second;
    if (!b || x_orig == nullptr || b->rank() != 1) return;
    int64_t channels = b->num_elements();
    if (qw.scales.size() != 1 && static_cast<int64_t>(qw.scales.size()) != channels) return;
    QuantizedWeight qb = QuantizeBias(*b, params_[x_orig].q.scale, qw.scales);
    Value* bv = n->input(2);
    Value* data = g_.AddInitializer(g_.FreshName(bv->name() + "_quantized"), qb.data);
    Value* scale = g_.AddInitializer(g_.FreshName(bv->name() + "_scale"), ScaleTensor(qb.scales, qb.axis >= 0));
    // Bias zero points are always 0: left out (DequantizeLinear's default);
    // ONNX Runtime fuses QLinearConv / QGemm without them, and for int32 they
    // are 4 bytes per channel of nothing.
    Node* dq = g_.CreateNode("DequantizeLinear", {data, scale}, 1, g_.nodes().front().get(),
                             g_.FreshName(bv->name() + "_DequantizeLinear"));
    if (qb.axis >= 0) dq->SetAttr(Attribute::Int("axis", 0));
    n->SetInput(2, dq->output(0));
    *layer->mutable_bias() = RecordTensor(bv->name(), qb.scales, qb.zero_points, INT8, qb.axis);
    layer->mutable_bias()->clear_type();
    RemoveIfUnusedConstant(g_, bv);
  }

  // 6. Weights and bias of weighted ops, and a record layer per quantized node.
  void QuantizeWeightsAndBias() {
    for (Node* n : compute_) {
      if (!quantized_.contains(n)) continue;
      QuantizationRecord::Layer* layer = RecordLayer(n);
      ++report_.quantized_nodes;
      int wi = WeightInput(model_, *n);
      if (wi < 0) continue;
      std::string weight_name = n->input(wi)->name();
      const QuantizedWeight& qw = QuantizeWeightOf(n, wi);
      *layer->mutable_weight() =
          RecordTensor(weight_name, qw.scales, qw.zero_points, node_settings_[n].weight.type(), qw.axis);
      QuantizeBiasOf(n, qw, layer);
    }
  }

  // 7. Gather tables (see CollectGatherTables): the table in 8 bits with its
  // output's parameters, read through a DequantizeLinear.
  void QuantizeGatherTables() {
    int64_t tables_quantized = 0;
    for (const auto& [n, r] : tables_) {
      Value* out = n->output(0);
      if (!quantized_tensors_.contains(out)) continue;
      const ActParams& p = params_[out];
      if (BitsOf(p.type) != 8) continue;  // 16-bit Q/DQ need com.microsoft before opset 21: leave the table float
      Value* tv = n->input(0);
      const Tensor& t = *tv->constant();
      const QuantLimits l = LimitsOf(p.type, node_settings_[settings_from_[out]].activation.symmetric());
      Tensor q(OnnxTypeOf(p.type), t.dims());
      auto src = t.span<float>();
      for (size_t i = 0; i < src.size(); ++i) {
        int32_t v = QuantizeValue(src[i], p.q, l);
        if (q.type() == onnx::TensorProto::INT8) q.mutable_data<int8_t>()[i] = static_cast<int8_t>(v);
        else q.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(v);
      }
      Value* data = g_.AddInitializer(g_.FreshName(tv->name() + "_quantized"), std::move(q));
      Value* scale = g_.AddInitializer(g_.FreshName(tv->name() + "_scale"), ScaleTensor({p.q.scale}, false));
      Value* zp = g_.AddInitializer(g_.FreshName(tv->name() + "_zero_point"),
                                    ZeroPointTensor({p.q.zero_point}, OnnxTypeOf(p.type), false));
      Node* dq = g_.CreateNode("DequantizeLinear", {data, scale, zp}, 1, g_.nodes().front().get(),
                               g_.FreshName(tv->name() + "_DequantizeLinear"));
      n->SetInput(0, dq->output(0));
      QuantizationRecord::Layer* layer = report_.record.add_layer();
      layer->set_node(id_of_[n]);
      layer->set_op_type(n->op_type());
      *layer->mutable_weight() = RecordTensor(tv->name(), {p.q.scale}, {p.q.zero_point}, p.type, -1);
      layer->mutable_weight()->set_range_min(r.first);
      layer->mutable_weight()->set_range_max(r.second);
      RemoveIfUnusedConstant(g_, tv);
      ++tables_quantized;
    }
    if (tables_quantized > 0)
      report_.notes.push_back(absl::StrCat(tables_quantized, " Gather table(s) stored in 8 bits"));
  }

  Model& model_;
  Graph& g_;
  const std::string prefix_;
  const QuantizationSettings& settings_;
  const QuantizationConfig& config_;
  const QuantizeOptions& options_;
  const CalibrationStats& stats_;
  const int64_t opset_;
  QuantizeReport report_;

  absl::flat_hash_map<const Node*, std::string> id_of_;
  absl::flat_hash_map<std::string, std::string> keep_float_;
  absl::flat_hash_set<std::string> wide_ids_;       // 16-bit activations asked for
  absl::flat_hash_set<const Node*> wide_nodes_;     // ... on nodes being quantized
  absl::flat_hash_map<const Node*, NodeSettings> node_settings_;
  std::vector<Node*> compute_;                      // weighted + compute ops, graph order
  absl::flat_hash_set<const Node*> quantized_;      // every node that reads quantized tensors
  absl::flat_hash_set<const Node*> kept_float_;     // kept float on purpose
  absl::flat_hash_set<const Node*> float_feeders_;  // data-movement ops read (transitively) by kept-float nodes
  absl::flat_hash_map<const Value*, std::pair<float, float>> range_override_;  // folded Relu/Clip ranges
  std::vector<const Value*> tensors_;               // to quantize, in order found
  absl::flat_hash_set<const Value*> in_set_;
  absl::flat_hash_map<const Value*, const Node*> settings_from_;
  Groups groups_;
  std::vector<std::pair<Node*, std::pair<float, float>>> tables_;  // Gather, table range
  absl::flat_hash_map<const Value*, ActParams> params_;
  absl::flat_hash_map<const Value*, const Value*> original_of_;  // DQ output -> float tensor
  absl::flat_hash_set<const Value*> quantized_tensors_;          // float tensors given a Q/DQ pair
  absl::flat_hash_map<const Value*, std::pair<Value*, QuantizedWeight>> weight_cache_;
};

}  // namespace

namespace {

// Quantizes `g`, then the subgraphs of its nodes (If branches, Loop bodies),
// their nodes' ids prefixed with the path of the node holding them.
void QuantizeGraphs(Model& model, Graph& g, const std::string& prefix, const QuantizationSettings& settings,
                    const QuantizeOptions& options, QuantizeReport* total) {
  std::vector<std::pair<Node*, std::string>> holders;
  for (const auto& [n, id] : StableNodeIds(g, prefix))
    if (!n->subgraphs().empty()) holders.emplace_back(const_cast<Node*>(n), id);
  QuantizeReport r = StaticQuantizer(model, g, prefix, settings, options).Run();
  if (prefix.empty()) {
    *total = std::move(r);
  } else {
    for (auto& l : *r.record.mutable_layer()) *total->record.add_layer() = std::move(l);
    for (auto& sk : *r.record.mutable_skipped()) total->record.add_skipped(std::move(sk));
    total->quantized_nodes += r.quantized_nodes;
    total->qdq_pairs += r.qdq_pairs;
    total->folded_activations += r.folded_activations;
    total->already_quantized += r.already_quantized;
    if (r.quantized_nodes > 0)
      total->notes.push_back(absl::StrCat(prefix, ": ", r.quantized_nodes, " nodes quantized inside"));
  }
  for (const auto& [n, id] : holders)
    for (const Attribute& a : n->attributes())
      for (const auto& sub : a.graphs())
        QuantizeGraphs(model, *sub, absl::StrCat(id, "/", a.name(), "/"), settings, options, total);
}

}  // namespace

bool HasDepthwiseConv(const Model& model) {
  bool found = false;
  const_cast<Model&>(model).graph().ForEachGraph([&](Graph* g) {
    for (const auto& n : g->nodes()) found |= IsDepthwiseConv(model, *n);
  });
  return found;
}

absl::StatusOr<QuantizeReport> QuantizeModel(Model& model, const QuantizationSettings& settings,
                                             const QuantizeOptions& options) {
  const int64_t opset = model.OpsetVersion("");
  if (opset < 10)
    return absl::FailedPreconditionError(absl::StrCat(
        "opset ", opset, " has no QuantizeLinear/DequantizeLinear (opset 10+); convert the model first"));
  if (options.stats == nullptr) return absl::FailedPreconditionError("static quantization needs calibration statistics");
  if (settings.config().activation().method() == AUTO)
    return absl::InvalidArgumentError(
        "method=auto is chosen by the quantize pass (it measures each method's outputs); give this pass an explicit "
        "method (minmax, mse, ...)");
  QuantizeReport report;
  QuantizeGraphs(model, model.graph(), "", settings, options, &report);
  return report;
}

}  // namespace onnxc
