#include "passes/shape_inference/type_rules.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "ir/value.h"

namespace onnxc {
namespace {

// One dimension: a value (>= 0), a symbolic name, or unknown (neither).
struct Dim {
  int64_t value = -1;
  std::string param;
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && param == o.param; }
  static Dim Of(int64_t v) {
    Dim d;
    d.value = v;
    return d;
  }
};
using Shape = std::vector<Dim>;

// A tensor type whose element type and rank are known.
struct TensorType {
  int32_t elem = onnx::TensorProto::UNDEFINED;
  Shape dims;
  int rank() const { return static_cast<int>(dims.size()); }
};

using Outputs = std::vector<onnx::TypeProto>;
using Rule = bool (*)(const Node&, int64_t opset, Outputs*);

// ---- Reading inputs and attributes. Each reader returns false when the
// value is missing or not what ONNX's schema says it is; rules then decline.

bool InputType(const Node& n, int i, TensorType* t) {
  const Value* v = n.input(i);
  if (v == nullptr) return false;
  t->dims.clear();
  const onnx::TypeProto* tp = v->type();
  if (tp != nullptr && tp->has_tensor_type() && tp->tensor_type().elem_type() != 0 &&
      tp->tensor_type().has_shape()) {
    const auto& tt = tp->tensor_type();
    t->elem = tt.elem_type();
    t->dims.reserve(tt.shape().dim_size());
    for (const auto& d : tt.shape().dim()) {
      Dim x;
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) return false;
        x.value = d.dim_value();
      } else if (d.has_dim_param()) {
        x.param = d.dim_param();
      }
      t->dims.push_back(std::move(x));
    }
    return true;
  }
  if (tp != nullptr && !tp->has_tensor_type() && tp->value_case() != onnx::TypeProto::VALUE_NOT_SET)
    return false;  // a sequence, map or optional
  const Tensor* init = v->initializer();
  if (init == nullptr) return false;
  t->elem = init->type();
  for (int64_t d : init->dims()) t->dims.push_back(Dim::Of(d));
  return true;
}

// Integers of a tensor: INT64 or INT32, and small (these are shapes and axes).
bool TensorInts(const Tensor& t, std::vector<int64_t>* out) {
  if (t.num_elements() > 4096 || !t.Load().ok()) return false;
  out->clear();
  if (t.type() == onnx::TensorProto::INT64) {
    auto s = t.span<int64_t>();
    out->assign(s.begin(), s.end());
  } else if (t.type() == onnx::TensorProto::INT32) {
    for (int32_t x : t.span<int32_t>()) out->push_back(x);
  } else {
    return false;
  }
  return true;
}

// Small numeric data as doubles (scales, Range's bounds).
bool TensorDoubles(const Tensor& t, std::vector<double>* out) {
  if (t.num_elements() > 4096 || ElementSize(t.type()) == 0 || !t.Load().ok()) return false;
  out->clear();
  for (int64_t i = 0; i < t.num_elements(); ++i) out->push_back(t.ScalarAt(i));
  return true;
}

// The tensor of constant input `i`: an initializer that is not a graph
// input, or the `value` of a Constant node (ONNX reads both).
std::optional<Tensor> ConstTensor(const Node& n, int i) {
  const Value* v = n.input(i);
  if (v == nullptr) return std::nullopt;
  if (const Tensor* t = v->constant()) return *t;  // shares the data (copy-on-write)
  const Node* p = v->producer();
  if (p == nullptr || !p->IsOp("Constant") || p->attributes().size() != 1) return std::nullopt;
  const Attribute& a = p->attributes()[0];
  if (a.name() != "value" || a.type() != onnx::AttributeProto::TENSOR) return std::nullopt;
  if (a.t().has_data_location() && a.t().data_location() == onnx::TensorProto::EXTERNAL) return std::nullopt;
  auto t = Tensor::FromProto(a.t());
  if (!t.ok()) return std::nullopt;
  return std::move(*t);
}

// The data of constant input `i` as integers (also Constant's value_ints and
// value_int).
bool ConstInts(const Node& n, int i, std::vector<int64_t>* out) {
  if (std::optional<Tensor> t = ConstTensor(n, i)) return TensorInts(*t, out);
  const Value* v = n.input(i);
  const Node* p = v == nullptr ? nullptr : v->producer();
  if (p == nullptr || !p->IsOp("Constant") || p->attributes().size() != 1) return false;
  const Attribute& a = p->attributes()[0];
  if (a.name() == "value_ints" && a.type() == onnx::AttributeProto::INTS) {
    *out = a.ints();
    return true;
  }
  if (a.name() == "value_int" && a.type() == onnx::AttributeProto::INT) {
    *out = {a.i()};
    return true;
  }
  return false;
}

bool Present(const Node& n, int i) { return n.input(i) != nullptr; }

// An INT attribute, or `def` when absent; false if it has another type.
bool AttrInt(const Node& n, const char* name, int64_t def, int64_t* out) {
  const Attribute* a = n.attr(name);
  if (a == nullptr) {
    *out = def;
    return true;
  }
  if (a->type() != onnx::AttributeProto::INT) return false;
  *out = a->i();
  return true;
}

// An INTS attribute; `*present` says whether it was there.
bool AttrInts(const Node& n, const char* name, std::vector<int64_t>* out, bool* present = nullptr) {
  const Attribute* a = n.attr(name);
  if (present != nullptr) *present = a != nullptr;
  out->clear();
  if (a == nullptr) return true;
  if (a->type() != onnx::AttributeProto::INTS) return false;
  *out = a->ints();
  return true;
}

