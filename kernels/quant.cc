// QuantizeLinear / DequantizeLinear, per tensor or per axis; int8/uint8 and
// int16/uint16 (also com.microsoft's, the 16-bit Q/DQ before opset 21), and
// int32 for DequantizeLinear. Rounding is half-to-even, saturating.
#include <algorithm>
#include <cmath>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

// The element layout as blocks: `outer` x `channels` runs of `inner`
// contiguous elements, each run with one scale (channels = 1 per tensor).
struct ChannelBlocks {
  int64_t outer = 1, channels = 1, inner = 0;
};

absl::StatusOr<ChannelBlocks> Blocks(const OpContext& c, const KTensor& x, const KTensor& scale) {
  ChannelBlocks b;
  b.inner = x.numel();
  if (scale.numel() == 1) return b;
  const int64_t axis = NormAxis(c.attr_i("axis", 1), x.rank());
  if (axis < 0 || axis >= x.rank() || x.dims[axis] != scale.numel())
    return c.Error("per-axis scale length does not match the axis");
  b.channels = x.dims[axis];
  b.inner = 1;
  for (int64_t d = axis + 1; d < x.rank(); ++d) b.inner *= x.dims[d];
  for (int64_t d = 0; d < axis; ++d) b.outer *= x.dims[d];
  return b;
}

double ZeroPointOf(const KTensor& zp, int64_t channel) {
  return zp.valid() ? zp.At(zp.numel() == 1 ? 0 : channel) : 0.0;
}

// y = saturate(round_half_even(x / scale) + zero point), one run at a time
// (a plain loop the compiler vectorises, instead of a type switch per element).
template <typename Q>
void QuantizeRuns(const float* x, const float* scale, const KTensor& zp, const ChannelBlocks& b, float lo, float hi,
                  Q* y) {
  for (int64_t o = 0; o < b.outer; ++o)
    for (int64_t ch = 0; ch < b.channels; ++ch) {
      const float s = scale[ch], z = static_cast<float>(ZeroPointOf(zp, ch));
      const int64_t at = (o * b.channels + ch) * b.inner;
      // Locals and __restrict: Q may be a char type, which may alias
      // anything, and the loop would otherwise reload its bound after every
      // store, unvectorised.
      const float* __restrict xp = x + at;
      Q* __restrict yp = y + at;
      const int64_t n = b.inner;
      for (int64_t i = 0; i < n; ++i) {
        float q = std::rint(xp[i] / s) + z;  // rint = nearbyint (same mode, half to even) but inlined as roundps
        q = std::min(hi, std::max(lo, q));
        yp[i] = static_cast<Q>(q);
      }
    }
}

// y = (x - zero point) * scale, in double as the definition reads (exact for
// int32 biases too), rounded once to float.
template <typename T>
void DequantizeRuns(const T* x, const float* scale, const KTensor& zp, const ChannelBlocks& b, float* y) {
  for (int64_t o = 0; o < b.outer; ++o)
    for (int64_t ch = 0; ch < b.channels; ++ch) {
      const double s = scale[ch], z = ZeroPointOf(zp, ch);
      const int64_t at = (o * b.channels + ch) * b.inner;
      const T* __restrict xp = x + at;
      float* __restrict yp = y + at;
      const int64_t n = b.inner;
      for (int64_t i = 0; i < n; ++i) yp[i] = static_cast<float>((static_cast<double>(xp[i]) - z) * s);
    }
}

absl::Status QuantizeKernel(OpContext& c) {
  KTensor x = ToFloat(c.input(0));
  KTensor scale = ToFloat(c.input(1));
  DataType out_type = TP::UINT8;
  KTensor zp;
  if (c.has(2)) {
    zp = c.input(2);
    out_type = zp.type;
  }
  auto b = Blocks(c, x, scale);
  if (!b.ok()) return b.status();
  KTensor y = KTensor::Alloc(out_type, x.dims);
  const float* px = x.ptr<float>();
  const float* ps = scale.ptr<float>();
  switch (out_type) {
    case TP::UINT8: QuantizeRuns(px, ps, zp, *b, 0.f, 255.f, y.mut<uint8_t>()); break;
    case TP::INT8: QuantizeRuns(px, ps, zp, *b, -128.f, 127.f, y.mut<int8_t>()); break;
    case TP::UINT16: QuantizeRuns(px, ps, zp, *b, 0.f, 65535.f, y.mut<uint16_t>()); break;
    case TP::INT16: QuantizeRuns(px, ps, zp, *b, -32768.f, 32767.f, y.mut<int16_t>()); break;
    default: return c.Error(absl::StrCat("QuantizeLinear to ", DataTypeName(out_type), " is not supported"));
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status DequantizeKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  KTensor scale = ToFloat(c.input(1));
  KTensor zp;
  if (c.has(2)) zp = c.input(2);
  auto b = Blocks(c, x, scale);
  if (!b.ok()) return b.status();
  KTensor y = KTensor::Alloc(TP::FLOAT, x.dims);
  const float* ps = scale.ptr<float>();
  float* py = y.mut<float>();
  switch (x.type) {
    case TP::UINT8: DequantizeRuns(x.ptr<uint8_t>(), ps, zp, *b, py); break;
    case TP::INT8: DequantizeRuns(x.ptr<int8_t>(), ps, zp, *b, py); break;
    case TP::UINT16: DequantizeRuns(x.ptr<uint16_t>(), ps, zp, *b, py); break;
    case TP::INT16: DequantizeRuns(x.ptr<int16_t>(), ps, zp, *b, py); break;
    case TP::INT32: DequantizeRuns(x.ptr<int32_t>(), ps, zp, *b, py); break;
    default: {
      // Other inputs (float ones, which some exporters feed it) through the generic reader.
      KTensor xf = ToFloat(x);
      DequantizeRuns(xf.ptr<float>(), ps, zp, *b, py);
    }
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

bool QuantType(DataType t) {
  return t == TP::UNDEFINED || t == TP::UINT8 || t == TP::INT8 || t == TP::UINT16 || t == TP::INT16 || t == TP::INT32;
}

bool QuantSupported(const Node& n, int) {
  if (n.input(2) != nullptr) {
    DataType t = n.input(2)->elem_type();
    if (!QuantType(t)) return false;
  }
  if (n.input(0) != nullptr && n.op_type() == "DequantizeLinear" && !QuantType(n.input(0)->elem_type())) return false;
  return true;
}

ONNXC_REGISTER_KERNEL("QuantizeLinear", 10, 1000, QuantizeKernel, QuantSupported);
ONNXC_REGISTER_KERNEL("DequantizeLinear", 10, 1000, DequantizeKernel, QuantSupported);
static const bool kContribRegistered = [] {
  RegisterKernel(MakeDef("com.microsoft", "QuantizeLinear", 1, 1000, QuantizeKernel, QuantSupported));
  RegisterKernel(MakeDef("com.microsoft", "DequantizeLinear", 1, 1000, DequantizeKernel, QuantSupported));
  return true;
}();

}  // namespace
}  // namespace kernels
}  // namespace onnxc
