// com.microsoft's quantized element-wise ops, pooling and concat, with the
// arithmetic of ONNX Runtime's x86 kernels:
//   QLinearAdd   t = fma(a, rA, fma(b, rB, zC - (rA zA + rB zB))), rA = sA/sC
//                (a scalar operand is folded into the constant first)
//   QLinearMul   (float)((a - zA)(b - zB)) * (sA sB / sC) + zC
//   QLinearSigmoid, QLinearLeakyRelu   256-entry lookup tables
//   QLinearAveragePool   float sums of dequantised values, then
//                nearbyint(y / y_scale + y_zp)
//   QLinearGlobalAveragePool   exact int32 sums, requantised with
//                x_scale / (y_scale * N)
//   QLinearConcat   copies inputs with the output's parameters, maps the
//                others through a lookup table
// Rounding is half to even and results saturate, as in ORT.
#include <cmath>
#include <vector>

#include "kernels/int8_gemm.h"
#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

int32_t ZeroPoint(const OpContext& c, int i) { return c.has(i) ? static_cast<int32_t>(c.input(i).IntAt(0)) : 0; }
float Scale(const OpContext& c, int i) { return static_cast<float>(c.input(i).At(0)); }
DataType QType(const OpContext& c, int zp_input) { return c.has(zp_input) ? c.input(zp_input).type : TP::UINT8; }
int32_t QMin(DataType t) { return t == TP::INT8 ? -128 : 0; }
int32_t QMax(DataType t) { return t == TP::INT8 ? 127 : 255; }

int32_t Element(const KTensor& t, int64_t i) {
  return t.type == TP::INT8 ? t.ptr<int8_t>()[i] : t.ptr<uint8_t>()[i];
}
void Store(KTensor* t, int64_t i, int32_t v) {
  v = std::min(QMax(t->type), std::max(QMin(t->type), v));
  if (t->type == TP::INT8) t->mut<int8_t>()[i] = static_cast<int8_t>(v);
  else t->mut<uint8_t>()[i] = static_cast<uint8_t>(v);
}