// Maps a possibly negative axis into [0, rank); negative axes exist from
// `negative_from` on (opset 11 for most ops).
bool NormAxis(int64_t axis, int rank, int64_t opset, int64_t negative_from, int64_t* out) {
  if (axis < 0) {
    if (opset < negative_from) return false;
    axis += rank;
  }
  if (axis < 0 || axis >= rank) return false;
  *out = axis;
  return true;
}

bool NormAxes(std::vector<int64_t>* axes, int rank) {
  std::vector<bool> seen(rank, false);
  for (int64_t& a : *axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank || seen[a]) return false;
    seen[a] = true;
  }
  return true;
}

// Overflow-checked arithmetic: dimensions come from untrusted files.
bool Mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool Add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// ---- Writing outputs.

void Set(Outputs* outs, int i, int32_t elem, const Shape& dims) {
  onnx::TypeProto& p = (*outs)[i];
  auto* tt = p.mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (const Dim& d : dims) {
    auto* pd = shape->add_dim();
    if (d.known()) {
      pd->set_dim_value(d.value);
    } else if (!d.param.empty()) {
      pd->set_dim_param(d.param);
    }
  }
}

// Product of dims with ONNX's dimension arithmetic: known values multiply,
// 1 * d is d (so a single symbolic factor survives), anything else is
// unknown.
Dim Product(const Shape& dims, int from, int to) {
  Dim p = Dim::Of(1);
  for (int i = from; i < to; ++i) {
    const Dim& d = dims[i];
    if (p.known() && d.known()) {
      if (!Mul(p.value, d.value, &p.value)) return Dim();
    } else if (p.known() && p.value == 1) {
      p = d;
    } else if (!(d.known() && d.value == 1)) {
      p = Dim();
    }
  }
  return p;
}

// ONNX's multidirectional broadcasting of shapes, dimension by dimension:
// known values other than 1 must agree; one symbolic name is kept; several
// different ones give an unknown dimension.
bool Broadcast(const std::vector<const Shape*>& shapes, Shape* out) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  out->clear();
  out->reserve(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t value = 1;
    const Dim* symbolic = nullptr;
    int num_symbolic = 0;
    for (const Shape* s : shapes) {
      if (i < rank - s->size()) continue;  // implicit leading 1
      const Dim& d = (*s)[i - (rank - s->size())];
      if (d.known()) {
        if (d.value != 1) {
          if (value != d.value && value != 1) return false;
          value = d.value;
        }
      } else if (num_symbolic == 0) {
        symbolic = &d;
        num_symbolic = 1;
      } else if (d.param != symbolic->param) {
        ++num_symbolic;
      }
    }
    if (value != 1 || num_symbolic == 0) {
      out->push_back(Dim::Of(value));
    } else if (num_symbolic == 1) {
      out->push_back(*symbolic);
    } else {
      out->push_back(Dim());
    }
  }
  return true;
}

// ---- Rules.

// Output 0 has input 0's type. Also BatchNormalization and
// LayerNormalization: Y only (the driver declines when their training
// outputs are present).
bool SameAsInput(const Node& n, int64_t, Outputs* outs) {
  TensorType x;
  if (!InputType(n, 0, &x)) return false;
  Set(outs, 0, x.elem, x.dims);
  return true;
}

// Output 0 has input 0's shape and element type kElem (IsNaN, IsInf: BOOL;
// DequantizeLinear: FLOAT).
template <int32_t kElem>
bool ShapeOfInput(const Node& n, int64_t, Outputs* outs) {
  TensorType x;
  if (!InputType(n, 0, &x)) return false;
  Set(outs, 0, kElem, x.dims);
  return true;
}

bool Cast(const Node& n, int64_t, Outputs* outs) {
  TensorType x;
  int64_t to = 0;
  if (!InputType(n, 0, &x) || !AttrInt(n, "to", 0, &to) || to <= 0) return false;
  Set(outs, 0, static_cast<int32_t>(to), x.dims);
  return true;
}

bool CastLike(const Node& n, int64_t, Outputs* outs) {
  TensorType x, like;
  if (!InputType(n, 0, &x) || !InputType(n, 1, &like)) return false;
  Set(outs, 0, like.elem, x.dims);
  return true;
}

bool Dropout(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  if (!InputType(n, 0, &x)) return false;
  Set(outs, 0, x.elem, x.dims);
  if (n.output(1) != nullptr) {
    if (opset < 10) return false;  // the mask had the input's type before
    Set(outs, 1, onnx::TensorProto::BOOL, x.dims);
  }
  return true;
}

bool QuantizeLinear(const Node& n, int64_t, Outputs* outs) {
  TensorType x, zp;
  if (!InputType(n, 0, &x)) return false;
  int32_t elem = onnx::TensorProto::UINT8;
  if (Present(n, 2)) {
    if (!InputType(n, 2, &zp)) return false;
    elem = zp.elem;
  }
  Set(outs, 0, elem, x.dims);
  return true;
}

// Broadcasting ops. `elem_from` is the input whose element type the output
// takes, or -1 for BOOL results.
template <int kMinOpset, int kElemFrom>
bool Broadcasting(const Node& n, int64_t opset, Outputs* outs) {
  if (opset < kMinOpset || n.num_inputs() == 0) return false;
  std::vector<TensorType> ins(n.num_inputs());
  std::vector<const Shape*> shapes;
  for (int i = 0; i < n.num_inputs(); ++i) {
    if (!InputType(n, i, &ins[i])) return false;
    shapes.push_back(&ins[i].dims);
  }
  Shape out;
  if (!Broadcast(shapes, &out)) return false;
  int32_t elem = kElemFrom < 0 ? static_cast<int32_t>(onnx::TensorProto::BOOL) : ins[kElemFrom].elem;
  Set(outs, 0, elem, out);
  return true;
}

