// Elementwise kernels: unary math and activations, numpy-broadcast binary
// arithmetic, comparisons and logic, variadic Sum/Max/Min/Mean, Where, Clip,
// PRelu, Identity, Dropout.
#include <cmath>
#include <cstring>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

// ---------------------------------------------------------------- unary
template <typename T, typename F>
void UnaryLoop(const KTensor& x, KTensor* y, int threads, F f) {
  const T* in = x.ptr<T>();
  T* out = y->mut<T>();
  ParallelFor(threads, x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = f(in[i]);
  }, 1 << 15);
}

// Float32 unary op over whole chunks with Eigen's vectorised array
// functions (exp, erf: a few ulp, 5-10x faster than the scalar libm calls;
// they dominate a transformer's GELU and softmax).
template <typename F>
void UnaryFloatVectorized(const KTensor& x, KTensor* y, int threads, F f) {
  const float* in = x.ptr<float>();
  float* out = y->mut<float>();
  ParallelFor(threads, x.numel(), [&](int64_t b, int64_t e) {
    Eigen::Map<const Eigen::ArrayXf> xi(in + b, e - b);
    Eigen::Map<Eigen::ArrayXf> yo(out + b, e - b);
    f(xi, yo);
  }, 1 << 15);
}

// Float unary op defined by a generic lambda applied to float or double.
#define ONNXC_UNARY_FLOAT(NAME, EXPR)                                               \
  absl::Status NAME##Kernel(OpContext& c) {                                         \
    const KTensor& x = c.input(0);                                                  \
    c.out[0] = KTensor::Alloc(x.type, x.dims);                                      \
    const OpContext& ctx = c;                                                       \
    (void)ctx;                                                                      \
    if (x.type == TP::FLOAT) {                                                      \
      using T = float;                                                              \
      UnaryLoop<T>(x, &c.out[0], c.threads, [&](T v) -> T { return EXPR; });        \
    } else if (x.type == TP::DOUBLE) {                                              \
      using T = double;                                                             \
      UnaryLoop<T>(x, &c.out[0], c.threads, [&](T v) -> T { return EXPR; });        \
    } else {                                                                        \
      return c.Error(absl::StrCat(#NAME " does not support ", DataTypeName(x.type))); \
    }                                                                               \
    return absl::OkStatus();                                                        \
  }

// Sigmoid, Tanh, Log, Erf and Exp: Eigen's vectorised packet functions for
// float32 (Sigmoid took 75% of an efficientnet's run as a scalar std::exp
// loop), libm for double.
#define ONNXC_UNARY_FLOAT_EIGEN(NAME, EIGEN_EXPR, EXPR)                              \
  absl::Status NAME##Kernel(OpContext& c) {                                         \
    const KTensor& x = c.input(0);                                                  \
    c.out[0] = KTensor::Alloc(x.type, x.dims);                                      \
    if (x.type == TP::FLOAT) {                                                      \
      UnaryFloatVectorized(x, &c.out[0], c.threads,                                 \
                           [](const auto& xi, auto& yo) { yo = EIGEN_EXPR; });      \
    } else if (x.type == TP::DOUBLE) {                                              \
      using T = double;                                                             \
      UnaryLoop<T>(x, &c.out[0], c.threads, [&](T v) -> T { return EXPR; });        \
    } else {                                                                        \
      return c.Error(absl::StrCat(#NAME " does not support ", DataTypeName(x.type))); \
    }                                                                               \
    return absl::OkStatus();                                                        \
  }

ONNXC_UNARY_FLOAT_EIGEN(Sigmoid, xi.logistic(),
                        v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v)))
