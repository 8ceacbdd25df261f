#include "analysis/layer_statistics/linear_layer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/constants.h"

namespace onnxc {
namespace {

int64_t RoundUp(int64_t x, int64_t m) { return m <= 1 ? x : (x + m - 1) / m * m; }

// Pads of one spatial axis for auto_pad SAME_UPPER / SAME_LOWER.
void SamePads(int64_t in, int64_t k, int64_t stride, int64_t dil, bool upper, int64_t* begin, int64_t* end) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>(0, (out - 1) * stride + (k - 1) * dil + 1 - in);
  *begin = upper ? total / 2 : total - total / 2;
  *end = total - *begin;
}

}  // namespace

std::string LinearLayer::name() const {
  if (!node->name().empty()) return node->name();
  return node->num_outputs() > 0 && node->output(0) ? node->output(0)->name() : node->op_type();
}

int64_t LinearLayer::ElementIndex(int64_t g, int64_t k, int64_t c, int64_t r, int64_t s) const {
  const int64_t kk = kernel_h * kernel_w;
  switch (kind) {
    case Kind::kConv: return ((g * outputs_per_group + k) * channels_per_group + c) * kk + r * kernel_w + s;
    case Kind::kConvTranspose: return ((g * channels_per_group + c) * outputs_per_group + k) * kk + r * kernel_w + s;
    case Kind::kGemm: return trans_b ? k * channels_per_group + c : c * outputs_per_group + k;
    case Kind::kMatMul: return c * outputs_per_group + k;
  }
  return 0;
}

std::vector<Eigen::MatrixXd> LinearLayer::ToMatrices(const Tensor& weight) const {
  std::vector<float> w = weight.ToFloatVector();
  std::vector<Eigen::MatrixXd> m(groups, Eigen::MatrixXd::Zero(outputs_per_group, features()));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t k = 0; k < outputs_per_group; ++k)
      for (int64_t c = 0; c < channels_per_group; ++c)
        for (int64_t r = 0; r < kernel_h; ++r)
          for (int64_t s = 0; s < kernel_w; ++s) {
            const int64_t at = ElementIndex(g, k, c, r, s);
            m[g](k, Feature(c, r, s)) = w[at];
          }
  return m;
}

void LinearLayer::FromMatrices(const std::vector<Eigen::MatrixXd>& m, Tensor* weight) const {
  Tensor t(onnx::TensorProto::FLOAT, weight_dims);
  float* w = t.mutable_data<float>();
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t k = 0; k < outputs_per_group; ++k)
      for (int64_t c = 0; c < channels_per_group; ++c)
        for (int64_t r = 0; r < kernel_h; ++r)
          for (int64_t s = 0; s < kernel_w; ++s) {
            const int64_t at = ElementIndex(g, k, c, r, s);
            w[at] = static_cast<float>(m[g](k, Feature(c, r, s)));
          }
  t.set_doc_string(weight->doc_string());
  *weight = std::move(t);
}