// ONNX gives PRelu the input's shape; where the slope would broadcast it to
// something larger the node is left to ONNX.
bool PRelu(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x, slope;
  if (opset < 7 || !InputType(n, 0, &x) || !InputType(n, 1, &slope)) return false;
  Shape out;
  if (!Broadcast({&x.dims, &slope.dims}, &out) || out != x.dims) return false;
  Set(outs, 0, x.elem, x.dims);
  return true;
}

// ONNX's convPoolShapeInference: Conv (kernel from W, dilations), pools
// (kernel_shape attribute). ceil_mode is left to ONNX, whose rounding
// changed between versions.
bool ConvPool(const Node& n, bool use_dilation, bool conv, Outputs* outs) {
  TensorType x, w;
  if (!InputType(n, 0, &x) || x.rank() < 2) return false;
  if (conv && (!InputType(n, 1, &w) || w.rank() < 1)) return false;
  const size_t spatial = x.rank() - 2;
  int64_t ceil_mode = 0;
  if (!AttrInt(n, "ceil_mode", 0, &ceil_mode) || ceil_mode != 0) return false;
  std::vector<int64_t> dilations, strides, kernel, pads;
  bool has_kernel = false, has_pads = false;
  if (!AttrInts(n, "dilations", &dilations) || !AttrInts(n, "strides", &strides) ||
      !AttrInts(n, "kernel_shape", &kernel, &has_kernel) || !AttrInts(n, "pads", &pads, &has_pads))
    return false;
  if (!use_dilation || dilations.empty()) dilations.assign(spatial, 1);
  if (strides.empty()) strides.assign(spatial, 1);
  if (dilations.size() != spatial || strides.size() != spatial) return false;
  if (!has_kernel) {
    if (!conv) return false;
    for (int i = 2; i < w.rank(); ++i) {
      if (!w.dims[i].known()) return false;
      kernel.push_back(w.dims[i].value);
    }
  }
  if (kernel.size() != spatial) return false;
  for (size_t i = 0; i < spatial; ++i)
    if (strides[i] <= 0 || dilations[i] <= 0 || kernel[i] <= 0) return false;
  std::vector<int64_t> effective(spatial);
  for (size_t i = 0; i < spatial; ++i)
    if (!Mul(kernel[i] - 1, dilations[i], &effective[i]) || !Add(effective[i], 1, &effective[i])) return false;
  const Attribute* auto_pad = n.attr("auto_pad");
  if (auto_pad != nullptr && auto_pad->type() != onnx::AttributeProto::STRING) return false;
  if (has_pads) {
    if (pads.size() != 2 * spatial) return false;
  } else {
    pads.assign(2 * spatial, 0);
    if (auto_pad != nullptr && auto_pad->s() != "VALID" && auto_pad->s() != "NOTSET") {
      if (auto_pad->s() != "SAME_UPPER" && auto_pad->s() != "SAME_LOWER") return false;
      for (size_t i = 0; i < spatial; ++i) {
        int64_t residual = 0;
        if (strides[i] > 1) {
          if (!x.dims[2 + i].known()) continue;
          residual = x.dims[2 + i].value % strides[i];
        }
        int64_t total = std::max<int64_t>(residual == 0 ? effective[i] - strides[i] : effective[i] - residual, 0);
        int64_t small = total >> 1, big = total - small;
        bool upper = auto_pad->s() == "SAME_UPPER";
        pads[i] = upper ? small : big;
        pads[i + spatial] = upper ? big : small;
      }
    }
  }
  Shape out;
  out.push_back(x.dims[0]);
  out.push_back(conv ? w.dims[0] : x.dims[1]);
  for (size_t i = 0; i < spatial; ++i) {
    if (!x.dims[2 + i].known()) {
      out.push_back(Dim());
      continue;
    }
    int64_t size = 0;
    if (!Add(x.dims[2 + i].value, pads[i], &size) || !Add(size, pads[i + spatial], &size)) return false;
    int64_t o = (size - effective[i]) / strides[i] + 1;
    if (size < effective[i] || o < 1) return false;  // ONNX reports these
    out.push_back(Dim::Of(o));
  }
  Set(outs, 0, x.elem, out);
  if (n.output(1) != nullptr) Set(outs, 1, onnx::TensorProto::INT64, out);  // MaxPool's Indices
  return true;
}

bool Conv(const Node& n, int64_t, Outputs* outs) { return ConvPool(n, true, true, outs); }
bool MaxPool(const Node& n, int64_t opset, Outputs* outs) {
  if (opset < 8 && n.output(1) != nullptr) return false;
  return ConvPool(n, opset >= 10, false, outs);
}
bool OtherPool(const Node& n, int64_t, Outputs* outs) { return ConvPool(n, false, false, outs); }

bool GlobalPool(const Node& n, int64_t, Outputs* outs) {
  TensorType x;
  if (!InputType(n, 0, &x) || x.rank() < 2) return false;
  Shape out = {x.dims[0], x.dims[1]};
  out.resize(x.rank(), Dim::Of(1));
  Set(outs, 0, x.elem, out);
  return true;
}

bool Gemm(const Node& n, int64_t, Outputs* outs) {
  TensorType a, b;
  int64_t trans_a = 0, trans_b = 0;
  if (!InputType(n, 0, &a) || !InputType(n, 1, &b) || a.rank() != 2 || b.rank() != 2) return false;
  if (!AttrInt(n, "transA", 0, &trans_a) || !AttrInt(n, "transB", 0, &trans_b)) return false;
  Set(outs, 0, a.elem, {a.dims[trans_a ? 1 : 0], b.dims[trans_b ? 0 : 1]});
  return true;
}

