#include "analysis/channel_groups/channel_groups.h"

#include <numeric>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ir/constants.h"

namespace onnxc {
namespace {

// Ops whose output 0 has the channels of input 0, element for element
// (other inputs, if any, are scalars such as Clip's bounds).
const std::set<std::string>& ChannelwiseUnaryOps() {
  static const auto* ops = new std::set<std::string>{
      "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus",
      "Softsign", "Clip", "Identity", "Dropout", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Gelu", "Mish",
      "Floor", "Ceil", "Round", "Cast", "ThresholdedRelu", "Reciprocal", "Sin", "Cos", "Swish",
      // Spatial ops: every channel on its own.
      "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"};
  return *ops;
}

const std::set<std::string>& ElementwiseBinaryOps() {
  static const auto* ops =
      new std::set<std::string>{"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu", "Pow"};
  return *ops;
}

std::optional<std::vector<int64_t>> Shape(const Value* v) { return v ? v->shape() : std::nullopt; }

std::string NodeName(const Node* n) { return n->name().empty() ? n->op_type() : n->name(); }

class Walker {
 public:
  explicit Walker(Model& model) : model_(model) {}

  std::unique_ptr<ChannelGroups> Run() {
    Graph& g = model_.graph();
    for (auto& node : g.nodes()) Visit(node.get());
    // Any use the walk did not understand pins the channels.
    for (auto& [v, layout] : out_.layouts) {
      for (const Use& u : v->uses())
        if (!handled_.contains({u.node, u.index})) {
          auto why = declined_.find(u.node);
          Block(layout, absl::StrCat("read by ", u.node->op_type(), " '", NodeName(u.node), "'",
                                     why == declined_.end() ? "" : absl::StrCat(": ", why->second)));
        }
      if (!v->output_of().empty()) Block(layout, absl::StrCat("reaches graph output '", v->name(), "'"));
    }
    return Finish();
  }

 private:
  int NewGroup(Node* producer, int64_t channels) {
    parent_.push_back(static_cast<int>(parent_.size()));
    ChannelGroup grp;
    grp.name = NodeName(producer);
    grp.channels = channels;
    grp.producers.push_back(producer);
    raw_.push_back(std::move(grp));
    return parent_.back();
  }
  int Find(int g) {
    while (parent_[g] != g) g = parent_[g] = parent_[parent_[g]];
    return g;
  }
  void Union(int a, int b) {
    a = Find(a), b = Find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }
  void Block(const ChannelLayout& layout, const std::string& why) {
    for (const ChannelSegment& s : layout.segments)
      if (s.group >= 0 && block_reason_[Find(s.group)].empty()) block_reason_[Find(s.group)] = why;
  }
  const ChannelLayout* LayoutOf(const Value* v) const {
    auto it = out_.layouts.find(v);
    return it == out_.layouts.end() ? nullptr : &it->second;
  }
  void Decline(Node* n, const std::string& why) { declined_[n] = why; }
  void Handle(Node* n, int input) { handled_.insert({n, input}); }
  void SetLayout(Value* v, ChannelLayout l) {
    if (v != nullptr) out_.layouts[v] = std::move(l);
  }
  static ChannelLayout Fixed(int64_t channels) { return ChannelLayout{{{-1, channels}}, 1}; }

  // Output positions per sample of a layer: the product of its output's
  // dims but the batch and the channel (conv) or the last (matmul) axis.
  static int64_t Positions(const Node* n, bool conv) {
    auto s = Shape(n->output(0));
    if (!s || s->empty()) return 0;
    int64_t p = 1;
    for (size_t i = 0; i < s->size(); ++i) {
      if (conv ? i < 2 : i + 1 == s->size()) continue;
      if ((*s)[i] <= 0 && i != 0) return 0;
      p *= std::max<int64_t>((*s)[i], 1);
    }
    return p;
  }

