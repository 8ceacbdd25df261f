#include "passes/quantization/quant_params.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace onnxc {

QuantLimits LimitsOf(QuantType type, bool symmetric) {
  switch (type) {
    case INT8: return symmetric ? QuantLimits{-127, 127} : QuantLimits{-128, 127};
    case UINT8: return {0, 255};
    case INT16: return symmetric ? QuantLimits{-32767, 32767} : QuantLimits{-32768, 32767};
    case UINT16: return {0, 65535};
    case INT4: return symmetric ? QuantLimits{-7, 7} : QuantLimits{-8, 7};
    case UINT4: return {0, 15};
  }
  return {0, 255};
}

DataType OnnxTypeOf(QuantType type) {
  switch (type) {
    case INT8: return onnx::TensorProto::INT8;
    case UINT8: return onnx::TensorProto::UINT8;
    case INT16: return onnx::TensorProto::INT16;
    case UINT16: return onnx::TensorProto::UINT16;
    case INT4: return onnx::TensorProto::INT8;    // packed by the caller (MatMulNBits)
    case UINT4: return onnx::TensorProto::UINT8;
  }
  return onnx::TensorProto::UINT8;
}

int BitsOf(QuantType type) {
  switch (type) {
    case INT16: case UINT16: return 16;
    case INT4: case UINT4: return 4;
    default: return 8;
  }
}

QuantType Widened(QuantType type) {
  switch (type) {
    case INT8: case INT4: return INT16;
    case UINT8: case UINT4: return UINT16;
    default: return type;
  }
}

QParams ComputeQParams(float rmin, float rmax, QuantType type, bool symmetric) {
  QuantLimits l = LimitsOf(type, symmetric);
  rmin = std::min(rmin, 0.0f);
  rmax = std::max(rmax, 0.0f);
  if (symmetric) {
    float absmax = std::max(std::fabs(rmin), std::fabs(rmax));
    rmin = -absmax;
    rmax = absmax;
  }
  QParams p;
  p.scale = (rmax - rmin) / static_cast<float>(l.qmax - l.qmin);
  if (!(p.scale >= FLT_MIN) || !std::isfinite(p.scale)) return QParams{1.0f, 0};
  if (symmetric) {
    // Exactly the middle of the integer range (0 for signed, 128 for uint8).
    p.zero_point = static_cast<int32_t>(std::nearbyint((l.qmin + l.qmax) / 2.0));
    if (type == INT8 || type == INT16 || type == INT4) p.zero_point = 0;
  } else {
    p.zero_point = static_cast<int32_t>(std::nearbyint(l.qmin - rmin / p.scale));
  }
  p.zero_point = std::clamp(p.zero_point, l.qmin, l.qmax);
  return p;
}

int32_t QuantizeValue(float x, const QParams& p, const QuantLimits& l) {
  double q = std::nearbyint(static_cast<double>(x) / p.scale) + p.zero_point;
  return static_cast<int32_t>(std::clamp(q, static_cast<double>(l.qmin), static_cast<double>(l.qmax)));
}

namespace {

// Number of channels along `axis` and elements per (outer, channel) block.
void Layout(const std::vector<int64_t>& dims, int axis, int64_t* outer, int64_t* channels, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  *channels = dims[axis];
  for (int i = 0; i < axis; ++i) *outer *= dims[i];
  for (size_t i = axis + 1; i < dims.size(); ++i) *inner *= dims[i];
}

void Store(Tensor* t, int64_t i, int32_t v) {
  switch (t->type()) {
    case onnx::TensorProto::INT8: t->mutable_data<int8_t>()[i] = static_cast<int8_t>(v); break;
    case onnx::TensorProto::UINT8: t->mutable_data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case onnx::TensorProto::INT16: t->mutable_data<int16_t>()[i] = static_cast<int16_t>(v); break;
    case onnx::TensorProto::UINT16: t->mutable_data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
    case onnx::TensorProto::INT32: t->mutable_data<int32_t>()[i] = v; break;
    default: break;
  }
}

}  // namespace

