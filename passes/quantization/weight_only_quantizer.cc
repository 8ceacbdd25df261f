// Weight-only blocked quantization into com.microsoft.MatMulNBits.
//
// ONNX MatMul computes A[.., K] x B[K, N]. MatMulNBits takes B transposed and
// packed: uint8 [N, ceil(K / block), block * bits / 8], codes packed low bits
// first along K, scales [N * blocks] in A's type, zero points packed the same
// way (omitted when symmetric: the default zero point is 2^(bits-1)).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/constants.h"
#include "ir/rewrite.h"
#include "passes/quantization/block_quantizer.h"
#include "passes/quantization/quant_params.h"
#include "passes/quantization/weight_quantizers.h"

namespace onnxc {
namespace {

struct Packed {
  Tensor codes;   // uint8 [N, blocks, blob]
  Tensor scales;  // float [N * blocks]
  Tensor zero_points;  // uint8 packed [N * ceil(blocks * bits / 8)], empty when symmetric
  double max_error = 0;
};

// The weight as outputs x inputs: `w` is [K, N] (transposed = false) or [N, K].
Eigen::MatrixXd AsMatrix(const Tensor& w, bool transposed) {
  std::vector<float> v = w.ToFloatVector();
  const int64_t K = transposed ? w.dims()[1] : w.dims()[0], N = transposed ? w.dims()[0] : w.dims()[1];
  Eigen::MatrixXd m(N, K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) m(n, k) = transposed ? v[n * K + k] : v[k * N + n];
  return m;
}

Packed Pack(const BlockCodes& c, int bits, int block, bool symmetric) {
  const int64_t N = c.rows, K = c.cols, blocks = c.blocks, blob = block * bits / 8;
  Packed p;
  p.codes = Tensor(onnx::TensorProto::UINT8, {N, blocks, blob});
  p.scales = Tensor(onnx::TensorProto::FLOAT, {N * blocks});
  int64_t zp_per_row = (blocks * bits + 7) / 8;
  if (!symmetric) p.zero_points = Tensor(onnx::TensorProto::UINT8, {N * zp_per_row});
  uint8_t* codes = p.codes.mutable_data<uint8_t>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t b = 0; b < blocks; ++b) {
      const int zp = c.zero_points[n * blocks + b];
      p.scales.mutable_data<float>()[n * blocks + b] = c.scales[n * blocks + b];
      if (!symmetric) {
        int64_t bit = b * bits;
        p.zero_points.mutable_data<uint8_t>()[n * zp_per_row + bit / 8] |= static_cast<uint8_t>(zp << (bit % 8));
      }
      for (int64_t k = b * block; k < (b + 1) * block; ++k) {
        int q = k < K ? c.codes[n * K + k] : zp;  // padding past K dequantizes to 0
        int64_t bit = (k - b * block) * bits;
        codes[(n * blocks + b) * blob + bit / 8] |= static_cast<uint8_t>(q << (bit % 8));
      }
    }
  p.max_error = c.max_error;
  return p;
}

}  // namespace

