// Int8 weights that cannot saturate ONNX Runtime's u8 x s8 kernels on x86
// CPUs without VNNI.
//
// There (AVX2, and AVX-512 without VNNI) the GEMM behind QLinearConv,
// QLinearMatMul and QGemm multiplies raw uint8 activation bytes (0..255) by
// int8 weights with vpmaddubsw, which adds the products of reduction indices
// 2j and 2j+1 into a saturating int16. Two same-sign weights whose
// magnitudes sum to more than 128 can overflow it (255 x 129 > 32767);
// opposite signs never can (255 x 127 < 32767). ONNX Runtime reads each
// output channel's weights in this reduction order:
//   Conv (M, C/g, kh, kw): per group, k = (kh * KW + kw) * (C/g) + ci
//     (channels fastest); depthwise convs (C/g = M/g = 1) run exact kernels;
//   Gemm: B's reduction axis (transB aware); MatMul: B's second-to-last axis.
// A pair-safe weight keeps every same-sign pair at |q1| + |q2| <= 128, with
// the per-channel scale chosen (a small search) for the least squared
// weight error under that constraint: usually a fraction of a bit below the
// full [-127, 127] range, where ONNX Runtime's own answer, reduce_range,
// gives up a whole bit.
#ifndef ONNXC_PASSES_QUANTIZATION_PAIR_SAFE_WEIGHTS_H_
#define ONNXC_PASSES_QUANTIZATION_PAIR_SAFE_WEIGHTS_H_

#include <cstdint>
#include <optional>

#include "ir/node.h"
#include "ir/tensor.h"
#include "passes/quantization/quant_params.h"

namespace onnxc {

// Where the weights of one scale channel sit in ONNX Runtime's reduction
// order: `columns` GEMM columns (e.g. one per group member of a per-tensor
// scale, or per batch of a batched MatMul) of `k` weights each.
struct ReductionLayout {
  int64_t channels = 0;  // scale channels (1 when per tensor)
  int64_t columns = 0;   // GEMM columns per scale channel
  int64_t k = 0;         // reduction length of each column
  // Flat index into the weight of element `i` of column `col` of `channel`.
  int64_t (*index)(const ReductionLayout&, int64_t channel, int64_t col, int64_t i) = nullptr;
  // Shape facts the index function uses.
  int64_t a = 0, b = 0, c = 0, d = 0;

  int64_t Index(int64_t channel, int64_t col, int64_t i) const { return index(*this, channel, col, i); }
};

// The layout of `w` read by `consumer` (Conv, Gemm, MatMul) with scales
// along `axis` (-1: per tensor); nullopt when ONNX Runtime computes it
// without pairing (depthwise Conv, ConvTranspose, other ops).
std::optional<ReductionLayout> OrtReductionLayout(const Node& consumer, const Tensor& w, int axis);

// Symmetric int8 quantization of `w` in which no pair of `layout` can
// saturate (see above).
QuantizedWeight QuantizeWeightPairSafe(const Tensor& w, const ReductionLayout& layout, int axis);

// Pairs of an int8 weight whose same-sign magnitudes sum to more than 128:
// 0 for a pair-safe weight.
int64_t CountSaturablePairs(const Tensor& q, const ReductionLayout& layout);
// Makes an int8 weight pair-safe again after its codes were changed (by
// AdaRound): in each saturable pair the larger magnitude gives up the
// excess. Returns the pairs changed.
int64_t ClampSaturablePairs(Tensor* q, const ReductionLayout& layout);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_PAIR_SAFE_WEIGHTS_H_
