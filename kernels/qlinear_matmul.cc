// Quantized matrix products, with ONNX Runtime's arithmetic:
//   QLinearMatMul, MatMulInteger (ONNX), and com.microsoft's QGemm,
//   MatMulIntegerToFloat, DynamicQuantizeMatMul; DynamicQuantizeLinear.
// Products are integer (int8_gemm.h: exact, or x86 int16 pairs under
// KernelOptions::int8_dot), then requantised with ORT's scale order:
// QLinearMatMul (a_s * b_s[n]) / y_s; QGemm (alpha * a_s) * b_s[n] / y_s, or
// a float output (acc + C) * (alpha * a_s * b_s[n]); MatMulIntegerToFloat
// acc * (a_s * b_s[n]) + bias[n].
#include <cmath>
#include <vector>

#include "kernels/int8_gemm.h"
#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

bool Is8Bit(DataType t) { return t == TP::INT8 || t == TP::UINT8; }

std::vector<int32_t> IntValues(const OpContext& c, int i) {
  if (!c.has(i)) return {0};
  std::vector<int32_t> v;
  for (int64_t j = 0; j < c.input(i).numel(); ++j) v.push_back(static_cast<int32_t>(c.input(i).IntAt(j)));
  return v.empty() ? std::vector<int32_t>{0} : v;
}

std::vector<float> FloatValues(const OpContext& c, int i) {
  std::vector<float> v;
  for (int64_t j = 0; j < c.input(i).numel(); ++j) v.push_back(static_cast<float>(c.input(i).At(j)));
  return v;
}

// A [..., M, K] x B [..., K, N] (or B^T [N, K] when trans_b; A^T when
// trans_a, 2-D only) into int32 [..., M, N], batch dims broadcast.
absl::StatusOr<KTensor> IntegerMatMul(OpContext& c, const KTensor& a, int32_t za, const KTensor& b,
                                      const std::vector<int32_t>& zb, bool trans_a = false, bool trans_b = false) {
  if (!Is8Bit(a.type) || !Is8Bit(b.type)) return c.Error("quantized matmul takes 8-bit inputs");
  KTensor A = a.rank() == 1 ? a.Reshaped({1, a.dims[0]}) : a;
  KTensor B = b.rank() == 1 ? b.Reshaped({b.dims[0], 1}) : b;
  const int64_t ra = A.rank(), rb = B.rank();
  const int64_t m = trans_a ? A.dims[ra - 1] : A.dims[ra - 2], k = trans_a ? A.dims[ra - 2] : A.dims[ra - 1];
  const int64_t kb = trans_b ? B.dims[rb - 1] : B.dims[rb - 2], n = trans_b ? B.dims[rb - 2] : B.dims[rb - 1];
  if (k != kb) return c.Error(absl::StrCat("matmul reduction sizes differ: ", k, " vs ", kb));
  std::vector<int64_t> ba(A.dims.begin(), A.dims.end() - 2), bb(B.dims.begin(), B.dims.end() - 2);
  auto batch = BroadcastShapes(ba, bb);
  if (!batch.ok()) return batch.status();
  int64_t batches = 1;
  for (int64_t d : *batch) batches *= d;
  std::vector<int64_t> sa = BroadcastStrides(ba, *batch), sb = BroadcastStrides(bb, *batch);
  std::vector<int64_t> out_dims = *batch;
  if (a.rank() > 1) out_dims.push_back(m);
  if (b.rank() > 1) out_dims.push_back(n);
  KTensor y = KTensor::Alloc(TP::INT32, out_dims);
  std::vector<uint8_t> arow(static_cast<size_t>(m * k)), bcol(static_cast<size_t>(n * k));
  const uint8_t* pa = A.ptr<uint8_t>();
  const uint8_t* pb = B.ptr<uint8_t>();
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t oa = 0, ob = 0, rem = bi;
    for (int64_t d = static_cast<int64_t>(batch->size()) - 1; d >= 0; --d) {
      int64_t idx = rem % (*batch)[d];
      rem /= (*batch)[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    const uint8_t* am = pa + oa * m * k;
    const uint8_t* bm = pb + ob * k * n;
    const uint8_t* arows = am;
    if (trans_a) {
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j) arow[i * k + j] = am[j * m + i];
      arows = arow.data();
    }
    // One row of K per output column.
    if (trans_b) {
      std::copy(bm, bm + n * k, bcol.begin());
    } else {
      for (int64_t j = 0; j < k; ++j)
        for (int64_t i = 0; i < n; ++i) bcol[i * k + j] = bm[j * n + i];
    }
    Int8Gemm(m, n, k, arows, a.type == TP::INT8, k, za, bcol.data(), b.type == TP::INT8, k, zb,
             y.mut<int32_t>() + bi * m * n, c.options->int8_dot, c.threads);
  }
  return y;
}