ONNXC_UNARY_FLOAT_EIGEN(Tanh, xi.tanh(), std::tanh(v))
ONNXC_UNARY_FLOAT(Sqrt, std::sqrt(v))
ONNXC_UNARY_FLOAT_EIGEN(Log, xi.log(), std::log(v))
ONNXC_UNARY_FLOAT_EIGEN(Erf, xi.erf(), std::erf(v))
ONNXC_UNARY_FLOAT_EIGEN(Exp, xi.exp(), std::exp(v))
ONNXC_UNARY_FLOAT(Reciprocal, T(1) / v)
ONNXC_UNARY_FLOAT(Floor, std::floor(v))
ONNXC_UNARY_FLOAT(Ceil, std::ceil(v))
ONNXC_UNARY_FLOAT(Round, std::nearbyint(v))
ONNXC_UNARY_FLOAT(Sin, std::sin(v))
ONNXC_UNARY_FLOAT(Cos, std::cos(v))
ONNXC_UNARY_FLOAT(Tan, std::tan(v))
ONNXC_UNARY_FLOAT(Asin, std::asin(v))
ONNXC_UNARY_FLOAT(Acos, std::acos(v))
ONNXC_UNARY_FLOAT(Atan, std::atan(v))
ONNXC_UNARY_FLOAT(Sinh, std::sinh(v))
ONNXC_UNARY_FLOAT(Cosh, std::cosh(v))
ONNXC_UNARY_FLOAT(Asinh, std::asinh(v))
ONNXC_UNARY_FLOAT(Acosh, std::acosh(v))
ONNXC_UNARY_FLOAT(Atanh, std::atanh(v))
ONNXC_UNARY_FLOAT(Softsign, v / (T(1) + std::abs(v)))
ONNXC_UNARY_FLOAT(Softplus, v > T(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)))
ONNXC_UNARY_FLOAT(LeakyRelu, v >= T(0) ? v : v * T(ctx.attr_f("alpha", 0.01f)))
ONNXC_UNARY_FLOAT(Elu, v >= T(0) ? v : T(ctx.attr_f("alpha", 1.0f)) * (std::exp(v) - T(1)))
ONNXC_UNARY_FLOAT(Celu, std::max(T(0), v) + std::min(T(0), T(ctx.attr_f("alpha", 1.0f)) * (std::exp(v / T(ctx.attr_f("alpha", 1.0f))) - T(1))))
ONNXC_UNARY_FLOAT(ThresholdedRelu, v > T(ctx.attr_f("alpha", 1.0f)) ? v : T(0))
ONNXC_UNARY_FLOAT(Mish, v * std::tanh(v > T(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v))))

absl::Status SeluKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  float alpha = c.attr_f("alpha", 1.67326319217681884765625f);
  float gamma = c.attr_f("gamma", 1.05070102214813232421875f);
  if (x.type != TP::FLOAT) return c.Error("Selu needs float");
  c.out[0] = KTensor::Alloc(x.type, x.dims);
  UnaryLoop<float>(x, &c.out[0], c.threads, [&](float v) {
    return v > 0 ? gamma * v : gamma * (alpha * std::exp(v) - alpha);
  });
  return absl::OkStatus();
}

absl::Status HardSigmoidKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  float alpha = c.attr_f("alpha", 0.2f), beta = c.attr_f("beta", 0.5f);
  if (x.type != TP::FLOAT) return c.Error("HardSigmoid needs float");
  c.out[0] = KTensor::Alloc(x.type, x.dims);
  UnaryLoop<float>(x, &c.out[0], c.threads,
                   [&](float v) { return std::max(0.f, std::min(1.f, alpha * v + beta)); });
  return absl::OkStatus();
}

absl::Status HardSwishKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  if (x.type != TP::FLOAT) return c.Error("HardSwish needs float");
  c.out[0] = KTensor::Alloc(x.type, x.dims);
  UnaryLoop<float>(x, &c.out[0], c.threads, [&](float v) {
    return v * std::max(0.f, std::min(1.f, v * (1.f / 6.f) + 0.5f));
  });
  return absl::OkStatus();
}


absl::Status GeluKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  if (x.type != TP::FLOAT) return c.Error("Gelu needs float");
  bool tanh_approx = c.attr_s("approximate", "none") == "tanh";
  c.out[0] = KTensor::Alloc(x.type, x.dims);
  if (tanh_approx) {
    UnaryLoop<float>(x, &c.out[0], c.threads, [&](float v) {
      return 0.5f * v * (1.f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    });
  } else {
    UnaryFloatVectorized(x, &c.out[0], c.threads, [](const auto& xi, auto& yo) {
      yo = 0.5f * xi * (1.f + (xi * 0.7071067811865476f).erf());
    });
  }
  return absl::OkStatus();
}