  void Visit(Node* n) {
    if (!n->domain().empty() && n->domain() != "ai.onnx") return;
    const std::string& op = n->op_type();
    const ChannelLayout* in = n->num_inputs() > 0 ? LayoutOf(n->input(0)) : nullptr;
    if (op == "Conv") return VisitConv(n, in);
    if (op == "Gemm" || op == "MatMul") return VisitMatMul(n, in);
    if (op == "ConvTranspose") return Decline(n, "ConvTranspose is not pruned");
    if (in == nullptr && op != "Concat" && !ElementwiseBinaryOps().count(op)) return;
    if (ChannelwiseUnaryOps().count(op)) {
      if (in->block != 1 && op.find("Pool") != std::string::npos) return Decline(n, "pools a flattened tensor");
      Handle(n, 0);
      return SetLayout(n->output(0), *in);
    }
    if (op == "BatchNormalization" || op == "InstanceNormalization") return VisitNormalization(n, *in);
    if (ElementwiseBinaryOps().count(op)) return VisitElementwise(n);
    if (op == "Concat") return VisitConcat(n);
    if (op == "Pad") return VisitPad(n, *in);
    if (op == "Resize" || op == "Upsample") return VisitResize(n, *in);
    if (op == "Slice") return VisitSlice(n, *in);
    if (op == "Flatten" || op == "Reshape") return VisitFlatten(n, *in);
  }

  void VisitConv(Node* n, const ChannelLayout* in) {
    std::optional<Tensor> w = n->input(1) ? GetConstant(model_, n->input(1)) : std::nullopt;
    if (!w || w->rank() < 3) {
      Decline(n, "the weight is not a constant");
      return;
    }
    const int64_t out_ch = w->dims()[0], in_per_group = w->dims()[1], groups = n->GetInt("group", 1);
    int64_t kernel = 1;
    for (int64_t i = 2; i < w->rank(); ++i) kernel *= w->dims()[i];
    LinearLayerSize size{n, Positions(n, true), kernel, in ? *in : Fixed(in_per_group * groups), Fixed(out_ch), false, groups};
    if (n->input(2) && !GetConstant(model_, n->input(2))) {
      Decline(n, "the bias is not a constant");
      out_.layers.push_back(size);
      return;
    }
    const bool shared = n->input(1)->uses().size() > 1;
    const bool depthwise = groups > 1 && in_per_group == 1 && out_ch == groups;
    if (depthwise && in != nullptr && in->block == 1 && in->channels() == groups && !shared) {
      // Channels pass through and the conv shrinks with them.
      Handle(n, 0);
      out_.edits.push_back({ChannelEdit::Kind::kDepthwise, n, 1, 0, *in});
      SetLayout(n->output(0), *in);
      size.output = *in;
      size.depthwise = true;
      out_.layers.push_back(size);
      return;
    }
    if (groups > 1) Decline(n, depthwise ? "depthwise conv with a channel multiplier or shared weight" : "grouped conv");
    else if (shared) Decline(n, "shared weight");
    else if (in != nullptr && in->block != 1) Decline(n, "reads a flattened tensor");
    if (groups == 1 && !shared) {
      if (in != nullptr && in->block == 1) {
        Handle(n, 0);
        out_.edits.push_back({ChannelEdit::Kind::kConsumerWeight, n, 1, 1, *in});
        consumers_.push_back({n, *in});
      }
      int g = NewGroup(n, out_ch);
      ChannelLayout out{{{g, out_ch}}, 1};
      out_.edits.push_back({ChannelEdit::Kind::kProducerWeight, n, 1, 0, out});
      SetLayout(n->output(0), out);
      size.output = out;
    }
    out_.layers.push_back(size);
  }

  void VisitMatMul(Node* n, const ChannelLayout* in) {
    const bool gemm = n->op_type() == "Gemm";
    std::optional<Tensor> w = n->input(1) ? GetConstant(model_, n->input(1)) : std::nullopt;
    if (!w || w->rank() != 2) return Decline(n, "the weight is not a constant matrix");
    const bool trans_b = gemm && n->GetInt("transB", 0) != 0;
    const int64_t k = trans_b ? w->dims()[1] : w->dims()[0], outs = trans_b ? w->dims()[0] : w->dims()[1];
    auto in_shape = Shape(n->input(0));
    const bool rank2 = gemm || (in_shape && in_shape->size() == 2) || (in != nullptr && in->block > 1);
    LinearLayerSize size{n, Positions(n, false), 1, in ? *in : Fixed(k), Fixed(outs), false, 1};
    if (gemm && n->GetInt("transA", 0) != 0) {
      Decline(n, "Gemm with transA");
    } else if (gemm && n->input(2) && !GetConstant(model_, n->input(2))) {
      Decline(n, "the bias is not a constant");
    } else if (n->input(1)->uses().size() > 1) {
      Decline(n, "shared weight");
    } else if (!rank2) {
      Decline(n, "input is not a matrix (features are not on axis 1)");
    } else {
      if (in != nullptr) {
        Handle(n, 0);
        out_.edits.push_back({ChannelEdit::Kind::kConsumerWeight, n, 1, trans_b ? 1 : 0, *in});
        consumers_.push_back({n, *in});
      }
      int g = NewGroup(n, outs);
      ChannelLayout out{{{g, outs}}, 1};
      out_.edits.push_back({ChannelEdit::Kind::kProducerWeight, n, 1, trans_b ? 0 : 1, out});
      SetLayout(n->output(0), out);
      size.output = out;
    }
    out_.layers.push_back(size);
  }