bool MatMul(const Node& n, int64_t, Outputs* outs) {
  TensorType a, b;
  if (!InputType(n, 0, &a) || !InputType(n, 1, &b) || a.rank() == 0 || b.rank() == 0) return false;
  Shape left = a.dims, right = b.dims;
  if (a.rank() == 1) left.insert(left.begin(), Dim::Of(1));
  if (b.rank() == 1) right.push_back(Dim::Of(1));
  const Dim& k1 = left[left.size() - 1];
  const Dim& k2 = right[right.size() - 2];
  if (k1.known() && k2.known() && k1.value != k2.value) return false;
  Shape prefix_l(left.begin(), left.end() - 2), prefix_r(right.begin(), right.end() - 2), out;
  if (!Broadcast({&prefix_l, &prefix_r}, &out)) return false;
  if (a.rank() != 1) out.push_back(left[left.size() - 2]);
  if (b.rank() != 1) out.push_back(right[right.size() - 1]);
  Set(outs, 0, a.elem, out);
  return true;
}

bool Flatten(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  int64_t axis = 1;
  if (!InputType(n, 0, &x) || !AttrInt(n, "axis", 1, &axis)) return false;
  if (axis < 0) {
    if (opset < 11) return false;
    axis += x.rank();
  }
  if (axis < 0 || axis > x.rank()) return false;
  Set(outs, 0, x.elem, {Product(x.dims, 0, axis), Product(x.dims, axis, x.rank())});
  return true;
}

// ONNX's Reshape inference with a constant shape: 0 copies the input
// dimension (unless allowzero), one -1 is solved from the known dimensions.
bool Reshape(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> target;
  int64_t allowzero = 0;
  if (opset < 5 || !InputType(n, 0, &x) || !ConstInts(n, 1, &target)) return false;
  if (!AttrInt(n, "allowzero", 0, &allowzero)) return false;
  Shape out(target.size());
  std::vector<bool> unresolved_zero(target.size(), false);
  int minus_one = -1;
  int64_t product = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t t = target[i];
    if (t == -1) {
      if (minus_one >= 0) return false;
      minus_one = static_cast<int>(i);
    } else if (t == 0 && allowzero == 0) {
      if (static_cast<int>(i) >= x.rank()) return false;
      if (x.dims[i].known()) {
        out[i] = x.dims[i];
        if (!Mul(product, x.dims[i].value, &product)) return false;
      } else {
        out[i] = x.dims[i];
        unresolved_zero[i] = true;
      }
    } else if (t >= 0) {
      out[i] = Dim::Of(t);
      if (!Mul(product, t, &product)) return false;
    } else {
      return false;
    }
  }
  if (minus_one >= 0) {
    if (product == 0) return false;
    int64_t in_product = 1;
    bool valid = true;
    for (int i = 0; i < x.rank(); ++i) {
      if (x.dims[i].known()) {
        if (!Mul(in_product, x.dims[i].value, &in_product)) return false;
      } else if (i >= static_cast<int>(unresolved_zero.size()) || !unresolved_zero[i]) {
        valid = false;
        break;
      }
    }
    if (valid) {
      if (in_product % product != 0) return false;
      out[minus_one] = Dim::Of(in_product / product);
    }
  }
  Set(outs, 0, x.elem, out);
  return true;
}

bool Transpose(const Node& n, int64_t, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> perm;
  bool has_perm = false;
  if (!InputType(n, 0, &x) || !AttrInts(n, "perm", &perm, &has_perm)) return false;
  if (!has_perm)
    for (int i = x.rank() - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int>(perm.size()) != x.rank()) return false;
  std::vector<bool> seen(x.rank(), false);
  Shape out;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[p]) return false;
    seen[p] = true;
    out.push_back(x.dims[p]);
  }
  Set(outs, 0, x.elem, out);
  return true;
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, an input after.
bool AxesOf(const Node& n, int64_t opset, std::vector<int64_t>* axes, bool* given) {
  if (opset < 13) return AttrInts(n, "axes", axes, given);
  *given = Present(n, 1);
  axes->clear();
  return !*given || ConstInts(n, 1, axes);
}

bool Squeeze(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> axes;
  bool given = false;
  if (!InputType(n, 0, &x) || !AxesOf(n, opset, &axes, &given)) return false;
  if (given && !NormAxes(&axes, x.rank())) return false;
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    const Dim& d = x.dims[i];
    if (!given) {
      if (!d.known()) return false;  // ONNX cannot tell either
      if (d.value != 1) out.push_back(d);
    } else if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
      if (d.known() && d.value != 1) return false;
    } else {
      out.push_back(d);
    }
  }
  Set(outs, 0, x.elem, out);
  return true;
}

bool Unsqueeze(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> axes;
  bool given = false;
  if (!InputType(n, 0, &x) || !AxesOf(n, opset, &axes, &given) || !given) return false;
  int rank = x.rank() + static_cast<int>(axes.size());
  if (!NormAxes(&axes, rank)) return false;
  Shape out;
  int next = 0;
  for (int i = 0; i < rank; ++i) {
    if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
      out.push_back(Dim::Of(1));
    } else {
      out.push_back(x.dims[next++]);
    }
  }
  Set(outs, 0, x.elem, out);
  return true;
}