// Signed ops (work on every numeric type).
#define ONNXC_UNARY_NUMERIC(NAME, EXPR)                                          \
  absl::Status NAME##Kernel(OpContext& c) {                                      \
    const KTensor& x = c.input(0);                                               \
    c.out[0] = KTensor::Alloc(x.type, x.dims);                                   \
    ONNXC_DISPATCH_ALL(x.type, c,                                                \
                       UnaryLoop<T>(x, &c.out[0], c.threads,                     \
                                    [](T v) -> T { return EXPR; }));            \
    return absl::OkStatus();                                                     \
  }

template <typename T> T AbsOf(T v) {
  if constexpr (std::is_unsigned<T>::value || std::is_same<T, bool>::value) {
    return v;
  } else {
    return v < T(0) ? T(-v) : v;
  }
}
template <typename T> T NegOf(T v) {
  if constexpr (std::is_same<T, bool>::value) {
    return v;
  } else {
    return static_cast<T>(-v);
  }
}
template <typename T> T SignOf(T v) { return v > T(0) ? T(1) : (v < T(0) ? NegOf<T>(T(1)) : T(0)); }

ONNXC_UNARY_NUMERIC(Abs, AbsOf<T>(v))
ONNXC_UNARY_NUMERIC(Neg, NegOf<T>(v))
ONNXC_UNARY_NUMERIC(Relu, v > T(0) ? v : T(0))
ONNXC_UNARY_NUMERIC(Sign, SignOf<T>(v))

absl::Status NotKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  c.out[0] = KTensor::Alloc(TP::BOOL, x.dims);
  const bool* in = x.ptr<bool>();
  bool* out = c.out[0].mut<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) out[i] = !in[i];
  return absl::OkStatus();
}

absl::Status IsNaNKernel(OpContext& c) {
  KTensor x = ToFloat(c.input(0));
  c.out[0] = KTensor::Alloc(TP::BOOL, x.dims);
  for (int64_t i = 0; i < x.numel(); ++i) c.out[0].mut<bool>()[i] = std::isnan(x.ptr<float>()[i]);
  return absl::OkStatus();
}

absl::Status IsInfKernel(OpContext& c) {
  KTensor x = ToFloat(c.input(0));
  bool pos = c.attr_i("detect_positive", 1) != 0, neg = c.attr_i("detect_negative", 1) != 0;
  c.out[0] = KTensor::Alloc(TP::BOOL, x.dims);
  for (int64_t i = 0; i < x.numel(); ++i) {
    float v = x.ptr<float>()[i];
    c.out[0].mut<bool>()[i] = std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
  }
  return absl::OkStatus();
}

absl::Status IdentityKernel(OpContext& c) {
  c.out[0] = c.input(0);
  return absl::OkStatus();
}

// Inference only: a training_mode input must be a constant false.
bool DropoutSupported(const Node& n, int) {
  if (n.GetInt("is_test", 1) == 0 && n.GetInt("training_mode", 0) != 0) return false;
  const Value* t = n.input(2);
  if (t == nullptr) return true;
  const Tensor* k = t->constant();
  return k != nullptr && k->num_elements() == 1 && k->ScalarAt(0) == 0;
}