absl::Status LinearLayer::ForEachInputRows(const TensorView& input, int64_t block_rows,
                                           const std::function<void(int64_t, const RowBlock&)>& rows) const {
  if (input.type != onnx::TensorProto::FLOAT)
    return absl::InvalidArgumentError(absl::StrCat(name(), ": input is not float"));
  const float* x = static_cast<const float*>(input.data);
  const int64_t d = features();
  if (kind == Kind::kGemm || kind == Kind::kMatMul) {
    const bool trans_a = kind == Kind::kGemm && node->GetInt("transA", 0) != 0;
    if (input.dims.empty() || input.dims.back() == 0) return absl::OkStatus();
    int64_t k = trans_a ? input.dims[0] : input.dims.back();
    if (k != channels_per_group)
      return absl::InvalidArgumentError(absl::StrCat(name(), ": input has ", k, " features, the weight ", channels_per_group));
    int64_t m = input.num_elements() / k;
    RowBlock X(std::min(block_rows, m), d);
    for (int64_t i0 = 0; i0 < m; i0 += block_rows) {
      int64_t n = std::min(block_rows, m - i0);
      if (X.rows() != n) X.resize(n, d);
      X.setZero();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < k; ++c) X(i, c) = trans_a ? x[c * m + i0 + i] : x[(i0 + i) * k + c];
      rows(0, X);
    }
    return absl::OkStatus();
  }
  if (kind != Kind::kConv) return absl::UnimplementedError(absl::StrCat(name(), ": no input patches for ", node->op_type()));
  const size_t rank = input.dims.size();
  if (rank != (conv1d ? 3u : 4u))
    return absl::InvalidArgumentError(absl::StrCat(name(), ": conv input of rank ", rank));
  const int64_t N = input.dims[0], C = input.dims[1];
  const int64_t H = conv1d ? 1 : input.dims[2], W = input.dims[rank - 1];
  if (C != groups * channels_per_group)
    return absl::InvalidArgumentError(absl::StrCat(name(), ": input has ", C, " channels, the weight reads ",
                                                   groups * channels_per_group));
  int64_t pt = pad_top, pb = pad_bottom, pl = pad_left, pr = pad_right;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    bool upper = auto_pad == "SAME_UPPER";
    SamePads(H, kernel_h, stride_h, dil_h, upper, &pt, &pb);
    SamePads(W, kernel_w, stride_w, dil_w, upper, &pl, &pr);
    if (conv1d) pt = pb = 0;
  } else if (auto_pad == "VALID") {
    pt = pb = pl = pr = 0;
  }
  const int64_t OH = (H + pt + pb - dil_h * (kernel_h - 1) - 1) / stride_h + 1;
  const int64_t OW = (W + pl + pr - dil_w * (kernel_w - 1) - 1) / stride_w + 1;
  if (OH <= 0 || OW <= 0) return absl::OkStatus();
  const int64_t positions = N * OH * OW;
  RowBlock X;
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t p0 = 0; p0 < positions; p0 += block_rows) {
      int64_t n = std::min(block_rows, positions - p0);
      X.setZero(n, d);
      for (int64_t i = 0; i < n; ++i) {
        int64_t p = p0 + i, ow = p % OW, oh = (p / OW) % OH, b = p / (OW * OH);
        for (int64_t r = 0; r < kernel_h; ++r) {
          int64_t ih = oh * stride_h - pt + r * dil_h;
          if (ih < 0 || ih >= H) continue;
          for (int64_t s = 0; s < kernel_w; ++s) {
            int64_t iw = ow * stride_w - pl + s * dil_w;
            if (iw < 0 || iw >= W) continue;
            const float* src = x + ((b * C + g * channels_per_group) * H + ih) * W + iw;
            float* dst = &X(i, Feature(0, r, s));
            for (int64_t c = 0; c < channels_per_group; ++c) dst[c] = src[c * H * W];
          }
        }
      }
      rows(g, X);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> LinearLayer::ReadWeight(const Model& model) const {
  if (!dequantized) {
    std::optional<Tensor> w = GetConstant(model, weight);
    if (!w) return absl::InternalError(absl::StrCat(name(), ": the weight is no longer a constant"));
    return *std::move(w);
  }
  // y = (q - zero_point) * scale, per tensor or along `axis`.
  Node* dq = weight->producer();
  std::optional<Tensor> q = GetConstant(model, dq->input(0)), scale = GetConstant(model, dq->input(1));
  std::optional<Tensor> zp = dq->input(2) ? GetConstant(model, dq->input(2)) : std::nullopt;
  if (!q || !scale) return absl::InternalError(absl::StrCat(name(), ": DequantizeLinear inputs are not constants"));
  std::vector<float> qv = q->ToFloatVector(), sv = scale->ToFloatVector();
  std::vector<float> zv = zp ? zp->ToFloatVector() : std::vector<float>(sv.size(), 0.0f);
  int64_t axis = dq->GetInt("axis", 1);
  if (axis < 0) axis += q->rank();
  int64_t inner = 1;
  for (int64_t i = axis + 1; i < q->rank(); ++i) inner *= q->dims()[i];
  Tensor out(onnx::TensorProto::FLOAT, q->dims());
  float* o = out.mutable_data<float>();
  for (size_t i = 0; i < qv.size(); ++i) {
    size_t c = sv.size() == 1 ? 0 : (i / inner) % sv.size();
    o[i] = (qv[i] - zv[c]) * sv[c];
  }
  return out;
}

absl::StatusOr<LinearLayer> DescribeLinearLayer(const Model& model, Node* node, int64_t channel_pad,
                                                bool through_dequantize) {
  LinearLayer l;
  l.node = node;
  const std::string& op = node->op_type();
  if (!node->domain().empty() && node->domain() != "ai.onnx") return absl::InvalidArgumentError("not an ONNX op");
  if (op == "Conv") l.kind = LinearLayer::Kind::kConv;
  else if (op == "ConvTranspose") l.kind = LinearLayer::Kind::kConvTranspose;
  else if (op == "Gemm") l.kind = LinearLayer::Kind::kGemm;
  else if (op == "MatMul") l.kind = LinearLayer::Kind::kMatMul;
  else return absl::InvalidArgumentError(absl::StrCat(op, " is not a linear layer"));
  l.weight = node->input(1);
  std::optional<Tensor> w = l.weight ? GetConstant(model, l.weight) : std::nullopt;
  Node* dq = l.weight ? l.weight->producer() : nullptr;
  if (!w && through_dequantize && dq != nullptr && dq->IsOp("DequantizeLinear")) {
    w = GetConstant(model, dq->input(0));
    l.dequantized = w.has_value();
  }
  if (!w) return absl::InvalidArgumentError("the weight is not a constant");
  if (w->type() != onnx::TensorProto::FLOAT && !l.dequantized)
    return absl::InvalidArgumentError(absl::StrCat("the weight is ", DataTypeName(w->type()), ", not float"));
  l.weight_dims = w->dims();
  const auto& d = l.weight_dims;
  if (l.kind == LinearLayer::Kind::kGemm || l.kind == LinearLayer::Kind::kMatMul) {
    if (d.size() != 2) return absl::InvalidArgumentError(absl::StrCat("weight of rank ", d.size(), " (batched weights)"));
    l.trans_b = l.kind == LinearLayer::Kind::kGemm && node->GetInt("transB", 0) != 0;
    l.channels_per_group = l.trans_b ? d[1] : d[0];
    l.outputs_per_group = l.trans_b ? d[0] : d[1];
    if (l.kind == LinearLayer::Kind::kGemm && node->GetInt("transA", 0) != 0)
      return absl::InvalidArgumentError("Gemm with transA");
  } else {
    if (d.size() != 3 && d.size() != 4)
      return absl::InvalidArgumentError(absl::StrCat(d.size() - 2, "-D convolution"));
    l.conv1d = d.size() == 3;
    l.groups = node->GetInt("group", 1);
    if (l.groups < 1) return absl::InvalidArgumentError("group < 1");
    l.kernel_h = l.conv1d ? 1 : d[2];
    l.kernel_w = d.back();
    if (l.kind == LinearLayer::Kind::kConv) {
      if (d[0] % l.groups != 0) return absl::InvalidArgumentError("output channels not divisible by group");
      l.outputs_per_group = d[0] / l.groups;
      l.channels_per_group = d[1];
    } else {
      if (d[0] % l.groups != 0) return absl::InvalidArgumentError("input channels not divisible by group");
      l.channels_per_group = d[0] / l.groups;
      l.outputs_per_group = d[1];
    }
    std::vector<int64_t> strides = node->GetInts("strides"), dil = node->GetInts("dilations"),
                         pads = node->GetInts("pads");
    size_t nd = d.size() - 2;
    auto at = [](const std::vector<int64_t>& v, size_t i, int64_t def) { return i < v.size() ? v[i] : def; };
    if (l.conv1d) {
      l.stride_w = at(strides, 0, 1);
      l.dil_w = at(dil, 0, 1);
      l.pad_left = at(pads, 0, 0);
      l.pad_right = at(pads, 1, 0);
    } else {
      l.stride_h = at(strides, 0, 1), l.stride_w = at(strides, 1, 1);
      l.dil_h = at(dil, 0, 1), l.dil_w = at(dil, 1, 1);
      l.pad_top = at(pads, 0, 0), l.pad_left = at(pads, 1, 0);
      l.pad_bottom = at(pads, nd, 0), l.pad_right = at(pads, nd + 1, 0);
    }
    l.auto_pad = node->GetString("auto_pad", "NOTSET");
  }
  l.padded_channels = RoundUp(l.channels_per_group, channel_pad);
  return l;
}

std::vector<LinearLayerCandidate> FindLinearLayers(const Model& model, int64_t channel_pad,
                                                   bool through_dequantize) {
  std::vector<LinearLayerCandidate> out;
  for (Node* n : model.graph().NodeSnapshot()) {
    const std::string& op = n->op_type();
    if (op != "Conv" && op != "ConvTranspose" && op != "Gemm" && op != "MatMul") continue;
    out.push_back({n, DescribeLinearLayer(model, n, channel_pad, through_dequantize)});
  }
  return out;
}

}  // namespace onnxc
