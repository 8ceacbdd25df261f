#include "passes/pruning/channel_pruning.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "ir/constants.h"

namespace onnxc {
namespace {

// Points input `i` of `n` at a new constant `t`; the old one goes once unused.
void ReplaceConstantInput(Model& model, Node* n, int i, Tensor t, const std::string& base) {
  Graph& g = *n->graph();
  Value* old = n->input(i);
  n->SetInput(i, AddConstant(model, g, old ? old->name() : base, std::move(t)));
  if (old == nullptr || old->IsUsed()) return;
  if (old->has_initializer()) RemoveIfUnusedConstant(g, old);
  else if (old->producer() != nullptr && old->producer()->IsOp("Constant")) g.EraseNode(old->producer());
}

absl::Status SliceInput(Model& model, Node* n, int i, int64_t axis, const std::vector<int64_t>& positions) {
  std::optional<Tensor> t = n->input(i) ? GetConstant(model, n->input(i)) : std::nullopt;
  if (!t) return absl::InternalError(absl::StrCat(n->Describe(), ": input ", i, " is no longer a constant"));
  if (axis >= t->rank()) return absl::InternalError(absl::StrCat(n->Describe(), ": input ", i, " has no axis ", axis));
  ReplaceConstantInput(model, n, i, SliceAlongAxis(*t, axis, positions), "");
  return absl::OkStatus();
}

std::string NameOf(const Node* n) { return n->name().empty() ? n->output(0)->name() : n->name(); }

}  // namespace

Tensor SliceAlongAxis(const Tensor& t, int64_t axis, const std::vector<int64_t>& positions) {
  std::vector<int64_t> dims = t.dims();
  int64_t outer = 1, inner = ElementSize(t.type());
  for (int64_t i = 0; i < axis; ++i) outer *= dims[i];
  for (int64_t i = axis + 1; i < t.rank(); ++i) inner *= dims[i];
  const int64_t along = dims[axis];
  dims[axis] = static_cast<int64_t>(positions.size());
  Tensor out(t.type(), dims);
  const char* src = t.raw();
  char* dst = out.mutable_raw();
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < positions.size(); ++k)
      std::memcpy(dst + (o * positions.size() + k) * inner, src + (o * along + positions[k]) * inner, inner);
  return out;
}

absl::Status ApplyChannelPruning(Model& model, const ChannelGroups& groups, const ChannelGroups::Kept& kept) {
  for (const ChannelEdit& e : groups.edits) {
    std::vector<int64_t> pos = ChannelGroups::KeptPositions(e.layout, kept);
    const int64_t before = e.layout.positions();
    if (static_cast<int64_t>(pos.size()) == before) continue;
    Node* n = e.node;
    absl::Status s = SliceInput(model, n, e.input, e.axis, pos);
    if (!s.ok()) return s;
    const bool has_bias = n->num_inputs() > 2 && n->input(2) != nullptr;
    if (e.kind == ChannelEdit::Kind::kDepthwise) {
      n->SetAttr(Attribute::Int("group", static_cast<int64_t>(pos.size())));
      if (has_bias) s = SliceInput(model, n, 2, 0, pos);
    } else if (e.kind == ChannelEdit::Kind::kProducerWeight && has_bias) {
      std::optional<Tensor> c = GetConstant(model, n->input(2));
      if (!c) return absl::InternalError(absl::StrCat(n->Describe(), ": the bias is no longer a constant"));
      // A Gemm's C broadcasts: slice it only where it runs along the outputs.
      if (c->num_elements() > 1 && c->dims().back() == before) s = SliceInput(model, n, 2, c->rank() - 1, pos);
    }
    if (!s.ok()) return s;
  }
  // The tensors in between keep their types with the new channel count.
  for (const auto& [v, layout] : groups.layouts) {
    const int64_t now = static_cast<int64_t>(ChannelGroups::KeptPositions(layout, kept).size());
    if (now == layout.positions() || !v->has_type() || !v->type()->tensor_type().has_shape()) continue;
    onnx::TypeProto t = *v->type();
    auto* shape = t.mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() < 2) continue;
    shape->mutable_dim(1)->clear_dim_param();
    shape->mutable_dim(1)->set_dim_value(now);
    const_cast<Value*>(v)->set_type(std::move(t));
  }
  return absl::OkStatus();
}

