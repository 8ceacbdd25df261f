#include "passes/decomposition/layer_factorization.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "ir/constants.h"

namespace onnxc {
namespace {

std::vector<int64_t> KnownShape(const Value* v) {
  if (v == nullptr) return {};
  auto s = v->shape();
  if (!s) return {};
  for (int64_t& d : *s)
    if (d <= 0) d = 1;  // a dynamic batch counts as 1
  return *s;
}

bool IsConv(const LinearLayer& l) { return l.kind == LinearLayer::Kind::kConv; }

}  // namespace

absl::StatusOr<FactorizationCost> CostOf(const LinearLayer& l) {
  FactorizationCost c;
  const int64_t n = l.outputs_per_group * l.groups, ch = l.channels_per_group * l.groups;
  std::vector<int64_t> in = KnownShape(l.node->input(0)), out = KnownShape(l.node->output(0));
  if (IsConv(l)) {
    if (in.size() != 4 || out.size() != 4)
      return absl::FailedPreconditionError("input/output shapes unknown (run shape-inference first)");
    const int64_t oh = out[2], ow = out[3], w = in[3];
    c.original = n * ch * l.kernel_h * l.kernel_w * oh * ow;
    c.per_rank = ch * l.kernel_h * oh * w + n * l.kernel_w * oh * ow;
    c.max_rank = std::min(ch * l.kernel_h, n * l.kernel_w);
    return c;
  }
  int64_t rows = 1;
  if (in.empty()) return absl::FailedPreconditionError("input shape unknown (run shape-inference first)");
  for (size_t i = 0; i + 1 < in.size(); ++i) rows *= in[i];
  c.original = rows * n * ch;
  c.per_rank = rows * (n + ch);
  c.max_rank = std::min(n, ch);
  return c;
}

Eigen::MatrixXd Unfold(const LinearLayer& l, const Tensor& weight) {
  std::vector<float> w = weight.ToFloatVector();
  const int64_t n = l.outputs_per_group, c = l.channels_per_group;
  if (IsConv(l)) {
    Eigen::MatrixXd m(c * l.kernel_h, n * l.kernel_w);
    for (int64_t co = 0; co < n; ++co)
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t y = 0; y < l.kernel_h; ++y)
          for (int64_t x = 0; x < l.kernel_w; ++x) m(ci * l.kernel_h + y, co * l.kernel_w + x) = w[l.ElementIndex(0, co, ci, y, x)];
    return m;
  }
  Eigen::MatrixXd m(n, c);
  for (int64_t co = 0; co < n; ++co)
    for (int64_t ci = 0; ci < c; ++ci) m(co, ci) = w[l.ElementIndex(0, co, ci, 0, 0)];
  return m;
}

