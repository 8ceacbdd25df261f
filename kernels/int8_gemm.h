// Integer matrix products the way the runtimes compute them, for the
// QLinearConv / QLinearMatMul / QGemm / ConvInteger / MatMulInteger kernels
// and the output check that emulates a deployment target.
//
//   C[m][n] = sum_k (A[m][k] - za) * (B[n][k] - zb[n])          (exact)
//
// With Int8Dot::kX86Int16Pairs and uint8 A x int8 B, the raw bytes are
// multiplied in pairs of reduction indices (2j, 2j+1), each pair's sum
// saturated to int16 (what vpmaddubsw does on x86 without VNNI), and the
// zero points corrected afterwards from exact sums, as ONNX Runtime's MLAS
// kernels do:
//   C = sum_j sat16(A[2j] B[2j] + A[2j+1] B[2j+1]) - zb sum_k A - za sum_k B + K za zb
// Every other type combination is exact in every mode (MLAS widens u8 x u8
// and s8 x s8 operands).
#ifndef ONNXC_KERNELS_INT8_GEMM_H_
#define ONNXC_KERNELS_INT8_GEMM_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/kernel_options.h"

namespace onnxc {
namespace kernels {

// A: M rows of K bytes (row stride lda); B: N rows of K bytes, one per
// output column, in reduction order (row stride ldb). Signedness per operand.
// zb has one value per column (or one for all). C: M x N int32, row-major.
void Int8Gemm(int64_t m, int64_t n, int64_t k, const void* a, bool a_signed, int64_t lda, int32_t za,
              const void* b, bool b_signed, int64_t ldb, const std::vector<int32_t>& zb, int32_t* c,
              KernelOptions::Int8Dot mode, int threads);

// ONNX Runtime's requantisation of an int32 accumulator to 8 bits:
// f = (float)(acc + bias) * scale; clamped to [qmin - zp, qmax - zp];
// rounded half to even; + zp.
inline int32_t RequantizeValue(int32_t acc, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  float f = static_cast<float>(acc) * scale;
  f = std::min(std::max(f, static_cast<float>(qmin - zp)), static_cast<float>(qmax - zp));
  return static_cast<int32_t>(std::nearbyint(f)) + zp;
}

}  // namespace kernels
}  // namespace onnxc

#endif  // ONNXC_KERNELS_INT8_GEMM_H_