absl::StatusOr<LayerWeights> ReadLayerWeights(const Model& model, const LinearLayer& l) {
  if (l.groups != 1) return absl::InvalidArgumentError(absl::StrCat(l.name(), ": grouped layers are not refit"));
  auto w = l.ReadWeight(model);
  if (!w.ok()) return w.status();
  LayerWeights out;
  out.w = l.ToMatrices(*w)[0];
  const int64_t n = out.w.rows();
  out.b = Eigen::VectorXd::Zero(n);
  Node* node = l.node;
  const bool gemm = l.kind == LinearLayer::Kind::kGemm;
  if (gemm) out.w *= node->GetFloat("alpha", 1.0f);
  if (l.kind == LinearLayer::Kind::kMatMul) return out;
  out.has_bias = true;
  if (node->num_inputs() < 3 || node->input(2) == nullptr) return out;
  std::optional<Tensor> c = GetConstant(model, node->input(2));
  if (!c) return absl::InvalidArgumentError(absl::StrCat(l.name(), ": the bias is not a constant"));
  std::vector<float> v = c->ToFloatVector();
  const double beta = gemm ? node->GetFloat("beta", 1.0f) : 1.0;
  if (v.size() == 1) {
    out.b.setConstant(beta * v[0]);
  } else if (static_cast<int64_t>(v.size()) == n) {
    for (int64_t k = 0; k < n; ++k) out.b[k] = beta * v[k];
  } else {
    out.has_bias = false;  // a C that varies by row: left as it is, outside the fit
  }
  return out;
}

LayerWeights SelectOutputs(const LayerWeights& weights, const std::vector<int64_t>& rows) {
  LayerWeights out;
  out.has_bias = weights.has_bias;
  out.w.resize(static_cast<int64_t>(rows.size()), weights.w.cols());
  out.b.resize(static_cast<int64_t>(rows.size()));
  for (size_t k = 0; k < rows.size(); ++k) {
    out.w.row(k) = weights.w.row(rows[k]);
    out.b[k] = weights.b[rows[k]];
  }
  return out;
}

absl::Status WriteLayerWeights(Model& model, const LinearLayer& l, const LayerWeights& weights) {
  auto w = l.ReadWeight(model);
  if (!w.ok()) return w.status();
  Tensor t(onnx::TensorProto::FLOAT, w->dims());
  const bool gemm = l.kind == LinearLayer::Kind::kGemm;
  const double alpha = gemm ? l.node->GetFloat("alpha", 1.0f) : 1.0;
  l.FromMatrices({weights.w / (alpha == 0 ? 1.0 : alpha)}, &t);
  ReplaceConstantInput(model, l.node, 1, std::move(t), "");
  if (!weights.has_bias) return absl::OkStatus();
  Tensor b(onnx::TensorProto::FLOAT, {static_cast<int64_t>(weights.b.size())});
  for (int64_t k = 0; k < weights.b.size(); ++k) b.mutable_data<float>()[k] = static_cast<float>(weights.b[k]);
  if (gemm) l.node->SetAttr(Attribute::Float("beta", 1.0f));
  const bool had = l.node->num_inputs() > 2 && l.node->input(2) != nullptr;
  if (had) {
    ReplaceConstantInput(model, l.node, 2, std::move(b), "");
  } else {
    l.node->SetInput(2, AddConstant(model, *l.node->graph(), NameOf(l.node) + "_bias", std::move(b)));
  }
  return absl::OkStatus();
}