  void VisitNormalization(Node* n, const ChannelLayout& in) {
    const int params = n->op_type() == "BatchNormalization" ? 4 : 2;
    if (in.block != 1) return Decline(n, "normalizing a flattened tensor");
    for (int i = 1; i <= params; ++i) {
      std::optional<Tensor> t = n->input(i) ? GetConstant(model_, n->input(i)) : std::nullopt;
      if (!t || t->rank() != 1 || t->dims()[0] != in.channels()) return Decline(n, "parameters are not constants");
    }
    for (int i = 1; i < n->num_outputs(); ++i)
      if (n->output(i) && n->output(i)->IsUsed()) return Decline(n, "training-mode outputs are used");
    for (int i = 1; i <= params; ++i) out_.edits.push_back({ChannelEdit::Kind::kParameter, n, i, 0, in});
    Handle(n, 0);
    SetLayout(n->output(0), in);
  }

  // Add/Mul/...: tensors with channels must agree (and are tied); constants
  // must be scalars or per-channel along axis 1.
  void VisitElementwise(Node* n) {
    std::vector<int> with_layout;
    int64_t rank = -1;
    for (int i = 0; i < n->num_inputs(); ++i) {
      if (LayoutOf(n->input(i))) {
        with_layout.push_back(i);
        if (auto s = Shape(n->input(i))) rank = std::max<int64_t>(rank, s->size());
      }
    }
    if (with_layout.empty()) return;
    if (auto s = Shape(n->output(0))) rank = s->size();
    const ChannelLayout first = *LayoutOf(n->input(with_layout[0]));
    if (rank < 2) return Decline(n, "output rank unknown");
    std::vector<ChannelEdit> params;
    for (int i = 0; i < n->num_inputs(); ++i) {
      Value* v = n->input(i);
      if (v == nullptr) continue;
      if (const ChannelLayout* l = LayoutOf(v)) {
        auto s = Shape(v);
        if (s && static_cast<int64_t>(s->size()) != rank) return Decline(n, "broadcasts a tensor with channels");
        if (l->block != first.block || l->segments.size() != first.segments.size())
          return Decline(n, "inputs' channels are laid out differently");
        for (size_t k = 0; k < first.segments.size(); ++k)
          if (l->segments[k].channels != first.segments[k].channels)
            return Decline(n, "inputs' channel counts differ");
        continue;
      }
      std::optional<Tensor> c = GetConstant(model_, v);
      if (!c) return Decline(n, absl::StrCat("input '", v->name(), "' is neither a constant nor in a channel group"));
      if (c->num_elements() == 1) continue;
      // Right-aligned broadcast: the constant's axis for channel axis 1.
      const int64_t axis = 1 - (rank - c->rank());
      bool per_channel = axis >= 0 && axis < c->rank() && c->dims()[axis] == first.positions();
      for (int64_t d = 0; per_channel && d < c->rank(); ++d)
        if (d != axis && c->dims()[d] != 1) per_channel = false;
      if (!per_channel) return Decline(n, absl::StrCat("constant '", v->name(), "' is not per-channel"));
      params.push_back({ChannelEdit::Kind::kParameter, n, i, axis, first});
    }
    for (size_t k = 1; k < with_layout.size(); ++k) {
      const ChannelLayout& l = *LayoutOf(n->input(with_layout[k]));
      for (size_t s = 0; s < first.segments.size(); ++s) {
        int a = first.segments[s].group, b = l.segments[s].group;
        if (a >= 0 && b >= 0) Union(a, b);
        else if (a >= 0 || b >= 0) Block(a >= 0 ? first : l, absl::StrCat("tied by ", n->op_type(), " '", NodeName(n), "' to channels that cannot be pruned"));
      }
    }
    for (int i : with_layout) Handle(n, i);
    for (ChannelEdit& e : params) out_.edits.push_back(std::move(e));
    SetLayout(n->output(0), first);
  }