absl::Status DropoutKernel(OpContext& c) {
  c.out[0] = c.input(0);
  if (c.out.size() > 1) {
    c.out[1] = KTensor::Alloc(TP::BOOL, c.input(0).dims);
    std::memset(c.out[1].data, 1, c.out[1].nbytes());
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- binary
// out[i] = f(a[ia], b[ib]) with numpy broadcasting.
template <typename A, typename B, typename R, typename F>
absl::Status BinaryLoop(const KTensor& a, const KTensor& b, DataType out_type, KTensor* out,
                        int threads, F f) {
  auto shape = BroadcastShapes(a.dims, b.dims);
  if (!shape.ok()) return shape.status();
  *out = KTensor::Alloc(out_type, *shape);
  const A* pa = a.ptr<A>();
  const B* pb = b.ptr<B>();
  R* po = out->mut<R>();
  int64_t n = out->numel();
  if (n == 0) return absl::OkStatus();
  int64_t na = a.numel(), nb = b.numel();
  if (na == n && nb == n) {
    ParallelFor(threads, n, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
    }, 1 << 15);
    return absl::OkStatus();
  }
  if (nb == 1 && na == n) {
    B bv = pb[0];
    ParallelFor(threads, n, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], bv);
    }, 1 << 15);
    return absl::OkStatus();
  }
  if (na == 1 && nb == n) {
    A av = pa[0];
    for (int64_t i = 0; i < n; ++i) po[i] = f(av, pb[i]);
    return absl::OkStatus();
  }
  const std::vector<int64_t>& od = *shape;
  int64_t r = static_cast<int64_t>(od.size());
  std::vector<int64_t> sa = BroadcastStrides(a.dims, od), sb = BroadcastStrides(b.dims, od);
  int64_t inner = od[r - 1];
  int64_t ia_step = sa[r - 1], ib_step = sb[r - 1];
  int64_t rows = n / inner;
  auto do_rows = [&](int64_t rs, int64_t re) {
    std::vector<int64_t> idx(r, 0);
    int64_t rem = rs;
    for (int64_t d = r - 2; d >= 0; --d) {
      idx[d] = rem % od[d];
      rem /= od[d];
    }
    for (int64_t row = rs; row < re; ++row) {
      int64_t oa = 0, ob = 0;
      for (int64_t d = 0; d < r - 1; ++d) {
        oa += idx[d] * sa[d];
        ob += idx[d] * sb[d];
      }
      R* o = po + row * inner;
      const A* xa = pa + oa;
      const B* xb = pb + ob;
      if (ia_step == 1 && ib_step == 0) {
        B bv = *xb;
        for (int64_t i = 0; i < inner; ++i) o[i] = f(xa[i], bv);
      } else if (ia_step == 0 && ib_step == 1) {
        A av = *xa;
        for (int64_t i = 0; i < inner; ++i) o[i] = f(av, xb[i]);
      } else if (ia_step == 1 && ib_step == 1) {
        for (int64_t i = 0; i < inner; ++i) o[i] = f(xa[i], xb[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) o[i] = f(xa[i * ia_step], xb[i * ib_step]);
      }
      for (int64_t d = r - 2; d >= 0; --d) {
        if (++idx[d] < od[d]) break;
        idx[d] = 0;
      }
    }
  };
  ParallelFor(threads, rows, do_rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(inner, 1)));
  return absl::OkStatus();
}

template <typename T> T PyMod(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    T m = std::fmod(a, b);
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
  } else if constexpr (std::is_same<T, bool>::value) {
    return a;
  } else {
    if (b == 0) return 0;
    T m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
  }
}
template <typename T> T MulOf(T a, T b) {
  if constexpr (std::is_same<T, bool>::value) {
    return a && b;
  } else {
    return static_cast<T>(a * b);
  }
}
template <typename T> T FModOf(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    return std::fmod(a, b);
  } else if constexpr (std::is_same<T, bool>::value) {
    return a;
  } else {
    return b == 0 ? T(0) : static_cast<T>(a % b);
  }
}
template <typename T> T DivOf(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    return a / b;
  } else if constexpr (std::is_same<T, bool>::value) {
    return a;
  } else {
    return b == 0 ? T(0) : static_cast<T>(a / b);
  }
}

// Opset < 7: `broadcast=1` with `axis` aligns B to A starting at `axis`.
KTensor LegacyBroadcast(const OpContext& c, const KTensor& a, const KTensor& b) {
  if (c.opset >= 7 || c.attr_i("broadcast", 0) == 0 || !c.has_attr("axis")) return b;
  int64_t axis = NormAxis(c.attr_i("axis", 0), a.rank());
  std::vector<int64_t> d = b.dims;
  while (static_cast<int64_t>(d.size()) + axis < a.rank()) d.push_back(1);
  return b.Reshaped(d);
}

#define ONNXC_BINARY_SAME(NAME, EXPR)                                                       \
  absl::Status NAME##Kernel(OpContext& c) {                                                 \
    const KTensor& a = c.input(0);                                                          \
    const KTensor b = LegacyBroadcast(c, a, c.input(1));                                    \
    if (a.type != b.type) return c.Error("input types differ");                            \
    ONNXC_DISPATCH_ALL(a.type, c,                                                           \
                       return (BinaryLoop<T, T, T>(a, b, a.type, &c.out[0], c.threads,      \
                                                   [](T x, T y) -> T { return EXPR; })));  \
    return absl::OkStatus();                                                                \
  }