Factorization Factorize(const LinearLayer& l, const Tensor& weight, const TruncatedSvd& svd, int64_t rank,
                        const Eigen::MatrixXd* h) {
  Factorization f;
  f.rank = rank = std::min<int64_t>(rank, svd.s.size());
  const int64_t n = l.outputs_per_group, c = l.channels_per_group, kh = l.kernel_h, kw = l.kernel_w;
  const double total = svd.s.squaredNorm() + svd.residual;
  f.weight_error = total > 0 ? std::max(0.0, total - svd.s.head(rank).squaredNorm()) / total : 0;
  Eigen::VectorXd root = svd.s.head(rank).cwiseSqrt();
  // P: layer input features -> second-factor input features; B: the second factor as a matrix.
  const int64_t d = l.features(), second_in = IsConv(l) ? kw * rank : rank;
  // P is only needed to refine (it is second_in x d: large for large layers).
  const bool refine = h != nullptr;
  Eigen::MatrixXd p = refine ? Eigen::MatrixXd::Zero(second_in, d) : Eigen::MatrixXd(), b(n, second_in);
  if (IsConv(l)) {
    f.first = Tensor(onnx::TensorProto::FLOAT, {rank, c, kh, 1});
    float* w1 = f.first.mutable_data<float>();
    for (int64_t k = 0; k < rank; ++k)
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t y = 0; y < kh; ++y) {
          double v = svd.u(ci * kh + y, k) * root[k];
          w1[(k * c + ci) * kh + y] = static_cast<float>(v);
          if (refine)
            for (int64_t x = 0; x < kw; ++x) p(x * rank + k, l.Feature(ci, y, x)) = v;
        }
    for (int64_t co = 0; co < n; ++co)
      for (int64_t k = 0; k < rank; ++k)
        for (int64_t x = 0; x < kw; ++x) b(co, x * rank + k) = root[k] * svd.v(co * kw + x, k);
  } else {
    f.first = Tensor(onnx::TensorProto::FLOAT, {c, rank});
    float* a = f.first.mutable_data<float>();
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t k = 0; k < rank; ++k) {
        double v = svd.v(ci, k) * root[k];
        a[ci * rank + k] = static_cast<float>(v);
        if (refine) p(k, l.Feature(ci, 0, 0)) = v;
      }
    for (int64_t co = 0; co < n; ++co)
      for (int64_t k = 0; k < rank; ++k) b(co, k) = root[k] * svd.u(co, k);
  }
  if (refine) {
    Eigen::MatrixXd w = l.ToMatrices(weight)[0];
    Eigen::MatrixXd php = p * (*h) * p.transpose();
    double lambda = 1e-4 * std::max(1e-30, php.diagonal().mean());
    php.diagonal().array() += lambda;
    b = (w * (*h) * p.transpose()) * php.inverse();  // php is second_in x second_in (small)
    Eigen::MatrixXd delta = w - b * p;
    double ref = (w * (*h)).cwiseProduct(w).sum();
    f.layer_error = ref > 0 ? (delta * (*h)).cwiseProduct(delta).sum() / ref : 0;
  }
  if (IsConv(l)) {
    f.second = Tensor(onnx::TensorProto::FLOAT, {n, rank, 1, kw});
    float* w2 = f.second.mutable_data<float>();
    for (int64_t co = 0; co < n; ++co)
      for (int64_t k = 0; k < rank; ++k)
        for (int64_t x = 0; x < kw; ++x) w2[(co * rank + k) * kw + x] = static_cast<float>(b(co, x * rank + k));
  } else if (l.trans_b) {
    f.second = Tensor(onnx::TensorProto::FLOAT, {n, rank});
    float* w2 = f.second.mutable_data<float>();
    for (int64_t co = 0; co < n; ++co)
      for (int64_t k = 0; k < rank; ++k) w2[co * rank + k] = static_cast<float>(b(co, k));
  } else {
    f.second = Tensor(onnx::TensorProto::FLOAT, {rank, n});
    float* w2 = f.second.mutable_data<float>();
    for (int64_t k = 0; k < rank; ++k)
      for (int64_t co = 0; co < n; ++co) w2[k * n + co] = static_cast<float>(b(co, k));
  }
  return f;
}

absl::Status ApplyFactorization(Model& model, const LinearLayer& l, Factorization f) {
  Node* node = l.node;
  Graph& g = *node->graph();
  Value* old = node->input(1);
  const std::string base = l.name();
  Value* w1 = AddConstant(model, g, base + "_factor1", std::move(f.first));
  Value* w2 = AddConstant(model, g, base + "_factor2", std::move(f.second));
  Node* first = g.CreateNode(IsConv(l) ? "Conv" : "MatMul", {node->input(0), w1}, 1, node, base + "_factor1");
  if (IsConv(l)) {
    first->SetAttr(Attribute::Ints("kernel_shape", {l.kernel_h, 1}));
    first->SetAttr(Attribute::Ints("strides", {l.stride_h, 1}));
    first->SetAttr(Attribute::Ints("pads", {l.pad_top, 0, l.pad_bottom, 0}));
    first->SetAttr(Attribute::Ints("dilations", {l.dil_h, 1}));
    node->SetAttr(Attribute::Ints("kernel_shape", {1, l.kernel_w}));
    node->SetAttr(Attribute::Ints("strides", {1, l.stride_w}));
    node->SetAttr(Attribute::Ints("pads", {0, l.pad_left, 0, l.pad_right}));
    node->SetAttr(Attribute::Ints("dilations", {1, l.dil_w}));
  }
  node->SetInput(0, first->output(0));
  node->SetInput(1, w2);
  if (!old->IsUsed()) {
    if (old->has_initializer()) RemoveIfUnusedConstant(g, old);
    else if (old->producer() != nullptr) g.EraseNode(old->producer());
  }
  return absl::OkStatus();
}

}  // namespace onnxc
