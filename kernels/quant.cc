// QuantizeLinear / DequantizeLinear, per tensor or per axis; int8/uint8 and
// int16/uint16 (also com.microsoft's, the 16-bit Q/DQ before opset 21), and
// int32 for DequantizeLinear. Rounding is half-to-even, saturating.
#include <cmath>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

// Calls f(i, channel) for every element; channel is 0 when per-tensor.
template <typename F>
absl::Status ForEachChannel(const OpContext& c, const KTensor& x, const KTensor& scale, F f) {
  int64_t n = x.numel();
  if (scale.numel() == 1) {
    for (int64_t i = 0; i < n; ++i) f(i, 0);
    return absl::OkStatus();
  }
  int64_t axis = NormAxis(c.attr_i("axis", 1), x.rank());
  if (axis < 0 || axis >= x.rank() || x.dims[axis] != scale.numel()) {
    return c.Error("per-axis scale length does not match the axis");
  }
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dims[d];
  int64_t ch = x.dims[axis];
  for (int64_t i = 0; i < n; ++i) f(i, (i / inner) % ch);
  return absl::OkStatus();
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
  int lo, hi;
  switch (out_type) {
    case TP::UINT8: lo = 0, hi = 255; break;
    case TP::INT8: lo = -128, hi = 127; break;
    case TP::UINT16: lo = 0, hi = 65535; break;
    case TP::INT16: lo = -32768, hi = 32767; break;
    default: return c.Error(absl::StrCat("QuantizeLinear to ", DataTypeName(out_type), " is not supported"));
  }
  KTensor y = KTensor::Alloc(out_type, x.dims);
  const float* px = x.ptr<float>();
  const float* ps = scale.ptr<float>();
  return ForEachChannel(c, x, scale, [&](int64_t i, int64_t ch) {
    float z = zp.valid() ? static_cast<float>(zp.At(zp.numel() == 1 ? 0 : ch)) : 0.f;
    float q = std::nearbyint(px[i] / ps[ch]) + z;
    q = std::min<float>(hi, std::max<float>(lo, q));
    switch (out_type) {
      case TP::UINT8: y.mut<uint8_t>()[i] = static_cast<uint8_t>(q); break;
      case TP::INT8: y.mut<int8_t>()[i] = static_cast<int8_t>(q); break;
      case TP::UINT16: y.mut<uint16_t>()[i] = static_cast<uint16_t>(q); break;
      default: y.mut<int16_t>()[i] = static_cast<int16_t>(q); break;
    }
  }).ok() ? (c.out[0] = std::move(y), absl::OkStatus())
          : c.Error("per-axis scale length does not match the axis");
}

absl::Status DequantizeKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  KTensor scale = ToFloat(c.input(1));
  KTensor zp;
  if (c.has(2)) zp = c.input(2);
  KTensor y = KTensor::Alloc(TP::FLOAT, x.dims);
  const float* ps = scale.ptr<float>();
  float* py = y.mut<float>();
  absl::Status st = ForEachChannel(c, x, scale, [&](int64_t i, int64_t ch) {
    double z = zp.valid() ? zp.At(zp.numel() == 1 ? 0 : ch) : 0.0;
    py[i] = static_cast<float>((x.At(i) - z) * ps[ch]);
  });
  if (!st.ok()) return st;
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