// MLAS's QuantizeLinear: divide, clamp to [qmin - zp, qmax - zp], round, + zp.
int32_t QuantizeFloat(float x, float scale, int32_t zp, DataType t) {
  float v = std::min(static_cast<float>(QMax(t) - zp), std::max(static_cast<float>(QMin(t) - zp), x / scale));
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

// Iterates the numpy broadcast of a and b, calling f(i, ia, ib) per output
// element with the elements of a and b it reads.
template <typename F>
absl::Status ForEachBroadcast(const KTensor& a, const KTensor& b, std::vector<int64_t>* out, F f) {
  auto dims = BroadcastShapes(a.dims, b.dims);
  if (!dims.ok()) return dims.status();
  *out = *dims;
  std::vector<int64_t> sa = BroadcastStrides(a.dims, *dims), sb = BroadcastStrides(b.dims, *dims);
  int64_t total = 1;
  for (int64_t d : *dims) total *= d;
  const int64_t r = static_cast<int64_t>(dims->size());
  std::vector<int64_t> idx(r, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(i, ia, ib);
    for (int64_t d = r - 1; d >= 0; --d) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < (*dims)[d]) break;
      ia -= sa[d] * idx[d];
      ib -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status QLinearAddKernel(OpContext& c) {
  const KTensor &a = c.input(0), &b = c.input(3);
  const float sa = Scale(c, 1), sb = Scale(c, 4), sc = Scale(c, 6);
  const int32_t za = ZeroPoint(c, 2), zb = ZeroPoint(c, 5), zc = ZeroPoint(c, 7);
  const float ra = sa / sc, rb = sb / sc;
  const float fixed = static_cast<float>(zc) - std::fma(ra, static_cast<float>(za), rb * static_cast<float>(zb));
  std::vector<int64_t> dims;
  auto odims = BroadcastShapes(a.dims, b.dims);
  if (!odims.ok()) return odims.status();
  KTensor y = KTensor::Alloc(QType(c, 7), *odims);
  // ORT folds an operand that is constant along the innermost run into the
  // constant (a separate multiply and add), the other goes through the FMAs.
  const bool b_scalar = b.numel() == 1 || (b.rank() > 0 && b.dims.back() == 1 && odims->back() != 1);
  const bool a_scalar = !b_scalar && (a.numel() == 1 || (a.rank() > 0 && a.dims.back() == 1 && odims->back() != 1));
  absl::Status st = ForEachBroadcast(a, b, &dims, [&](int64_t i, int64_t ia, int64_t ib) {
    const float fa = static_cast<float>(Element(a, ia)), fb = static_cast<float>(Element(b, ib));
    float t;
    if (b_scalar) t = std::fma(fa, ra, fixed + fb * rb);
    else if (a_scalar) t = std::fma(fb, rb, fixed + fa * ra);
    else t = std::fma(fa, ra, std::fma(fb, rb, fixed));
    Store(&y, i, static_cast<int32_t>(std::nearbyint(t)));
  });
  if (!st.ok()) return st;
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status QLinearMulKernel(OpContext& c) {
  const KTensor &a = c.input(0), &b = c.input(3);
  const float ratio = Scale(c, 1) * Scale(c, 4) / Scale(c, 6);
  const int32_t za = ZeroPoint(c, 2), zb = ZeroPoint(c, 5), zc = ZeroPoint(c, 7);
  std::vector<int64_t> dims;
  auto odims = BroadcastShapes(a.dims, b.dims);
  if (!odims.ok()) return odims.status();
  KTensor y = KTensor::Alloc(QType(c, 7), *odims);
  absl::Status st = ForEachBroadcast(a, b, &dims, [&](int64_t i, int64_t ia, int64_t ib) {
    int32_t p = (Element(a, ia) - za) * (Element(b, ib) - zb);
    Store(&y, i, static_cast<int32_t>(std::nearbyint(static_cast<float>(p) * ratio + static_cast<float>(zc))));
  });
  if (!st.ok()) return st;
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

// X, X_scale, X_zp, Y_scale, Y_zp through a 256-entry table of f.
template <typename F>
absl::Status LookupKernel(OpContext& c, F f) {
  const KTensor& x = c.input(0);
  const float sx = Scale(c, 1), sy = Scale(c, 3);
  const int32_t zx = ZeroPoint(c, 2), zy = ZeroPoint(c, 4);
  const DataType yt = QType(c, 4);
  int32_t table[256];
  for (int i = 0; i < 256; ++i) {
    int32_t q = x.type == TP::INT8 ? static_cast<int8_t>(i) : i;
    table[i] = QuantizeFloat(f(sx * static_cast<float>(q - zx)), sy, zy, yt);
  }
  KTensor y = KTensor::Alloc(yt, x.dims);
  const uint8_t* px = x.ptr<uint8_t>();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) Store(&y, i, table[px[i]]);
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status QLinearSigmoidKernel(OpContext& c) {
  return LookupKernel(c, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
}

absl::Status QLinearLeakyReluKernel(OpContext& c) {
  const float alpha = c.attr_f("alpha", 0.01f);
  return LookupKernel(c, [alpha](float v) { return v >= 0 ? v : alpha * v; });
}

// Y_scale, Y_zp, then (X, X_scale, X_zp) per input; attribute axis.
absl::Status QLinearConcatKernel(OpContext& c) {
  const float sy = Scale(c, 0);
  const int32_t zy = ZeroPoint(c, 1);
  const DataType yt = QType(c, 1);
  const int ninputs = (c.num_inputs() - 2) / 3;
  if (ninputs < 1) return c.Error("QLinearConcat needs inputs");
  const KTensor& first = c.input(2);
  const int64_t axis = NormAxis(c.attr_i("axis", 0), first.rank());
  std::vector<int64_t> dims = first.dims;
  dims[axis] = 0;
  for (int j = 0; j < ninputs; ++j) dims[axis] += c.input(2 + 3 * j).dims[axis];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= dims[d];
  for (int64_t d = axis + 1; d < first.rank(); ++d) inner *= dims[d];
  KTensor y = KTensor::Alloc(yt, dims);
  int64_t offset = 0;
  for (int j = 0; j < ninputs; ++j) {
    const KTensor& x = c.input(2 + 3 * j);
    const float sx = Scale(c, 3 + 3 * j);
    const int32_t zx = ZeroPoint(c, 4 + 3 * j);
    int32_t table[256];
    for (int i = 0; i < 256; ++i) {
      int32_t q = x.type == TP::INT8 ? static_cast<int8_t>(i) : i;
      table[i] = sx == sy && zx == zy ? q : QuantizeFloat(sx * static_cast<float>(q - zx), sy, zy, yt);
    }
    const int64_t len = x.dims[axis] * inner;
    const uint8_t* px = x.ptr<uint8_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < len; ++i) Store(&y, o * dims[axis] * inner + offset * inner + i, table[px[o * len + i]]);
    offset += x.dims[axis];
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

// X, x_scale, x_zp, y_scale, y_zp; AveragePool's attributes.
absl::Status QLinearAveragePoolKernel(OpContext& c) {
  if (c.attr_i("channels_last", 0) != 0) return c.Error("channels_last QLinearAveragePool is not supported");
  const KTensor& x = c.input(0);
  const float sx = Scale(c, 1), sy = Scale(c, 3);
  const int32_t zx = ZeroPoint(c, 2), zy = ZeroPoint(c, 4);
  KTensor xf = KTensor::Alloc(TP::FLOAT, x.dims);
  for (int64_t i = 0, n = x.numel(); i < n; ++i) xf.mut<float>()[i] = static_cast<float>(Element(x, i) - zx) * sx;
  const KernelDef* pool = FindKernel("", "AveragePool", c.opset);
  if (pool == nullptr) return c.Error("no AveragePool kernel");
  OpContext pc{c.node, c.opset, {&xf}, {}, c.threads, c.sub, c.options};
  pc.out.resize(1);
  absl::Status st = pool->fn(pc);
  if (!st.ok()) return st;
  const KTensor& yf = pc.out[0];
  const DataType yt = QType(c, 4);
  KTensor y = KTensor::Alloc(yt, yf.dims);
  for (int64_t i = 0, n = yf.numel(); i < n; ++i)
    Store(&y, i, static_cast<int32_t>(std::nearbyint(yf.ptr<float>()[i] / sy + static_cast<float>(zy))));
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status QLinearGlobalAveragePoolKernel(OpContext& c) {
  if (c.attr_i("channels_last", 0) != 0) return c.Error("channels_last QLinearGlobalAveragePool is not supported");
  const KTensor& x = c.input(0);
  if (x.rank() < 3) return c.Error("QLinearGlobalAveragePool needs rank >= 3");
  const int32_t zx = ZeroPoint(c, 2), zy = ZeroPoint(c, 4);
  const int64_t planes = x.dims[0] * x.dims[1], size = x.numel() / std::max<int64_t>(1, planes);
  const float scale = Scale(c, 1) / (Scale(c, 3) * static_cast<float>(size));
  std::vector<int64_t> od = {x.dims[0], x.dims[1]};
  for (int64_t d = 2; d < x.rank(); ++d) od.push_back(1);
  const DataType yt = QType(c, 4);
  KTensor y = KTensor::Alloc(yt, od);
  for (int64_t p = 0; p < planes; ++p) {
    int32_t sum = 0;
    for (int64_t i = 0; i < size; ++i) sum += Element(x, p * size + i);
    Store(&y, p, RequantizeValue(sum - zx * static_cast<int32_t>(size), scale, zy, QMin(yt), QMax(yt)));
  }
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

static const bool kRegistered = [] {
  for (auto [op, fn] : std::vector<std::pair<const char*, KernelFn>>{
           {"QLinearAdd", QLinearAddKernel},
           {"QLinearMul", QLinearMulKernel},
           {"QLinearSigmoid", QLinearSigmoidKernel},
           {"QLinearLeakyRelu", QLinearLeakyReluKernel},
           {"QLinearConcat", QLinearConcatKernel},
           {"QLinearAveragePool", QLinearAveragePoolKernel},
           {"QLinearGlobalAveragePool", QLinearGlobalAveragePoolKernel}})
    RegisterKernel(MakeDef("com.microsoft", op, 1, 1000, fn));
  return true;
}();

}  // namespace
}  // namespace kernels
}  // namespace onnxc