QuantizedWeight QuantizeWeight(const Tensor& w, QuantType type, bool symmetric, int axis, bool reduced) {
  QuantizedWeight q;
  q.axis = axis;
  q.data = Tensor(OnnxTypeOf(type), w.dims());
  std::vector<float> v = w.ToFloatVector();
  QuantLimits l = LimitsOf(type, symmetric);
  int64_t outer = 1, channels = 1, inner = static_cast<int64_t>(v.size());
  if (axis >= 0) Layout(w.dims(), axis, &outer, &channels, &inner);
  std::vector<float> lo(channels, 0.0f), hi(channels, 0.0f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        float x = v[(o * channels + c) * inner + i];
        lo[c] = std::min(lo[c], x);
        hi[c] = std::max(hi[c], x);
      }
  if (reduced) l = QuantLimits{-64, 64};
  std::vector<QParams> params(channels);
  for (int64_t c = 0; c < channels; ++c) {
    params[c] = reduced ? QParams{std::max(std::fabs(lo[c]), std::fabs(hi[c])) / 64.0f, 0}
                        : ComputeQParams(lo[c], hi[c], type, symmetric);
    if (!(params[c].scale >= FLT_MIN)) params[c] = QParams{1.0f, 0};
    q.scales.push_back(params[c].scale);
    q.zero_points.push_back(params[c].zero_point);
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = (o * channels + c) * inner + i;
        Store(&q.data, k, QuantizeValue(v[k], params[c], l));
      }
  return q;
}

QuantizedWeight QuantizeBias(const Tensor& bias, float input_scale, const std::vector<float>& weight_scales) {
  QuantizedWeight q;
  int64_t n = bias.num_elements();
  q.data = Tensor(onnx::TensorProto::INT32, {n});
  q.axis = weight_scales.size() > 1 ? 0 : -1;
  for (float ws : weight_scales) {
    q.scales.push_back(input_scale * ws);
    q.zero_points.push_back(0);
  }
  QuantLimits l{INT32_MIN, INT32_MAX};
  for (int64_t c = 0; c < n; ++c) {
    float s = q.scales[weight_scales.size() > 1 ? c : 0];
    QParams p{s > 0 ? s : 1.0f, 0};
    Store(&q.data, c, QuantizeValue(static_cast<float>(bias.ScalarAt(c)), p, l));
  }
  return q;
}

Tensor Dequantize(const QuantizedWeight& q) {
  Tensor out(onnx::TensorProto::FLOAT, q.data.dims());
  int64_t outer = 1, channels = 1, inner = q.data.num_elements();
  if (q.axis >= 0) Layout(q.data.dims(), q.axis, &outer, &channels, &inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = (o * channels + c) * inner + i;
        size_t ch = q.scales.size() > 1 ? c : 0;
        out.mutable_data<float>()[k] =
            static_cast<float>((q.data.ScalarAt(k) - q.zero_points[ch]) * q.scales[ch]);
      }
  return out;
}

Tensor ScaleTensor(const std::vector<float>& scales, bool per_channel) {
  Tensor t(onnx::TensorProto::FLOAT, per_channel ? std::vector<int64_t>{static_cast<int64_t>(scales.size())}
                                                 : std::vector<int64_t>{});
  for (size_t i = 0; i < (per_channel ? scales.size() : 1); ++i) t.mutable_data<float>()[i] = scales[i];
  return t;
}

Tensor ZeroPointTensor(const std::vector<int32_t>& zps, DataType type, bool per_channel) {
  Tensor t(type, per_channel ? std::vector<int64_t>{static_cast<int64_t>(zps.size())} : std::vector<int64_t>{});
  for (size_t i = 0; i < (per_channel ? zps.size() : 1); ++i) Store(&t, static_cast<int64_t>(i), zps[i]);
  return t;
}

}  // namespace onnxc