template <typename F>
KTensor Requantize(const KTensor& acc, DataType type, int64_t n, F scale_of, const int32_t* bias, int32_t zp) {
  const int32_t qmin = type == TP::INT8 ? -128 : 0, qmax = type == TP::INT8 ? 127 : 255;
  KTensor y = KTensor::Alloc(type, acc.dims);
  const int32_t* a = acc.ptr<int32_t>();
  for (int64_t i = 0, total = acc.numel(); i < total; ++i) {
    int64_t col = i % n;
    int32_t q = RequantizeValue(a[i] + (bias ? bias[col] : 0), scale_of(col), zp, qmin, qmax);
    if (type == TP::INT8) y.mut<int8_t>()[i] = static_cast<int8_t>(q);
    else y.mut<uint8_t>()[i] = static_cast<uint8_t>(q);
  }
  return y;
}

int64_t LastDim(const KTensor& t) { return t.rank() == 0 ? 1 : t.dims.back(); }

absl::Status QLinearMatMulKernel(OpContext& c) {
  auto acc = IntegerMatMul(c, c.input(0), IntValues(c, 2)[0], c.input(3), IntValues(c, 5));
  if (!acc.ok()) return acc.status();
  const float as = static_cast<float>(c.input(1).At(0)), ys = static_cast<float>(c.input(6).At(0));
  std::vector<float> bs = FloatValues(c, 4);
  DataType yt = c.has(7) ? c.input(7).type : TP::UINT8;
  c.out[0] = Requantize(*acc, yt, LastDim(*acc), [&](int64_t n) { return (as * bs[bs.size() == 1 ? 0 : n]) / ys; },
                        nullptr, IntValues(c, 7)[0]);
  return absl::OkStatus();
}

absl::Status MatMulIntegerKernel(OpContext& c) {
  auto acc = IntegerMatMul(c, c.input(0), IntValues(c, 2)[0], c.input(1), IntValues(c, 3));
  if (!acc.ok()) return acc.status();
  c.out[0] = std::move(*acc);
  return absl::OkStatus();
}