ONNXC_BINARY_SAME(Add, static_cast<T>(x + y))
ONNXC_BINARY_SAME(Sub, static_cast<T>(x - y))
ONNXC_BINARY_SAME(Mul, MulOf<T>(x, y))
ONNXC_BINARY_SAME(Div, DivOf<T>(x, y))

absl::Status ModKernel(OpContext& c) {
  const KTensor& a = c.input(0);
  const KTensor& b = c.input(1);
  bool fmod = c.attr_i("fmod", 0) != 0;
  if (fmod) {
    ONNXC_DISPATCH_ALL(a.type, c, return (BinaryLoop<T, T, T>(a, b, a.type, &c.out[0], c.threads,
                                                            [](T x, T y) -> T { return FModOf<T>(x, y); })));
  }
  ONNXC_DISPATCH_ALL(a.type, c, return (BinaryLoop<T, T, T>(a, b, a.type, &c.out[0], c.threads,
                                                          [](T x, T y) -> T { return PyMod<T>(x, y); })));
  return absl::OkStatus();
}

absl::Status PowKernel(OpContext& c) {
  const KTensor& a = c.input(0);
  KTensor b = c.input(1);
  if (a.type == TP::FLOAT) {
    if (b.type != TP::FLOAT) b = ToFloat(b);
    return BinaryLoop<float, float, float>(a, b, a.type, &c.out[0], c.threads,
                                           [](float x, float y) {
                                             if (y == 2.f) return x * x;
                                             if (y == 0.5f) return std::sqrt(x);
                                             return std::pow(x, y);
                                           });
  }
  if (a.type == TP::DOUBLE) {
    b = CastTo(b, TP::DOUBLE);
    return BinaryLoop<double, double, double>(a, b, a.type, &c.out[0], c.threads,
                                              [](double x, double y) { return std::pow(x, y); });
  }
  KTensor ad = CastTo(a, TP::DOUBLE), bd = CastTo(b, TP::DOUBLE);
  KTensor tmp;
  auto st = BinaryLoop<double, double, double>(ad, bd, TP::DOUBLE, &tmp, c.threads,
                                               [](double x, double y) { return std::pow(x, y); });
  if (!st.ok()) return st;
  c.out[0] = CastTo(tmp, a.type);
  return absl::OkStatus();
}

#define ONNXC_COMPARE(NAME, EXPR)                                                         \
  absl::Status NAME##Kernel(OpContext& c) {                                               \
    const KTensor& a = c.input(0);                                                        \
    const KTensor& b = c.input(1);                                                        \
    if (a.type != b.type) return c.Error("input types differ");                          \
    ONNXC_DISPATCH_ALL(a.type, c,                                                         \
                       return (BinaryLoop<T, T, bool>(a, b, TP::BOOL, &c.out[0], c.threads, \
                                                      [](T x, T y) { return EXPR; })));  \
    return absl::OkStatus();                                                              \
  }

ONNXC_COMPARE(Equal, x == y)
ONNXC_COMPARE(Less, x < y)
ONNXC_COMPARE(Greater, x > y)
ONNXC_COMPARE(LessOrEqual, x <= y)
ONNXC_COMPARE(GreaterOrEqual, x >= y)

#define ONNXC_LOGIC(NAME, EXPR)                                                           \
  absl::Status NAME##Kernel(OpContext& c) {                                               \
    return BinaryLoop<bool, bool, bool>(c.input(0), c.input(1), TP::BOOL, &c.out[0],      \
                                        c.threads, [](bool x, bool y) { return EXPR; });  \
  }
ONNXC_LOGIC(And, x && y)
ONNXC_LOGIC(Or, x || y)
ONNXC_LOGIC(Xor, x != y)