absl::StatusOr<QuantizeReport> QuantizeWeightOnly(Model& model, const QuantizationSettings& settings,
                                                  const QuantizeOptions& options, const LayerGramLookup& layer_gram) {
  QuantizeReport report;
  const QuantizationConfig& config = settings.config();
  const int bits = config.scheme() == QuantizationConfig::W4A16 ? 4 : 8;
  const int block = config.block_size();
  Graph& g = model.graph();
  absl::flat_hash_map<std::string, std::string> keep(options.keep_float.begin(), options.keep_float.end());
  auto ids = StableNodeIds(g);
  for (auto& [cn, id] : ids) {
    Node* n = const_cast<Node*>(cn);
    bool matmul = n->IsOp("MatMul"), gemm = n->IsOp("Gemm");
    if (!matmul && !gemm) continue;
    if (options.only && !options.only->contains(id)) continue;
    NodeSettings s = settings.For(*n);
    std::string why = s.skip ? s.skip_reason : keep.contains(id) ? keep[id] : "";
    std::optional<Tensor> w = GetConstant(model, n->input(1));
    if (why.empty() && (!w || w->rank() != 2 || w->type() != onnx::TensorProto::FLOAT)) why = "weight is not a constant 2-D float tensor";
    if (why.empty() && gemm && (n->GetInt("transA", 0) != 0 || n->GetFloat("alpha", 1.0f) != 1.0f))
      why = "Gemm with transA or alpha";
    std::optional<Tensor> bias;
    if (why.empty() && gemm && n->input(2) != nullptr) {
      bias = GetConstant(model, n->input(2));
      int64_t N = n->GetInt("transB", 0) ? w->dims()[0] : w->dims()[1];
      if (!bias || bias->num_elements() != N || bias->type() != onnx::TensorProto::FLOAT ||
          n->GetFloat("beta", 1.0f) != 1.0f)
        why = "Gemm bias is not a constant [N] vector with beta 1";
    }
    if (!why.empty()) {
      report.record.add_skipped(absl::StrCat(id, " (", why, ")"));
      continue;
    }
    bool transposed = gemm && n->GetInt("transB", 0) != 0;
    const int64_t K = transposed ? w->dims()[1] : w->dims()[0], N = transposed ? w->dims()[0] : w->dims()[1];
    BlockFormat format{bits, block, s.weight.symmetric()};
    Eigen::MatrixXd matrix = AsMatrix(*w, transposed);
    BlockCodes codes_chosen;
    const LayerGram* h = layer_gram ? layer_gram(n) : nullptr;
    std::optional<AwqCodes> awq;
    if (h != nullptr && config.weight_method() == QuantizationConfig::AWQ) {
      awq = QuantizeBlocksAwq(matrix, h->gram[0].topLeftCorner(K, K), h->rows, format);
      codes_chosen = awq->codes;
    } else if (h != nullptr) {
      auto gptq = QuantizeBlocksGptq(matrix, h->gram[0].topLeftCorner(K, K), format);
      if (!gptq.ok()) return absl::Status(gptq.status().code(), absl::StrCat(id, ": ", gptq.status().message()));
      codes_chosen = std::move(*gptq);
    } else {
      codes_chosen = QuantizeBlocksRtn(matrix, format);
    }
    Packed p = Pack(codes_chosen, bits, block, s.weight.symmetric());
    std::string base = n->name().empty() ? n->op_type() : n->name();
    Value* codes = g.AddInitializer(g.FreshName(base + "_B_q" + std::to_string(bits)), std::move(p.codes));
    Value* scales = g.AddInitializer(g.FreshName(base + "_B_scales"), std::move(p.scales));
    Value* activation = n->input(0);
    if (awq) {
      // The input divided by AWQ's per-channel scales (the weight was multiplied by them).
      Tensor inverse(onnx::TensorProto::FLOAT, {K});
      for (int64_t k = 0; k < K; ++k) inverse.mutable_data<float>()[k] = static_cast<float>(1.0 / awq->input_scale[k]);
      Value* inv = g.AddInitializer(g.FreshName(base + "_awq_inverse_scale"), std::move(inverse));
      Node* mul = g.CreateNodeWithOutputs("Mul", {activation, inv}, {g.FreshName(base + "_awq_scaled_input")}, n,
                                          g.FreshName(base + "_awq_scale"));
      activation = mul->output(0);
    }
    std::vector<Value*> inputs = {activation, codes, scales};
    if (!s.weight.symmetric()) inputs.push_back(g.AddInitializer(g.FreshName(base + "_B_zero_points"), std::move(p.zero_points)));
    if (bias) {
      while (inputs.size() < 5) inputs.push_back(nullptr);  // zero_points, g_idx omitted
      inputs.push_back(n->input(2));
    }
    Node* q = g.CreateNodeWithOutputs("MatMulNBits", inputs, {g.FreshName(base + "_MatMulNBits_out")}, n,
                                      g.FreshName(base + "_MatMulNBits"), "com.microsoft");
    q->SetAttr(Attribute::Int("K", K));
    q->SetAttr(Attribute::Int("N", N));
    q->SetAttr(Attribute::Int("bits", bits));
    q->SetAttr(Attribute::Int("block_size", block));
    Value* old_w = n->input(1);
    Value* old_b = gemm ? n->input(2) : nullptr;
    const std::string weight_name = old_w->name();
    if (!BypassNode(g, n, q->output(0))) {
      g.EraseNode(q);
      report.record.add_skipped(absl::StrCat(id, " (its output name could not be kept)"));
      continue;
    }
    RemoveIfUnusedConstant(g, old_w);
    RemoveIfUnusedConstant(g, old_b);
    auto* layer = report.record.add_layer();
    layer->set_node(id);
    layer->set_op_type(matmul ? "MatMul" : "Gemm");
    layer->mutable_weight()->set_name(weight_name);
    layer->mutable_weight()->set_type(bits == 4 ? (s.weight.symmetric() ? INT4 : UINT4) : INT8);
    std::string how = !h ? "" : awq ? absl::StrFormat(" by AWQ (alpha %.2f: output error %.3g of RTN's)", awq->alpha,
                                                          awq->error_rtn > 0 ? awq->error_awq / awq->error_rtn : 1.0)
                                    : " by GPTQ";
    report.notes.push_back(absl::StrCat(id, ": ", K, "x", N, " -> ", bits, "-bit blocks of ", block, how,
                                        ", max weight error ", p.max_error));
    ++report.quantized_nodes;
  }
  if (report.quantized_nodes > 0 && model.OpsetVersion("com.microsoft") < 1) model.SetOpsetVersion("com.microsoft", 1);
  report.notes.insert(report.notes.begin(), absl::StrCat(report.quantized_nodes, " MatMul/Gemm weights -> ", bits,
                                                         "-bit MatMulNBits (block ", block, "), ",
                                                         report.record.skipped_size(), " kept in float"));
  return report;
}

}  // namespace onnxc