// com.microsoft QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C (int32), y_scale, y_zp.
absl::Status QGemmKernel(OpContext& c) {
  const bool ta = c.attr_i("transA", 0) != 0, tb = c.attr_i("transB", 0) != 0;
  const float alpha = c.attr_f("alpha", 1.0f);
  auto acc = IntegerMatMul(c, c.input(0), IntValues(c, 2)[0], c.input(3), IntValues(c, 5), ta, tb);
  if (!acc.ok()) return acc.status();
  const int64_t n = LastDim(*acc), total = acc->numel();
  // C broadcasts over the [M, N] result.
  std::vector<int32_t> bias(static_cast<size_t>(total), 0);
  if (c.has(6)) {
    const KTensor& ct = c.input(6);
    for (int64_t i = 0; i < total; ++i) {
      int64_t row = i / n, col = i % n;
      int64_t idx = ct.numel() == 1 ? 0 : ct.numel() == n ? col : ct.rank() == 2 && ct.dims[1] == 1 ? row : i;
      bias[i] = static_cast<int32_t>(ct.IntAt(idx));
    }
  }
  const float as = static_cast<float>(c.input(1).At(0));
  std::vector<float> bs = FloatValues(c, 4);
  auto bscale = [&](int64_t col) { return bs[bs.size() == 1 ? 0 : col]; };
  if (c.has(7)) {
    const float ys = static_cast<float>(c.input(7).At(0));
    DataType yt = c.has(8) ? c.input(8).type : TP::UINT8;
    const int32_t qmin = yt == TP::INT8 ? -128 : 0, qmax = yt == TP::INT8 ? 127 : 255, zy = IntValues(c, 8)[0];
    KTensor y = KTensor::Alloc(yt, acc->dims);
    for (int64_t i = 0; i < total; ++i) {
      float scale = (alpha * as) * bscale(i % n);
      scale /= ys;
      int32_t q = RequantizeValue(acc->ptr<int32_t>()[i] + bias[i], scale, zy, qmin, qmax);
      if (yt == TP::INT8) y.mut<int8_t>()[i] = static_cast<int8_t>(q);
      else y.mut<uint8_t>()[i] = static_cast<uint8_t>(q);
    }
    c.out[0] = std::move(y);
    return absl::OkStatus();
  }
  KTensor y = KTensor::Alloc(TP::FLOAT, acc->dims);
  for (int64_t i = 0; i < total; ++i)
    y.mut<float>()[i] = static_cast<float>(acc->ptr<int32_t>()[i] + bias[i]) * (alpha * as * bscale(i % n));
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

// y = acc * (a_s * b_s[n]) + bias[n], from int32 accumulators.
KTensor ToFloatOutput(const KTensor& acc, float as, const std::vector<float>& bs, const KTensor* bias) {
  const int64_t n = LastDim(acc);
  KTensor y = KTensor::Alloc(TP::FLOAT, acc.dims);
  for (int64_t i = 0, total = acc.numel(); i < total; ++i) {
    int64_t col = i % n;
    float v = static_cast<float>(acc.ptr<int32_t>()[i]) * (as * bs[bs.size() == 1 ? 0 : col]);
    if (bias) v += static_cast<float>(bias->At(col));
    y.mut<float>()[i] = v;
  }
  return y;
}

// com.microsoft MatMulIntegerToFloat: A, B, a_scale, b_scale, a_zp, b_zp, bias.
absl::Status MatMulIntegerToFloatKernel(OpContext& c) {
  auto acc = IntegerMatMul(c, c.input(0), IntValues(c, 4)[0], c.input(1), IntValues(c, 5));
  if (!acc.ok()) return acc.status();
  c.out[0] = ToFloatOutput(*acc, static_cast<float>(c.input(2).At(0)), FloatValues(c, 3), c.has(6) ? &c.input(6) : nullptr);
  return absl::OkStatus();
}

// ORT's dynamic quantisation of activations to uint8 (core/util/qmath.h).
struct DynamicQuant {
  KTensor q;
  float scale = 1;
  int32_t zp = 0;
};
DynamicQuant QuantizeDynamic(const KTensor& xf) {
  const float* x = xf.ptr<float>();
  float lo = 0, hi = 0;
  for (int64_t i = 0, n = xf.numel(); i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  DynamicQuant d;
  d.scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  d.zp = static_cast<int32_t>(std::nearbyint(std::min(255.0f, std::max(0.0f, 0.0f - lo / d.scale))));
  d.q = KTensor::Alloc(TP::UINT8, xf.dims);
  for (int64_t i = 0, n = xf.numel(); i < n; ++i) {
    float v = std::min(255.0f - d.zp, std::max(0.0f - d.zp, x[i] / d.scale));
    d.q.mut<uint8_t>()[i] = static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(v)) + d.zp);
  }
  return d;
}

absl::Status DynamicQuantizeLinearKernel(OpContext& c) {
  DynamicQuant d = QuantizeDynamic(ToFloat(c.input(0)));
  c.out[0] = std::move(d.q);
  if (c.out.size() > 1) c.out[1] = KTensor::Scalar(TP::FLOAT, d.scale);
  if (c.out.size() > 2) c.out[2] = KTensor::Scalar(TP::UINT8, d.zp);
  return absl::OkStatus();
}

// com.microsoft DynamicQuantizeMatMul: A (float), B, b_scale, b_zp, bias.
absl::Status DynamicQuantizeMatMulKernel(OpContext& c) {
  DynamicQuant d = QuantizeDynamic(ToFloat(c.input(0)));
  auto acc = IntegerMatMul(c, d.q, d.zp, c.input(1), IntValues(c, 3));
  if (!acc.ok()) return acc.status();
  c.out[0] = ToFloatOutput(*acc, d.scale, FloatValues(c, 2), c.has(4) ? &c.input(4) : nullptr);
  return absl::OkStatus();
}

ONNXC_REGISTER_KERNEL("QLinearMatMul", 10, 1000, QLinearMatMulKernel);
ONNXC_REGISTER_KERNEL("MatMulInteger", 10, 1000, MatMulIntegerKernel);
ONNXC_REGISTER_KERNEL("DynamicQuantizeLinear", 11, 1000, DynamicQuantizeLinearKernel);
static const bool kContribRegistered = [] {
  RegisterKernel(MakeDef("com.microsoft", "QGemm", 1, 1000, QGemmKernel));
  RegisterKernel(MakeDef("com.microsoft", "MatMulIntegerToFloat", 1, 1000, MatMulIntegerToFloatKernel));
  RegisterKernel(MakeDef("com.microsoft", "DynamicQuantizeMatMul", 1, 1000, DynamicQuantizeMatMulKernel));
  return true;
}();

}  // namespace
}  // namespace kernels
}  // namespace onnxc