absl::Status BitShiftKernel(OpContext& c) {
  bool left = c.attr_s("direction", "") == "LEFT";
  const KTensor& a = c.input(0);
  switch (a.type) {
    case TP::UINT8: return BinaryLoop<uint8_t, uint8_t, uint8_t>(a, c.input(1), a.type, &c.out[0], 1, [left](uint8_t x, uint8_t y) { return static_cast<uint8_t>(left ? x << y : x >> y); });
    case TP::UINT16: return BinaryLoop<uint16_t, uint16_t, uint16_t>(a, c.input(1), a.type, &c.out[0], 1, [left](uint16_t x, uint16_t y) { return static_cast<uint16_t>(left ? x << y : x >> y); });
    case TP::UINT32: return BinaryLoop<uint32_t, uint32_t, uint32_t>(a, c.input(1), a.type, &c.out[0], 1, [left](uint32_t x, uint32_t y) { return left ? x << y : x >> y; });
    case TP::UINT64: return BinaryLoop<uint64_t, uint64_t, uint64_t>(a, c.input(1), a.type, &c.out[0], 1, [left](uint64_t x, uint64_t y) { return left ? x << y : x >> y; });
    default: return c.Error("BitShift needs unsigned ints");
  }
}

absl::Status PReluKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  KTensor slope = c.input(1);
  // Opset < 7 allowed a slope of shape [C] against NCHW: make it unidirectional.
  if (slope.rank() == 1 && x.rank() > 2 && slope.dims[0] == x.dims[1] && slope.dims[0] != x.dims.back()) {
    std::vector<int64_t> d(x.rank() - 1, 1);
    d[0] = slope.dims[0];
    slope = slope.Reshaped(d);
  }
  ONNXC_DISPATCH_ALL(x.type, c,
                     return (BinaryLoop<T, T, T>(x, slope, x.type, &c.out[0], c.threads,
                                                 [](T v, T s) -> T { return v < T(0) ? MulOf<T>(v, s) : v; })));
  return absl::OkStatus();
}

// Variadic Sum / Max / Min / Mean.
template <typename T, typename F>
absl::Status Variadic(OpContext& c, F f) {
  KTensor acc = c.input(0);
  for (int i = 1; i < c.num_inputs(); ++i) {
    KTensor next;
    auto st = BinaryLoop<T, T, T>(acc, c.input(i), acc.type, &next, c.threads, f);
    if (!st.ok()) return st;
    acc = std::move(next);
  }
  if (c.num_inputs() == 1) {
    KTensor copy = KTensor::Alloc(acc.type, acc.dims);
    std::memcpy(copy.data, acc.data, acc.nbytes());
    acc = copy;
  }
  c.out[0] = std::move(acc);
  return absl::OkStatus();
}

absl::Status SumKernel(OpContext& c) {
  ONNXC_DISPATCH_ALL(c.input(0).type, c, return Variadic<T>(c, [](T x, T y) -> T { return static_cast<T>(x + y); }));
  return absl::OkStatus();
}
absl::Status MaxKernel(OpContext& c) {
  ONNXC_DISPATCH_ALL(c.input(0).type, c, return Variadic<T>(c, [](T x, T y) -> T {
    if constexpr (std::is_floating_point<T>::value) { if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN(); }
    return x > y ? x : y; }));
  return absl::OkStatus();
}
absl::Status MinKernel(OpContext& c) {
  ONNXC_DISPATCH_ALL(c.input(0).type, c, return Variadic<T>(c, [](T x, T y) -> T {
    if constexpr (std::is_floating_point<T>::value) { if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN(); }
    return x < y ? x : y; }));
  return absl::OkStatus();
}
absl::Status MeanKernel(OpContext& c) {
  if (c.input(0).type != TP::FLOAT) return c.Error("Mean needs float");
  auto st = Variadic<float>(c, [](float x, float y) { return x + y; });
  if (!st.ok()) return st;
  float inv = 1.f / c.num_inputs();
  float* p = c.out[0].mut<float>();
  for (int64_t i = 0; i < c.out[0].numel(); ++i) p[i] *= inv;
  return absl::OkStatus();
}

