// com.microsoft MatMulNBits: A [..., K] times B, a [K, N] weight stored
// transposed and blocked along K in `bits`-bit codes (packed low bits first),
// with a scale per (column, block) and optional packed zero points (default
// 2^(bits-1)) and bias. The weight is dequantized to float and multiplied in
// float, which is ONNX Runtime's accuracy_level 0 (the default).
#include <vector>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

// Code `i` of a bit-packed byte array (low bits first).
int32_t Code(const uint8_t* p, int64_t i, int64_t bits) {
  const int64_t bit = i * bits;
  uint32_t word = p[bit / 8];
  if ((bit % 8) + bits > 8) word |= static_cast<uint32_t>(p[bit / 8 + 1]) << 8;
  return static_cast<int32_t>((word >> (bit % 8)) & ((1u << bits) - 1));
}

absl::Status MatMulNBitsKernel(OpContext& c) {
  const int64_t K = c.attr_i("K", 0), N = c.attr_i("N", 0), bits = c.attr_i("bits", 4);
  const int64_t block = c.attr_i("block_size", 0);
  if (K <= 0 || N <= 0 || block <= 0 || bits < 2 || bits > 8) return c.Error("MatMulNBits needs K, N, bits, block_size");
  if (c.has(5)) return c.Error("MatMulNBits with g_idx is not supported");
  KTensor a = ToFloat(c.input(0));
  const KTensor& b = c.input(1);
  KTensor scales = ToFloat(c.input(2));
  if (a.rank() < 1 || a.dims.back() != K) return c.Error("A's last dimension is not K");
  const int64_t blocks = (K + block - 1) / block, blob = block * bits / 8;
  if (b.type != TP::UINT8 || b.numel() != N * blocks * blob) return c.Error("B is not uint8 [N, blocks, blob]");
  if (scales.numel() != N * blocks) return c.Error("scales are not [N * blocks]");
  const uint8_t* codes = b.ptr<uint8_t>();
  const float* sc = scales.ptr<float>();
  const bool has_zp = c.has(3);
  const bool float_zp = has_zp && c.input(3).type != TP::UINT8;
  KTensor zpf = float_zp ? ToFloat(c.input(3)) : KTensor();
  const int64_t zp_row = (blocks * bits + 7) / 8;
  std::vector<float> w(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      float zp = static_cast<float>(1 << (bits - 1));
      if (float_zp) zp = zpf.ptr<float>()[n * blocks + blk];
      else if (has_zp) zp = static_cast<float>(Code(c.input(3).ptr<uint8_t>() + n * zp_row, blk, bits));
      const float s = sc[n * blocks + blk];
      const uint8_t* p = codes + (n * blocks + blk) * blob;
      for (int64_t i = 0; i < block && blk * block + i < K; ++i)
        w[n * K + blk * block + i] = (static_cast<float>(Code(p, i, bits)) - zp) * s;
    }
  const int64_t m = a.numel() / K;
  std::vector<int64_t> dims = a.dims;
  dims.back() = N;
  KTensor y = KTensor::Alloc(TP::FLOAT, dims);
  Sgemm(false, true, m, N, K, 1.0f, a.ptr<float>(), K, w.data(), K, 0.0f, y.mut<float>(), N);
  if (c.has(6)) {
    KTensor bias = ToFloat(c.input(6));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t n = 0; n < N; ++n) y.mut<float>()[i * N + n] += bias.ptr<float>()[n];
  }
  c.out[0] = c.input(0).type == TP::FLOAT ? std::move(y) : CastTo(y, c.input(0).type);
  return absl::OkStatus();
}

static const bool kRegistered = RegisterKernel(MakeDef("com.microsoft", "MatMulNBits", 1, 1000, MatMulNBitsKernel));

}  // namespace
}  // namespace kernels
}  // namespace onnxc