// ONNX's mergeInDimensionInfo: a known value wins, values must agree.
bool MergeDim(const Dim& source, Dim* target) {
  if (source.known()) {
    if (target->known() && target->value != source.value) return false;
    *target = source;
  } else if (!target->known() && target->param.empty()) {
    target->param = source.param;
  }
  return true;
}

bool Concat(const Node& n, int64_t opset, Outputs* outs) {
  int64_t axis = 0;
  const Attribute* a = n.attr("axis");
  if (a == nullptr || a->type() != onnx::AttributeProto::INT || n.num_inputs() == 0) return false;
  std::vector<TensorType> ins(n.num_inputs());
  for (int i = 0; i < n.num_inputs(); ++i)
    if (!InputType(n, i, &ins[i]) || ins[i].rank() != ins[0].rank()) return false;
  if (!NormAxis(a->i(), ins[0].rank(), opset, 11, &axis)) return false;
  Shape out(ins[0].rank());
  int64_t total = 0;
  bool all_known = true;
  for (const TensorType& t : ins) {
    for (int j = 0; j < t.rank(); ++j) {
      if (j == axis) {
        if (t.dims[j].known()) {
          if (!Add(total, t.dims[j].value, &total)) return false;
        } else {
          all_known = false;
        }
      } else if (!MergeDim(t.dims[j], &out[j])) {
        return false;
      }
    }
  }
  out[axis] = all_known ? Dim::Of(total) : Dim();
  Set(outs, 0, ins[0].elem, out);
  return true;
}

bool ShapeOp(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  if (!InputType(n, 0, &x)) return false;
  int64_t rank = x.rank(), start = 0, end = rank;
  if (opset >= 15) {
    if (!AttrInt(n, "start", 0, &start) || !AttrInt(n, "end", rank, &end)) return false;
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, 0, rank);
  }
  Set(outs, 0, onnx::TensorProto::INT64, {Dim::Of(std::max<int64_t>(end - start, 0))});
  return true;
}

bool Size(const Node& n, int64_t, Outputs* outs) {
  TensorType x;
  if (!InputType(n, 0, &x)) return false;
  Set(outs, 0, onnx::TensorProto::INT64, {});
  return true;
}

bool Gather(const Node& n, int64_t opset, Outputs* outs) {
  TensorType data, indices;
  int64_t axis = 0;
  if (!InputType(n, 0, &data) || !InputType(n, 1, &indices) || !AttrInt(n, "axis", 0, &axis)) return false;
  if (!NormAxis(axis, data.rank(), opset, 11, &axis)) return false;
  Shape out(data.dims.begin(), data.dims.begin() + axis);
  out.insert(out.end(), indices.dims.begin(), indices.dims.end());
  out.insert(out.end(), data.dims.begin() + axis + 1, data.dims.end());
  Set(outs, 0, data.elem, out);
  return true;
}

bool GatherElements(const Node& n, int64_t, Outputs* outs) {
  TensorType data, indices;
  if (!InputType(n, 0, &data) || !InputType(n, 1, &indices) || data.rank() != indices.rank()) return false;
  Set(outs, 0, data.elem, indices.dims);
  return true;
}

// Slice with constant starts/ends/axes/steps (opset 10 on). A sliced
// dimension of unknown size is left to ONNX.
bool Slice(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10 || !InputType(n, 0, &x) || !ConstInts(n, 1, &starts) || !ConstInts(n, 2, &ends)) return false;
  if (starts.size() != ends.size()) return false;
  if (Present(n, 3)) {
    if (!ConstInts(n, 3, &axes) || axes.size() != starts.size()) return false;
  } else {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (Present(n, 4)) {
    if (!ConstInts(n, 4, &steps) || steps.size() != starts.size()) return false;
  } else {
    steps.assign(starts.size(), 1);
  }
  if (!NormAxes(&axes, x.rank())) return false;
  Shape out = x.dims;
  for (size_t i = 0; i < axes.size(); ++i) {
    const Dim& d = x.dims[axes[i]];
    int64_t step = steps[i];
    if (!d.known() || step == 0 || step == INT64_MIN) return false;
    int64_t dim = d.value, start = starts[i], end = ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step < 0) {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
    } else {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
    }
    int64_t len = step > 0 ? (end > start ? (end - start - 1) / step + 1 : 0)
                           : (start > end ? (start - end - 1) / -step + 1 : 0);
    out[axes[i]] = Dim::Of(len);
  }
  Set(outs, 0, x.elem, out);
  return true;
}

bool Split(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  int64_t axis = 0;
  if (!InputType(n, 0, &x) || !AttrInt(n, "axis", 0, &axis)) return false;
  if (!NormAxis(axis, x.rank(), opset, 11, &axis)) return false;
  std::vector<int64_t> split;
  bool given = false;
  if (opset < 13) {
    if (!AttrInts(n, "split", &split, &given)) return false;
    given = given && !split.empty();
  } else if (Present(n, 1)) {
    if (!ConstInts(n, 1, &split)) return false;
    given = true;
  }
  const int num = n.num_outputs();
  const Dim& d = x.dims[axis];
  if (given) {
    if (static_cast<int>(split.size()) != num) return false;
    int64_t sum = 0;
    for (int64_t s : split)
      if (s < 0 || !Add(sum, s, &sum)) return false;
    if (d.known() && d.value != sum) return false;
  } else {
    if (!d.known() || num == 0 || d.value % num != 0) return false;
    split.assign(num, d.value / num);
  }
  for (int i = 0; i < num; ++i) {
    if (n.output(i) == nullptr) continue;
    Shape out = x.dims;
    out[axis] = Dim::Of(split[i]);
    Set(outs, i, x.elem, out);
  }
  return true;
}