Refit RefitFromPairedGram(const PairedGram& g, const LayerWeights& reference, const LayerWeights& current,
                          double ridge) {
  const int64_t d = g.own.rows() - 1, d0 = g.ref.rows() - 1, n = reference.w.rows();
  Eigen::MatrixXd ref_wb(n, d0 + 1);
  ref_wb << reference.w, reference.b;
  auto error = [&](const Eigen::MatrixXd& w, const Eigen::VectorXd& b) {
    Eigen::MatrixXd wb(n, d + 1);
    wb << w, b;
    const double energy = (ref_wb * g.ref).cwiseProduct(ref_wb).sum();
    const double e = (wb * g.own).cwiseProduct(wb).sum() - 2 * (wb * g.cross).cwiseProduct(ref_wb).sum() + energy;
    return energy > 0 ? std::max(0.0, e) / energy : 0.0;
  };
  Refit r;
  r.error_before = error(current.w, current.b);
  const int64_t m = current.has_bias ? d + 1 : d;
  Eigen::MatrixXd a = g.own.topLeftCorner(m, m);
  const double lambda = ridge * std::max(1e-30, a.diagonal().head(d).mean());
  a.diagonal().head(d).array() += lambda;
  Eigen::MatrixXd rhs = g.cross.topRows(m) * ref_wb.transpose();  // m x n
  rhs.topRows(d) += lambda * current.w.transpose();
  Eigen::MatrixXd x = a.ldlt().solve(rhs);
  r.weights.w = x.topRows(d).transpose();
  r.weights.b = current.has_bias ? Eigen::VectorXd(x.row(d).transpose()) : Eigen::VectorXd::Zero(n);
  r.weights.has_bias = current.has_bias;
  r.error_after = error(r.weights.w, r.weights.b);
  return r;
}

namespace {

// Feature of channel c at position j of the layer's per-channel features
// (Conv: kernel position; Gemm/MatMul reading C x block features: j < block).
int64_t ChannelFeature(const LinearLayer& l, int64_t c, int64_t j, int64_t block) {
  if (l.kind == LinearLayer::Kind::kConv) return l.Feature(c, j / l.kernel_w, j % l.kernel_w);
  return l.Feature(c * block + j, 0, 0);
}
int64_t PositionsPerChannel(const LinearLayer& l, int64_t block) {
  return l.kind == LinearLayer::Kind::kConv ? l.kernel_h * l.kernel_w : block;
}
int64_t ChannelsOf(const LinearLayer& l, int64_t block) {
  return l.kind == LinearLayer::Kind::kConv ? l.channels_per_group : l.channels_per_group / block;
}

// W' (current features) = the original weights applied to predicted channels:
// per position j, W'_j = W0_j A^T with A (current channels x reference channels).
Eigen::MatrixXd ApplyChannelMap(const LinearLayer& ref_layer, const Eigen::MatrixXd& w0, const LinearLayer& cur_layer,
                                const Eigen::MatrixXd& a, int64_t block, Eigen::VectorXd* bias, const Eigen::VectorXd* constant_row) {
  const int64_t c0 = ChannelsOf(ref_layer, block), c1 = ChannelsOf(cur_layer, block);
  const int64_t jn = PositionsPerChannel(ref_layer, block);
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(w0.rows(), cur_layer.features());
  Eigen::MatrixXd w0j(w0.rows(), c0);
  for (int64_t j = 0; j < jn; ++j) {
    for (int64_t c = 0; c < c0; ++c) w0j.col(c) = w0.col(ChannelFeature(ref_layer, c, j, block));
    Eigen::MatrixXd wj = w0j * a.transpose();  // n x c1
    for (int64_t c = 0; c < c1; ++c) out.col(ChannelFeature(cur_layer, c, j, block)) = wj.col(c);
    if (bias != nullptr && constant_row != nullptr) *bias += w0j * (*constant_row);
  }
  return out;
}

}  // namespace

Refit RefitChannelsFromPairedGram(const PairedGram& g, const LinearLayer& reference_layer,
                                  const LayerWeights& reference, const LinearLayer& current_layer,
                                  const LayerWeights& current, const std::vector<int64_t>& kept_channels,
                                  int64_t block, double ridge) {
  const int64_t c1 = g.own.rows() - 1, c0 = g.ref.rows() - 1;
  // Error of predicting the reference channels [X0] by [X 1] a (a: (c1+1) x c0).
  const double energy = g.ref.topLeftCorner(c0, c0).trace();
  auto error = [&](const Eigen::MatrixXd& a) {
    const double e = (a.transpose() * g.own * a).trace() - 2 * (a.transpose() * g.cross.leftCols(c0)).trace() + energy;
    return energy > 0 ? std::max(0.0, e) / energy : 0.0;
  };
  Refit r;
  Eigen::MatrixXd select = Eigen::MatrixXd::Zero(c1 + 1, c0);
  for (int64_t c = 0; c < c1 && c < static_cast<int64_t>(kept_channels.size()); ++c) select(c, kept_channels[c]) = 1;
  r.error_before = error(select);
  const int64_t m = current.has_bias ? c1 + 1 : c1;
  Eigen::MatrixXd a = g.own.topLeftCorner(m, m);
  const double lambda = ridge * std::max(1e-30, a.diagonal().head(c1).mean());
  a.diagonal().head(c1).array() += lambda;
  Eigen::MatrixXd rhs = g.cross.topLeftCorner(m, c0);
  rhs.topRows(c1) += lambda * select.topRows(c1);  // toward plain pruning, as the direct refit
  Eigen::MatrixXd map = Eigen::MatrixXd::Zero(c1 + 1, c0);
  map.topRows(m) = a.ldlt().solve(rhs);
  r.error_after = error(map);
  r.weights.has_bias = current.has_bias;
  r.weights.b = reference.b;
  Eigen::VectorXd constant = map.row(c1).transpose();
  r.weights.w = ApplyChannelMap(reference_layer, reference.w, current_layer, map.topRows(c1), block,
                                current.has_bias ? &r.weights.b : nullptr, &constant);
  return r;
}