absl::Status WhereKernel(OpContext& c) {
  const KTensor& cond = c.input(0);
  const KTensor& x = c.input(1);
  const KTensor& y = c.input(2);
  auto s1 = BroadcastShapes(cond.dims, x.dims);
  if (!s1.ok()) return s1.status();
  auto s = BroadcastShapes(*s1, y.dims);
  if (!s.ok()) return s.status();
  const std::vector<int64_t>& od = *s;
  KTensor out = KTensor::Alloc(x.type, od);
  std::vector<int64_t> sc = BroadcastStrides(cond.dims, od), sx = BroadcastStrides(x.dims, od),
                       sy = BroadcastStrides(y.dims, od);
  size_t es = ElementSize(x.type);
  int64_t n = out.numel(), r = static_cast<int64_t>(od.size());
  std::vector<int64_t> idx(r, 0);
  const char* px = static_cast<const char*>(x.data);
  const char* py = static_cast<const char*>(y.data);
  char* po = static_cast<char*>(out.data);
  for (int64_t i = 0; i < n; ++i) {
    int64_t oc = 0, ox = 0, oy = 0;
    for (int64_t d = 0; d < r; ++d) {
      oc += idx[d] * sc[d];
      ox += idx[d] * sx[d];
      oy += idx[d] * sy[d];
    }
    bool take_x = cond.ptr<bool>()[oc];
    std::memcpy(po + i * es, take_x ? px + ox * es : py + oy * es, es);
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < od[d]) break;
      idx[d] = 0;
    }
  }
  c.out[0] = std::move(out);
  return absl::OkStatus();
}

absl::Status ClipKernel(OpContext& c) {
  const KTensor& x = c.input(0);
  double lo, hi;
  if (c.opset < 11) {
    lo = c.attr_f("min", -3.402823e+38f);
    hi = c.attr_f("max", 3.402823e+38f);
  } else {
    lo = c.has(1) && c.input(1).numel() > 0 ? c.input(1).At(0) : -INFINITY;
    hi = c.has(2) && c.input(2).numel() > 0 ? c.input(2).At(0) : INFINITY;
  }
  c.out[0] = KTensor::Alloc(x.type, x.dims);
  ONNXC_DISPATCH_ALL(x.type, c, {
    T l, h;
    if (std::is_floating_point<T>::value) {
      l = static_cast<T>(lo);
      h = static_cast<T>(hi);
    } else {
      l = std::isinf(lo) ? std::numeric_limits<T>::lowest() : static_cast<T>(lo);
      h = std::isinf(hi) ? std::numeric_limits<T>::max() : static_cast<T>(hi);
    }
    UnaryLoop<T>(x, &c.out[0], c.threads, [l, h](T v) -> T { return v < l ? l : (v > h ? h : v); });
  });
  return absl::OkStatus();
}

constexpr int kMax = 1000;