bool Reduce(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  int64_t keepdims = 1, noop = 0;
  std::vector<int64_t> axes;
  if (!InputType(n, 0, &x) || !AttrInt(n, "keepdims", 1, &keepdims)) return false;
  if (n.op_type() == "ReduceSum" && opset >= 13) {
    if (!AttrInt(n, "noop_with_empty_axes", 0, &noop)) return false;
    if (Present(n, 1) && !ConstInts(n, 1, &axes)) return false;
  } else if (!AttrInts(n, "axes", &axes)) {
    return false;
  }
  if (axes.empty() && noop != 0) {
    Set(outs, 0, x.elem, x.dims);
    return true;
  }
  if (!NormAxes(&axes, x.rank())) return false;
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    bool reduced = axes.empty() || std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced) {
      out.push_back(x.dims[i]);
    } else if (keepdims) {
      out.push_back(Dim::Of(1));
    }
  }
  Set(outs, 0, x.elem, out);
  return true;
}

bool ArgReduce(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  int64_t axis = 0, keepdims = 1;
  if (!InputType(n, 0, &x) || !AttrInt(n, "axis", 0, &axis) || !AttrInt(n, "keepdims", 1, &keepdims))
    return false;
  if (!NormAxis(axis, x.rank(), opset, 11, &axis)) return false;
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    if (i != axis) {
      out.push_back(x.dims[i]);
    } else if (keepdims) {
      out.push_back(Dim::Of(1));
    }
  }
  Set(outs, 0, onnx::TensorProto::INT64, out);
  return true;
}

bool Expand(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> shape;
  if (opset < 8 || !InputType(n, 0, &x) || !ConstInts(n, 1, &shape)) return false;
  Shape target;
  for (int64_t s : shape) {
    if (s < 0) return false;
    target.push_back(Dim::Of(s));
  }
  Shape out;
  if (!Broadcast({&x.dims, &target}, &out)) return false;
  Set(outs, 0, x.elem, out);
  return true;
}

bool Tile(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> repeats;
  if (opset < 6 || !InputType(n, 0, &x) || !ConstInts(n, 1, &repeats)) return false;
  if (static_cast<int>(repeats.size()) != x.rank()) return false;
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    int64_t d = 0;
    if (repeats[i] < 0 || (x.dims[i].known() && !Mul(x.dims[i].value, repeats[i], &d))) return false;
    out.push_back(x.dims[i].known() ? Dim::Of(d) : Dim());
  }
  Set(outs, 0, x.elem, out);
  return true;
}

bool ConstantOfShape(const Node& n, int64_t, Outputs* outs) {
  std::vector<int64_t> shape;
  if (!ConstInts(n, 0, &shape)) return false;
  Shape out;
  for (int64_t s : shape) {
    if (s < 0) return false;
    out.push_back(Dim::Of(s));
  }
  int32_t elem = onnx::TensorProto::FLOAT;
  if (const Attribute* v = n.attr("value")) {
    if (v->type() != onnx::AttributeProto::TENSOR) return false;
    elem = v->t().data_type();
  }
  Set(outs, 0, elem, out);
  return true;
}

bool Pad(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  std::vector<int64_t> pads;
  if (opset < 2 || !InputType(n, 0, &x)) return false;
  if (opset < 11 ? !AttrInts(n, "pads", &pads) : !ConstInts(n, 1, &pads)) return false;
  if (static_cast<int>(pads.size()) != 2 * x.rank()) return false;
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    if (!x.dims[i].known()) return false;
    int64_t d = 0;
    if (!Add(x.dims[i].value, pads[i], &d) || !Add(d, pads[i + x.rank()], &d) || d < 0) return false;
    out.push_back(Dim::Of(d));
  }
  Set(outs, 0, x.elem, out);
  return true;
}

bool Constant(const Node& n, int64_t, Outputs* outs) {
  if (n.attributes().size() != 1) return false;
  const Attribute& a = n.attributes()[0];
  const std::string& name = a.name();
  using A = onnx::AttributeProto;
  if (name == "value" && a.type() == A::TENSOR) {
    Shape dims;
    for (int64_t d : a.t().dims()) dims.push_back(Dim::Of(d));
    Set(outs, 0, a.t().data_type(), dims);
  } else if (name == "value_float" && a.type() == A::FLOAT) {
    Set(outs, 0, onnx::TensorProto::FLOAT, {});
  } else if (name == "value_floats" && a.type() == A::FLOATS) {
    Set(outs, 0, onnx::TensorProto::FLOAT, {Dim::Of(a.proto().floats_size())});
  } else if (name == "value_int" && a.type() == A::INT) {
    Set(outs, 0, onnx::TensorProto::INT64, {});
  } else if (name == "value_ints" && a.type() == A::INTS) {
    Set(outs, 0, onnx::TensorProto::INT64, {Dim::Of(a.proto().ints_size())});
  } else if (name == "value_string" && a.type() == A::STRING) {
    Set(outs, 0, onnx::TensorProto::STRING, {});
  } else if (name == "value_strings" && a.type() == A::STRINGS) {
    Set(outs, 0, onnx::TensorProto::STRING, {Dim::Of(a.proto().strings_size())});
  } else {
    return false;
  }
  return true;
}