  void VisitConcat(Node* n) {
    auto out_shape = Shape(n->output(0));
    int64_t axis = n->GetInt("axis", 0);
    if (axis < 0 && out_shape) axis += out_shape->size();
    bool any = false;
    for (Value* v : n->inputs()) any = any || LayoutOf(v);
    if (!any) return;
    if (axis != 1) return Decline(n, "concatenates along another axis than the channels");
    ChannelLayout out;
    for (Value* v : n->inputs()) {
      if (const ChannelLayout* l = LayoutOf(v)) {
        if (l->block != 1) return Decline(n, "concatenates flattened tensors");
        out.segments.insert(out.segments.end(), l->segments.begin(), l->segments.end());
        continue;
      }
      auto s = Shape(v);
      if (!s || s->size() < 2 || (*s)[1] <= 0) return Decline(n, absl::StrCat("channels of input '", v->name(), "' unknown"));
      out.segments.push_back({-1, (*s)[1]});
    }
    for (int i = 0; i < n->num_inputs(); ++i)
      if (LayoutOf(n->input(i))) Handle(n, i);
    SetLayout(n->output(0), out);
  }

  // Constant pads with none on the channel axis.
  void VisitPad(Node* n, const ChannelLayout& in) {
    std::vector<int64_t> pads = n->GetInts("pads");
    if (n->num_inputs() > 1 && n->input(1)) {
      std::optional<Tensor> p = GetConstant(model_, n->input(1));
      if (!p) return Decline(n, "pads are not constant");
      pads.clear();
      for (int64_t i = 0; i < p->num_elements(); ++i) pads.push_back(static_cast<int64_t>(p->ScalarAt(i)));
    }
    if (n->num_inputs() > 3 && n->input(3)) return Decline(n, "Pad with axes");
    const size_t rank = pads.size() / 2;
    if (rank < 2 || pads[1] != 0 || pads[rank + 1] != 0) return Decline(n, "pads the channel axis");
    Handle(n, 0);
    SetLayout(n->output(0), in);
  }

  void VisitResize(Node* n, const ChannelLayout& in) {
    // Resize(X, roi, scales, sizes) / Upsample(X, scales): scales must keep axis 1; sizes would name it.
    const bool upsample = n->op_type() == "Upsample";
    const int scales_at = upsample ? 1 : 2;
    if (!upsample && n->num_inputs() > 3 && n->input(3)) return Decline(n, "Resize by sizes");
    std::vector<float> scales;
    if (const Attribute* a = n->attr("scales")) scales = a->floats();
    if (n->num_inputs() > scales_at && n->input(scales_at)) {
      std::optional<Tensor> s = GetConstant(model_, n->input(scales_at));
      if (!s) return Decline(n, "scales are not constant");
      scales = s->ToFloatVector();
    }
    if (scales.size() < 2 || scales[1] != 1.0f || scales[0] != 1.0f) return Decline(n, "scales the channel axis");
    Handle(n, 0);
    SetLayout(n->output(0), in);
  }

  void VisitSlice(Node* n, const ChannelLayout& in) {
    if (n->num_inputs() < 4 || n->input(3) == nullptr) return Decline(n, "Slice without axes");
    std::optional<Tensor> axes = GetConstant(model_, n->input(3));
    auto s = Shape(n->input(0));
    if (!axes) return Decline(n, "axes are not constant");
    for (int64_t i = 0; i < axes->num_elements(); ++i) {
      int64_t a = static_cast<int64_t>(axes->ScalarAt(i));
      if (a < 0 && s) a += s->size();
      if (a == 1 || a < 0) return Decline(n, "slices the channel axis");
    }
    Handle(n, 0);
    SetLayout(n->output(0), in);
  }

  // N x C x H x W -> N x (C*H*W): channel c becomes features c*HW .. c*HW+HW-1.
  void VisitFlatten(Node* n, const ChannelLayout& in) {
    auto s = Shape(n->input(0));
    auto o = Shape(n->output(0));
    if (!s || s->size() < 2) return Decline(n, "input shape unknown");
    int64_t inner = 1;
    for (size_t i = 2; i < s->size(); ++i) {
      if ((*s)[i] <= 0) return Decline(n, "input shape unknown");
      inner *= (*s)[i];
    }
    if (n->op_type() == "Flatten") {
      if (n->GetInt("axis", 1) != 1) return Decline(n, "flattens from another axis than 1");
    } else if (!o || o->size() != 2 || (o->at(1) > 0 && o->at(1) != in.positions() * inner / in.block)) {
      return Decline(n, "reshapes into something other than N x features");
    }
    Handle(n, 0);
    Handle(n, 1);
    ChannelLayout out = in;
    out.block = in.block * inner;
    SetLayout(n->output(0), out);
  }