ONNXC_REGISTER_KERNEL("Sigmoid", 1, kMax, SigmoidKernel);
ONNXC_REGISTER_KERNEL("Tanh", 1, kMax, TanhKernel);
ONNXC_REGISTER_KERNEL("Erf", 9, kMax, ErfKernel);
ONNXC_REGISTER_KERNEL("Sqrt", 1, kMax, SqrtKernel);
ONNXC_REGISTER_KERNEL("Exp", 1, kMax, ExpKernel);
ONNXC_REGISTER_KERNEL("Log", 1, kMax, LogKernel);
ONNXC_REGISTER_KERNEL("Reciprocal", 1, kMax, ReciprocalKernel);
ONNXC_REGISTER_KERNEL("Floor", 1, kMax, FloorKernel);
ONNXC_REGISTER_KERNEL("Ceil", 1, kMax, CeilKernel);
ONNXC_REGISTER_KERNEL("Round", 11, kMax, RoundKernel);
ONNXC_REGISTER_KERNEL("Sin", 7, kMax, SinKernel);
ONNXC_REGISTER_KERNEL("Cos", 7, kMax, CosKernel);
ONNXC_REGISTER_KERNEL("Tan", 7, kMax, TanKernel);
ONNXC_REGISTER_KERNEL("Asin", 7, kMax, AsinKernel);
ONNXC_REGISTER_KERNEL("Acos", 7, kMax, AcosKernel);
ONNXC_REGISTER_KERNEL("Atan", 7, kMax, AtanKernel);
ONNXC_REGISTER_KERNEL("Sinh", 9, kMax, SinhKernel);
ONNXC_REGISTER_KERNEL("Cosh", 9, kMax, CoshKernel);
ONNXC_REGISTER_KERNEL("Asinh", 9, kMax, AsinhKernel);
ONNXC_REGISTER_KERNEL("Acosh", 9, kMax, AcoshKernel);
ONNXC_REGISTER_KERNEL("Atanh", 9, kMax, AtanhKernel);
ONNXC_REGISTER_KERNEL("Softsign", 1, kMax, SoftsignKernel);
ONNXC_REGISTER_KERNEL("Softplus", 1, kMax, SoftplusKernel);
ONNXC_REGISTER_KERNEL("LeakyRelu", 1, kMax, LeakyReluKernel);
ONNXC_REGISTER_KERNEL("Elu", 1, kMax, EluKernel);
ONNXC_REGISTER_KERNEL("Celu", 12, kMax, CeluKernel);
ONNXC_REGISTER_KERNEL("ThresholdedRelu", 10, kMax, ThresholdedReluKernel);
ONNXC_REGISTER_KERNEL("Mish", 18, kMax, MishKernel);
ONNXC_REGISTER_KERNEL("Selu", 1, kMax, SeluKernel);
ONNXC_REGISTER_KERNEL("HardSigmoid", 1, kMax, HardSigmoidKernel);
ONNXC_REGISTER_KERNEL("HardSwish", 14, kMax, HardSwishKernel);
ONNXC_REGISTER_KERNEL("Gelu", 1, kMax, GeluKernel);
ONNXC_REGISTER_KERNEL("Abs", 1, kMax, AbsKernel);
ONNXC_REGISTER_KERNEL("Neg", 1, kMax, NegKernel);
ONNXC_REGISTER_KERNEL("Relu", 1, kMax, ReluKernel);
ONNXC_REGISTER_KERNEL("Sign", 9, kMax, SignKernel);
ONNXC_REGISTER_KERNEL("Not", 1, kMax, NotKernel);
ONNXC_REGISTER_KERNEL("IsNaN", 9, kMax, IsNaNKernel);
ONNXC_REGISTER_KERNEL("IsInf", 10, kMax, IsInfKernel);
ONNXC_REGISTER_KERNEL("Identity", 1, kMax, IdentityKernel);
ONNXC_REGISTER_KERNEL("Dropout", 1, kMax, DropoutKernel, DropoutSupported);
ONNXC_REGISTER_KERNEL("Add", 1, kMax, AddKernel);
ONNXC_REGISTER_KERNEL("Sub", 1, kMax, SubKernel);
ONNXC_REGISTER_KERNEL("Mul", 1, kMax, MulKernel);
ONNXC_REGISTER_KERNEL("Div", 1, kMax, DivKernel);
ONNXC_REGISTER_KERNEL("Mod", 10, kMax, ModKernel);
ONNXC_REGISTER_KERNEL("Pow", 7, kMax, PowKernel);
ONNXC_REGISTER_KERNEL("Equal", 1, kMax, EqualKernel);
ONNXC_REGISTER_KERNEL("Less", 1, kMax, LessKernel);
ONNXC_REGISTER_KERNEL("Greater", 1, kMax, GreaterKernel);
ONNXC_REGISTER_KERNEL("LessOrEqual", 12, kMax, LessOrEqualKernel);
ONNXC_REGISTER_KERNEL("GreaterOrEqual", 12, kMax, GreaterOrEqualKernel);
ONNXC_REGISTER_KERNEL("And", 1, kMax, AndKernel);
ONNXC_REGISTER_KERNEL("Or", 1, kMax, OrKernel);
ONNXC_REGISTER_KERNEL("Xor", 1, kMax, XorKernel);
ONNXC_REGISTER_KERNEL("BitShift", 11, kMax, BitShiftKernel);
ONNXC_REGISTER_KERNEL("PRelu", 1, kMax, PReluKernel);
ONNXC_REGISTER_KERNEL("Sum", 8, kMax, SumKernel);
ONNXC_REGISTER_KERNEL("Max", 8, kMax, MaxKernel);
ONNXC_REGISTER_KERNEL("Min", 8, kMax, MinKernel);
ONNXC_REGISTER_KERNEL("Mean", 8, kMax, MeanKernel);
ONNXC_REGISTER_KERNEL("Where", 9, kMax, WhereKernel);
ONNXC_REGISTER_KERNEL("Clip", 6, kMax, ClipKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