// ConvTranspose with explicit (or no) pads: out = stride * (in - 1) +
// output_padding + (kernel - 1) * dilation + 1 - pads. auto_pad and
// output_shape are left to ONNX.
bool ConvTranspose(const Node& n, int64_t, Outputs* outs) {
  TensorType x, w;
  int64_t group = 1;
  if (!InputType(n, 0, &x) || !InputType(n, 1, &w) || x.rank() < 3 || w.rank() != x.rank()) return false;
  if (!AttrInt(n, "group", 1, &group) || group <= 0 || !w.dims[1].known()) return false;
  if (n.attr("output_shape") != nullptr) return false;
  if (const Attribute* ap = n.attr("auto_pad"); ap != nullptr && (ap->type() != onnx::AttributeProto::STRING ||
                                                                  ap->s() != "NOTSET"))
    return false;
  const size_t spatial = x.rank() - 2;
  std::vector<int64_t> dilations, strides, kernel, pads, output_padding;
  bool has_kernel = false;
  if (!AttrInts(n, "dilations", &dilations) || !AttrInts(n, "strides", &strides) ||
      !AttrInts(n, "kernel_shape", &kernel, &has_kernel) || !AttrInts(n, "pads", &pads) ||
      !AttrInts(n, "output_padding", &output_padding))
    return false;
  if (dilations.empty()) dilations.assign(spatial, 1);
  if (strides.empty()) strides.assign(spatial, 1);
  if (pads.empty()) pads.assign(2 * spatial, 0);
  if (output_padding.empty()) output_padding.assign(spatial, 0);
  if (!has_kernel)
    for (size_t i = 2; i < w.dims.size(); ++i) {
      if (!w.dims[i].known()) return false;
      kernel.push_back(w.dims[i].value);
    }
  if (dilations.size() != spatial || strides.size() != spatial || kernel.size() != spatial ||
      pads.size() != 2 * spatial || output_padding.size() != spatial)
    return false;
  Shape out = {x.dims[0], Dim()};
  if (!Mul(w.dims[1].value, group, &out[1].value)) return false;
  for (size_t i = 0; i < spatial; ++i) {
    const Dim& d = x.dims[2 + i];
    if (!d.known()) {
      out.push_back(Dim());
      continue;
    }
    int64_t o = 0, k = 0;
    if (d.value < 1 || strides[i] < 1 || dilations[i] < 1 || kernel[i] < 1) return false;
    if (!Mul(strides[i], d.value - 1, &o) || !Mul(kernel[i] - 1, dilations[i], &k) || !Add(o, k + 1, &o) ||
        !Add(o, output_padding[i], &o) || !Add(o, -pads[i], &o) || !Add(o, -pads[i + spatial], &o) || o < 1)
      return false;
    out.push_back(Dim::Of(o));
  }
  Set(outs, 0, x.elem, out);
  return true;
}

// Resize (opset 11 on) with constant sizes, or constant scales:
// floor(float(in) * scale), in float as ONNX computes it.
bool Resize(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  if (opset < 11 || !InputType(n, 0, &x)) return false;
  Shape out;
  if (Present(n, 3)) {
    std::vector<int64_t> sizes;
    if (!ConstInts(n, 3, &sizes) || static_cast<int>(sizes.size()) != x.rank()) return false;
    for (int64_t s : sizes) {
      if (s < 0) return false;
      out.push_back(Dim::Of(s));
    }
  } else {
    std::optional<Tensor> st = ConstTensor(n, 2);
    std::vector<double> scales;
    if (!st || st->type() != onnx::TensorProto::FLOAT || !TensorDoubles(*st, &scales) ||
        static_cast<int>(scales.size()) != x.rank())
      return false;
    for (int i = 0; i < x.rank(); ++i) {
      if (!x.dims[i].known()) {
        out.push_back(Dim());
        continue;
      }
      float v = std::floor(static_cast<float>(x.dims[i].value) * static_cast<float>(scales[i]));
      if (!(v >= 0 && v < 9e18f)) return false;
      out.push_back(Dim::Of(static_cast<int64_t>(v)));
    }
  }
  Set(outs, 0, x.elem, out);
  return true;
}

// TopK: the axis gets K (an input from opset 10, an attribute before).
bool TopK(const Node& n, int64_t opset, Outputs* outs) {
  TensorType x;
  int64_t axis = -1, k = 0;
  if (!InputType(n, 0, &x) || !AttrInt(n, "axis", -1, &axis) || !NormAxis(axis, x.rank(), 1, 1, &axis))
    return false;
  if (opset >= 10) {
    std::vector<int64_t> ks;
    if (!ConstInts(n, 1, &ks) || ks.size() != 1) return false;
    k = ks[0];
  } else if (!AttrInt(n, "k", -1, &k)) {
    return false;
  }
  const Dim& d = x.dims[axis];
  if (k < 0 || (d.known() && k > d.value)) return false;
  Shape out = x.dims;
  out[axis] = Dim::Of(k);
  Set(outs, 0, x.elem, out);
  if (n.output(1) != nullptr) Set(outs, 1, onnx::TensorProto::INT64, out);
  return true;
}

// Range with constant scalar bounds: max(ceil((limit - start) / delta), 0).
bool Range(const Node& n, int64_t, Outputs* outs) {
  std::vector<double> v[3];
  int32_t elem = 0;
  for (int i = 0; i < 3; ++i) {
    std::optional<Tensor> t = ConstTensor(n, i);
    if (!t || t->num_elements() != 1 || !TensorDoubles(*t, &v[i])) return false;
    if (i == 0) elem = t->type();
    if (t->type() != elem) return false;
  }
  double count = std::ceil((v[1][0] - v[0][0]) / v[2][0]);
  if (!(count < 1e15)) return false;  // delta 0, NaN, absurd sizes
  Set(outs, 0, elem, {Dim::Of(static_cast<int64_t>(std::max(count, 0.0)))});
  return true;
}