  std::unique_ptr<ChannelGroups> Finish() {
    // Compact the union-find into group indices.
    std::vector<int> index(parent_.size(), -1);
    for (size_t g = 0; g < parent_.size(); ++g) {
      int root = Find(static_cast<int>(g));
      if (index[root] < 0) {
        index[root] = static_cast<int>(out_.groups.size());
        out_.groups.push_back(raw_[root]);
        out_.groups.back().producers.clear();
      }
      ChannelGroup& grp = out_.groups[index[root]];
      grp.producers.insert(grp.producers.end(), raw_[g].producers.begin(), raw_[g].producers.end());
      if (grp.blocked.empty()) grp.blocked = block_reason_[root];
    }
    auto remap = [&](ChannelLayout& l) {
      for (ChannelSegment& s : l.segments)
        if (s.group >= 0) s.group = index[Find(s.group)];
    };
    for (ChannelEdit& e : out_.edits) remap(e.layout);
    for (auto& [v, l] : out_.layouts) remap(l);
    for (LinearLayerSize& l : out_.layers) remap(l.input), remap(l.output);
    for (auto& [node, layout] : consumers_) {
      remap(layout);
      std::set<int> seen;
      for (const ChannelSegment& s : layout.segments)
        if (s.group >= 0 && seen.insert(s.group).second) out_.groups[s.group].consumers.push_back(node);
    }
    return std::make_unique<ChannelGroups>(std::move(out_));
  }

  Model& model_;
  ChannelGroups out_;
  std::vector<int> parent_;
  std::vector<ChannelGroup> raw_;
  std::map<int, std::string> block_reason_;
  std::vector<std::pair<Node*, ChannelLayout>> consumers_;
  absl::flat_hash_set<std::pair<Node*, int>> handled_;
  std::map<Node*, std::string> declined_;
};

}  // namespace

int64_t ChannelLayout::channels() const {
  int64_t c = 0;
  for (const ChannelSegment& s : segments) c += s.channels;
  return c;
}

absl::StatusOr<std::unique_ptr<ChannelGroups>> ChannelGroups::Compute(Model& model, const AnalysisContext&,
                                                                      const Settings&) {
  return Walker(model).Run();
}

int64_t ChannelLayout::PositionsKept(const std::vector<int64_t>& kept_counts) const {
  int64_t c = 0;
  for (const ChannelSegment& s : segments) c += s.group < 0 ? s.channels : kept_counts[s.group];
  return c * block;
}

ChannelGroups::Kept ChannelGroups::Full() const {
  Kept kept(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    kept[g].resize(groups[g].channels);
    std::iota(kept[g].begin(), kept[g].end(), 0);
  }
  return kept;
}

std::vector<int64_t> ChannelGroups::KeptPositions(const ChannelLayout& layout, const Kept& kept) {
  std::vector<int64_t> out;
  int64_t offset = 0;
  for (const ChannelSegment& s : layout.segments) {
    auto emit = [&](int64_t c) {
      for (int64_t j = 0; j < layout.block; ++j) out.push_back((offset + c) * layout.block + j);
    };
    if (s.group < 0) {
      for (int64_t c = 0; c < s.channels; ++c) emit(c);
    } else {
      for (int64_t c : kept[s.group]) emit(c);
    }
    offset += s.channels;
  }
  return out;
}

std::vector<int64_t> ChannelGroups::PositionsOf(const ChannelLayout& layout, int g, int64_t c) {
  std::vector<int64_t> out;
  int64_t offset = 0;
  for (const ChannelSegment& s : layout.segments) {
    if (s.group == g)
      for (int64_t j = 0; j < layout.block; ++j) out.push_back((offset + c) * layout.block + j);
    offset += s.channels;
  }
  return out;
}

int64_t ChannelGroups::SizeOf(const LinearLayerSize& l, const std::vector<int64_t>& kept_counts, bool params) {
  const int64_t per = (params ? 1 : l.positions) * l.kernel, out = l.output.PositionsKept(kept_counts);
  return l.depthwise ? per * out : per * l.input.PositionsKept(kept_counts) / l.groups * out;
}

int64_t ChannelGroups::Size(const std::vector<int64_t>& kept_counts, bool params) const {
  int64_t total = 0;
  for (const LinearLayerSize& l : layers) total += SizeOf(l, kept_counts, params);
  return total;
}

}  // namespace onnxc