Eigen::MatrixXd RefitChannelsFromGram(const Eigen::MatrixXd& h, const LinearLayer& reference_layer,
                                      const Eigen::MatrixXd& w, const LinearLayer& pruned_layer,
                                      const std::vector<int64_t>& kept_channels, int64_t block, double ridge) {
  const int64_t c0 = ChannelsOf(reference_layer, block), jn = PositionsPerChannel(reference_layer, block);
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(c0, c0);
  for (int64_t j = 0; j < jn; ++j)
    for (int64_t a = 0; a < c0; ++a)
      for (int64_t b = 0; b < c0; ++b)
        gram(a, b) += h(ChannelFeature(reference_layer, a, j, block), ChannelFeature(reference_layer, b, j, block));
  const int64_t k = static_cast<int64_t>(kept_channels.size());
  Eigen::MatrixXd gs(k, k), gx(k, c0), select = Eigen::MatrixXd::Zero(k, c0);
  for (int64_t i = 0; i < k; ++i) {
    gx.row(i) = gram.row(kept_channels[i]);
    select(i, kept_channels[i]) = 1;
    for (int64_t j = 0; j < k; ++j) gs(i, j) = gram(kept_channels[i], kept_channels[j]);
  }
  const double lambda = ridge * std::max(1e-30, gs.diagonal().mean());
  gs.diagonal().array() += lambda;
  Eigen::MatrixXd map = gs.ldlt().solve(gx + lambda * select);
  return ApplyChannelMap(reference_layer, w, pruned_layer, map, block, nullptr, nullptr);
}

Eigen::MatrixXd RefitFromGram(const Eigen::MatrixXd& w, const Eigen::MatrixXd& h,
                              const std::vector<int64_t>& original_feature, double ridge) {
  std::vector<int64_t> s, at;
  for (size_t j = 0; j < original_feature.size(); ++j)
    if (original_feature[j] >= 0) s.push_back(original_feature[j]), at.push_back(static_cast<int64_t>(j));
  const int64_t k = static_cast<int64_t>(s.size());
  Eigen::MatrixXd hs(k, k), hx(h.rows(), k);
  for (int64_t j = 0; j < k; ++j) {
    hx.col(j) = h.col(s[j]);
    for (int64_t i = 0; i < k; ++i) hs(i, j) = h(s[i], s[j]);
  }
  const double lambda = ridge * std::max(1e-30, hs.diagonal().mean());
  hs.diagonal().array() += lambda;
  Eigen::MatrixXd fit = hs.ldlt().solve(hx.transpose() * w.transpose()).transpose();  // n x k
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(w.rows(), static_cast<int64_t>(original_feature.size()));
  for (int64_t j = 0; j < k; ++j) out.col(at[j]) = fit.col(j);
  return out;
}

std::vector<int64_t> OriginalFeatures(const LinearLayer& original, const LinearLayer& pruned,
                                      const std::vector<int64_t>& kept_inputs) {
  std::vector<int64_t> out(pruned.features(), -1);
  for (int64_t r = 0; r < pruned.kernel_h; ++r)
    for (int64_t s = 0; s < pruned.kernel_w; ++s)
      for (int64_t c = 0; c < pruned.channels_per_group && c < static_cast<int64_t>(kept_inputs.size()); ++c)
        out[pruned.Feature(c, r, s)] = original.Feature(kept_inputs[c], r, s);
  return out;
}

}  // namespace onnxc