bool DepthSpace(const Node& n, int64_t, Outputs* outs) {
  TensorType x;
  int64_t b = 0;
  if (!InputType(n, 0, &x) || x.rank() != 4 || !AttrInt(n, "blocksize", 0, &b) || b <= 0 || b > 4096)
    return false;
  for (const Dim& d : x.dims)
    if (!d.known() || d.value > (int64_t{1} << 40)) return false;
  const auto& v = x.dims;
  Shape out;
  if (n.op_type() == "DepthToSpace") {
    if (v[1].value % (b * b) != 0) return false;
    out = {v[0], Dim::Of(v[1].value / (b * b)), Dim::Of(v[2].value * b), Dim::Of(v[3].value * b)};
  } else {
    if (v[2].value % b != 0 || v[3].value % b != 0) return false;
    out = {v[0], Dim::Of(v[1].value * b * b), Dim::Of(v[2].value / b), Dim::Of(v[3].value / b)};
  }
  Set(outs, 0, x.elem, out);
  return true;
}

const absl::flat_hash_map<std::string, Rule>& Rules() {
  static const auto* rules = [] {
    auto* m = new absl::flat_hash_map<std::string, Rule>;
    for (const char* op :
         {"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Celu", "Clip", "Cos", "Cosh",
          "CumSum", "Elu", "Erf", "Exp", "Floor", "HardSigmoid", "HardSwish", "Hardmax", "Identity",
          "InstanceNormalization", "LRN", "LeakyRelu", "Log", "LogSoftmax", "LpNormalization",
          "MeanVarianceNormalization", "Neg", "Not", "Reciprocal", "Relu", "Round", "Selu", "Shrink",
          "Sigmoid", "Sign", "Sin", "Sinh", "Softmax", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh",
          "ThresholdedRelu", "Trilu", "ScatterND", "ScatterElements"})
      (*m)[op] = SameAsInput;
    for (const char* op : {"IsNaN", "IsInf"}) (*m)[op] = ShapeOfInput<onnx::TensorProto::BOOL>;
    for (const char* op : {"BatchNormalization", "LayerNormalization"}) (*m)[op] = SameAsInput;
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow"}) (*m)[op] = Broadcasting<7, 0>;
    (*m)["Mod"] = Broadcasting<10, 0>;
    (*m)["BitShift"] = Broadcasting<11, 0>;
    for (const char* op : {"Max", "Min", "Sum", "Mean"}) (*m)[op] = Broadcasting<8, 0>;
    for (const char* op : {"And", "Or", "Xor", "Equal", "Less", "Greater"}) (*m)[op] = Broadcasting<7, -1>;
    for (const char* op : {"LessOrEqual", "GreaterOrEqual"}) (*m)[op] = Broadcasting<12, -1>;
    (*m)["Where"] = Broadcasting<9, 1>;
    (*m)["PRelu"] = PRelu;
    (*m)["Cast"] = Cast;
    (*m)["CastLike"] = CastLike;
    (*m)["Dropout"] = Dropout;
    (*m)["QuantizeLinear"] = QuantizeLinear;
    (*m)["DequantizeLinear"] = ShapeOfInput<onnx::TensorProto::FLOAT>;
    (*m)["Conv"] = Conv;
    (*m)["MaxPool"] = MaxPool;
    (*m)["AveragePool"] = OtherPool;
    (*m)["LpPool"] = OtherPool;
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}) (*m)[op] = GlobalPool;
    (*m)["Gemm"] = Gemm;
    (*m)["MatMul"] = MatMul;
    (*m)["Flatten"] = Flatten;
    (*m)["Reshape"] = Reshape;
    (*m)["Transpose"] = Transpose;
    (*m)["Squeeze"] = Squeeze;
    (*m)["Unsqueeze"] = Unsqueeze;
    (*m)["Concat"] = Concat;
    (*m)["Shape"] = ShapeOp;
    (*m)["Size"] = Size;
    (*m)["Gather"] = Gather;
    (*m)["GatherElements"] = GatherElements;
    (*m)["Slice"] = Slice;
    (*m)["Split"] = Split;
    for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                           "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})
      (*m)[op] = Reduce;
    for (const char* op : {"ArgMax", "ArgMin"}) (*m)[op] = ArgReduce;
    (*m)["Expand"] = Expand;
    (*m)["Tile"] = Tile;
    (*m)["ConstantOfShape"] = ConstantOfShape;
    (*m)["Pad"] = Pad;
    (*m)["Constant"] = Constant;
    for (const char* op : {"DepthToSpace", "SpaceToDepth"}) (*m)[op] = DepthSpace;
    (*m)["ConvTranspose"] = ConvTranspose;
    (*m)["Resize"] = Resize;
    (*m)["TopK"] = TopK;
    (*m)["Range"] = Range;
    return m;
  }();
  return *rules;
}

}  // namespace

bool HasTypeRule(const std::string& op_type) { return Rules().contains(op_type); }

bool InferTypesWithRules(const Node& node, int64_t opset, std::vector<onnx::TypeProto>* outputs) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") return false;
  auto it = Rules().find(node.op_type());
  if (it == Rules().end()) return false;
  outputs->clear();
  outputs->resize(node.num_outputs());
  if (!it->second(node, opset, outputs)) return false;
  // Every output the node has must have been typed (e.g. BatchNormalization
  // in training mode has outputs no rule here knows).
  for (int i = 0; i < node.num_outputs(); ++i)
    if (node.output(i) != nullptr && !(*outputs)[i].has_tensor_type()) return false;
  return true;
}

}  // namespace onnxc
