// Executor behaviour: observer, memory freeing, dynamic batch, unsupported-op
// listing, If/Loop with outer-scope captures, RunNode.
#include "kernels/executor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "ir/attribute.h"
#include "ir/graph.h"

namespace onnxc {
namespace {

Tensor Floats(std::vector<int64_t> dims, std::vector<float> v) {
  Tensor t(onnx::TensorProto::FLOAT, std::move(dims));
  std::memcpy(t.mutable_raw(), v.data(), v.size() * 4);
  return t;
}

Tensor Filled(std::vector<int64_t> dims, float v) {
  Tensor t(onnx::TensorProto::FLOAT, std::move(dims));
  float* p = t.mutable_data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = v;
  return t;
}

ExecutorOptions Opts(int opset = 17, int threads = 2) {
  ExecutorOptions o;
  o.threads = threads;
  o.opset = opset;
  return o;
}

// x -> Relu -> Add(c) -> Relu -> Add(c) ... `n` nodes.
std::unique_ptr<Graph> Chain(int n, int64_t size) {
  auto g = std::make_unique<Graph>();
  Value* x = g->AddInput("x");
  Value* c = g->AddInitializer("c", Filled({size}, 1.f));
  Value* cur = x;
  for (int i = 0; i < n; ++i) {
    Node* node = i % 2 == 0 ? g->CreateNode("Relu", {cur}, 1) : g->CreateNode("Add", {cur, c}, 1);
    cur = node->output(0);
  }
  g->AddOutput(cur);
  return g;
}

// Conv fast paths (depthwise padded-plane loop, blocked im2col GEMM, 1x1
// without im2col, bias and Clip in the epilogue) against a direct loop, for
// strides, pads (asymmetric too), dilations and groups, at 1 and 2 threads,
// fused (no observer) and not.
struct ConvCase {
  int64_t n, c, h, w, m, k, stride, dil, group;
  std::vector<int64_t> pads;  // t, l, b, r
};

std::vector<float> RefConv(const ConvCase& cc, const std::vector<float>& x,
                           const std::vector<float>& wt, const std::vector<float>& b, float lo,
                           float hi, int64_t* oh, int64_t* ow) {
  int64_t ek = (cc.k - 1) * cc.dil + 1;
  *oh = (cc.h + cc.pads[0] + cc.pads[2] - ek) / cc.stride + 1;
  *ow = (cc.w + cc.pads[1] + cc.pads[3] - ek) / cc.stride + 1;
  int64_t cg = cc.c / cc.group, mg = cc.m / cc.group;
  std::vector<float> y(cc.n * cc.m * *oh * *ow);
  for (int64_t n = 0; n < cc.n; ++n)
    for (int64_t m = 0; m < cc.m; ++m)
      for (int64_t i = 0; i < *oh; ++i)
        for (int64_t j = 0; j < *ow; ++j) {
          double acc = b[m];
          int64_t gi = m / mg;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t p = 0; p < cc.k; ++p)
              for (int64_t q = 0; q < cc.k; ++q) {
                int64_t ih = i * cc.stride - cc.pads[0] + p * cc.dil;
                int64_t iw = j * cc.stride - cc.pads[1] + q * cc.dil;
                if (ih < 0 || ih >= cc.h || iw < 0 || iw >= cc.w) continue;
                acc += static_cast<double>(wt[((m * cg + ci) * cc.k + p) * cc.k + q]) *
                       x[((n * cc.c + gi * cg + ci) * cc.h + ih) * cc.w + iw];
              }
          float v = static_cast<float>(acc);
          y[((n * cc.m + m) * *oh + i) * *ow + j] = std::min(hi, std::max(lo, v));
        }
  return y;
}

TEST(Executor, ConvFastPathsMatchDirectLoop) {
  std::vector<ConvCase> cases = {
      {1, 8, 9, 11, 8, 3, 1, 1, 8, {1, 1, 1, 1}},     // depthwise 3x3 s1
      {2, 6, 12, 13, 6, 3, 2, 1, 6, {1, 1, 1, 1}},    // depthwise 3x3 s2, odd width
      {1, 4, 10, 10, 4, 3, 2, 1, 4, {0, 1, 1, 0}},    // depthwise s2, asymmetric pads
      {1, 3, 9, 9, 3, 5, 1, 2, 3, {2, 3, 1, 0}},      // depthwise 5x5 dilated
      {1, 5, 11, 9, 5, 3, 3, 1, 5, {1, 0, 2, 1}},     // depthwise stride 3
      {2, 7, 9, 10, 12, 3, 1, 1, 1, {1, 1, 1, 1}},    // dense 3x3
      {1, 16, 14, 14, 40, 3, 2, 1, 1, {1, 1, 1, 1}},  // dense 3x3 s2, many rows (row split)
      {2, 8, 7, 9, 6, 1, 1, 1, 1, {0, 0, 0, 0}},      // 1x1
      {1, 8, 9, 9, 6, 1, 2, 1, 1, {0, 0, 0, 0}},      // 1x1 strided (im2col)
      {1, 8, 8, 8, 12, 3, 1, 1, 4, {1, 1, 1, 1}},     // grouped
      {1, 3, 70, 90, 8, 7, 2, 1, 1, {3, 3, 3, 3}},    // 7x7 s2, several column blocks
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const ConvCase& cc = cases[ci];
    std::vector<float> x(cc.n * cc.c * cc.h * cc.w), wt(cc.m * (cc.c / cc.group) * cc.k * cc.k),
        b(cc.m);
    uint32_t seed = 12345 + ci;
    auto rnd = [&] {
      seed = seed * 1664525u + 1013904223u;
      return static_cast<float>((seed >> 8) % 2001) / 1000.f - 1.f;
    };
    for (float& v : x) v = rnd();
    for (float& v : wt) v = rnd();
    for (float& v : b) v = rnd();
    int64_t oh, ow;
    std::vector<float> want = RefConv(cc, x, wt, b, -0.5f, 0.75f, &oh, &ow);
    Graph g;
    Value* xv = g.AddInput("x");
    Value* wv = g.AddInitializer("w", Floats({cc.m, cc.c / cc.group, cc.k, cc.k}, wt));
    Value* bv = g.AddInitializer("b", Floats({cc.m}, b));
    Value* lo = g.AddInitializer("lo", Floats({}, {-0.5f}));
    Value* hi = g.AddInitializer("hi", Floats({}, {0.75f}));
    Node* conv = g.CreateNode("Conv", {xv, wv, bv}, 1);
    conv->SetAttr(Attribute::Ints("strides", {cc.stride, cc.stride}));
    conv->SetAttr(Attribute::Ints("dilations", {cc.dil, cc.dil}));
    conv->SetAttr(Attribute::Ints("pads", cc.pads));
    conv->SetAttr(Attribute::Int("group", cc.group));
    Node* clip = g.CreateNode("Clip", {conv->output(0), lo, hi}, 1);
    g.AddOutput(clip->output(0));
    for (int threads : {1, 2}) {
      auto ex = Executor::Create(g, Opts(17, threads));
      ASSERT_TRUE(ex.ok()) << ex.status();
      Observer obs = [](const Value&, const TensorView&) {};
      for (const Observer* ob : std::vector<const Observer*>{nullptr, &obs}) {
        for (int rep = 0; rep < 2; ++rep) {  // second run: recycled buffers
          auto out = (*ex)->Run({{"x", Floats({cc.n, cc.c, cc.h, cc.w}, x)}}, ob);
          ASSERT_TRUE(out.ok()) << out.status();
          const Tensor& y = (*out)[0];
          ASSERT_EQ(y.dims(), (std::vector<int64_t>{cc.n, cc.m, oh, ow})) << "case " << ci;
          const float* got = y.data<float>();
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_NEAR(got[i], want[i], 1e-4f)
                << "case " << ci << " threads " << threads << " fused " << (ob == nullptr)
                << " at " << i;
          }
        }
      }
    }
  }
}

// ConvInteger's accumulators (the direct depthwise loop, the 2-D im2col, and
// the general path for 1-D) against a scalar loop over the ONNX definition:
// sum over taps inside the image of (x - zx)(w - zw[m]).
TEST(Executor, ConvIntegerMatchesScalarLoop) {
  struct Case {
    int64_t n, c, h, w, m, k, stride, dil, group;
    std::vector<int64_t> pads;
    bool signed_w;
  };
  const std::vector<Case> cases = {
      {1, 8, 9, 11, 8, 3, 1, 1, 8, {1, 1, 1, 1}, true},   // depthwise 3x3
      {2, 6, 12, 13, 6, 3, 2, 1, 6, {1, 1, 1, 1}, false},  // depthwise s2, uint8 weights
      {1, 3, 9, 9, 3, 5, 1, 2, 3, {2, 3, 1, 0}, true},    // depthwise 5x5 dilated, asymmetric pads
      {1, 5, 11, 9, 5, 3, 3, 1, 5, {1, 0, 2, 1}, true},   // depthwise stride 3
      {2, 7, 9, 10, 12, 3, 1, 1, 1, {1, 1, 1, 1}, true},  // dense 3x3
      {1, 8, 8, 8, 12, 3, 2, 1, 4, {0, 1, 1, 0}, false},  // grouped, strided
      {1, 4, 1, 17, 6, 3, 1, 1, 1, {1, 0, 1, 2}, true},   // height 1
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& cc = cases[ci];
    const int64_t cg = cc.c / cc.group, mg = cc.m / cc.group;
    uint32_t seed = 777 + ci;
    auto rnd = [&](int lo, int hi) {
      seed = seed * 1664525u + 1013904223u;
      return lo + static_cast<int>((seed >> 8) % static_cast<uint32_t>(hi - lo + 1));
    };
    Tensor x(onnx::TensorProto::UINT8, {cc.n, cc.c, cc.h, cc.w});
    Tensor w(cc.signed_w ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8, {cc.m, cg, cc.k, cc.k});
    Tensor zx(onnx::TensorProto::UINT8, {}), zw(w.type(), {cc.m});
    for (int64_t i = 0; i < x.num_elements(); ++i) x.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(rnd(0, 255));
    std::vector<int> wv(w.num_elements()), zwv(cc.m);
    for (int& v : wv) v = cc.signed_w ? rnd(-128, 127) : rnd(0, 255);
    for (int& v : zwv) v = cc.signed_w ? rnd(-5, 5) : rnd(120, 135);
    for (size_t i = 0; i < wv.size(); ++i) {
      if (cc.signed_w) w.mutable_data<int8_t>()[i] = static_cast<int8_t>(wv[i]);
      else w.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(wv[i]);
    }
    for (int64_t i = 0; i < cc.m; ++i) {
      if (cc.signed_w) zw.mutable_data<int8_t>()[i] = static_cast<int8_t>(zwv[i]);
      else zw.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(zwv[i]);
    }
    const int zxv = 7;
    zx.mutable_data<uint8_t>()[0] = zxv;
    const int64_t kext = (cc.k - 1) * cc.dil + 1;
    const int64_t oh = (cc.h + cc.pads[0] + cc.pads[2] - kext) / cc.stride + 1;
    const int64_t ow = (cc.w + cc.pads[1] + cc.pads[3] - kext) / cc.stride + 1;
    std::vector<int32_t> want(cc.n * cc.m * oh * ow, 0);
    const uint8_t* xd = x.data<uint8_t>();
    for (int64_t b = 0; b < cc.n; ++b)
      for (int64_t mo = 0; mo < cc.m; ++mo)
        for (int64_t y = 0; y < oh; ++y)
          for (int64_t z = 0; z < ow; ++z) {
            int32_t acc = 0;
            for (int64_t i = 0; i < cg; ++i)
              for (int64_t r = 0; r < cc.k; ++r)
                for (int64_t q = 0; q < cc.k; ++q) {
                  const int64_t iy = y * cc.stride - cc.pads[0] + r * cc.dil, iz = z * cc.stride - cc.pads[1] + q * cc.dil;
                  if (iy < 0 || iy >= cc.h || iz < 0 || iz >= cc.w) continue;
                  const int64_t ch = (mo / mg) * cg + i;
                  acc += (xd[((b * cc.c + ch) * cc.h + iy) * cc.w + iz] - zxv) *
                         (wv[((mo * cg + i) * cc.k + r) * cc.k + q] - zwv[mo]);
                }
            want[((b * cc.m + mo) * oh + y) * ow + z] = acc;
          }
    Graph g;
    Value* xv = g.AddInput("x");
    Node* conv = g.CreateNode("ConvInteger", {xv, g.AddInitializer("w", std::move(w)), g.AddInitializer("zx", std::move(zx)),
                                              g.AddInitializer("zw", std::move(zw))}, 1);
    conv->SetAttr(Attribute::Ints("strides", {cc.stride, cc.stride}));
    conv->SetAttr(Attribute::Ints("dilations", {cc.dil, cc.dil}));
    conv->SetAttr(Attribute::Ints("pads", cc.pads));
    conv->SetAttr(Attribute::Int("group", cc.group));
    g.AddOutput(conv->output(0));
    for (int threads : {1, 2}) {
      auto ex = Executor::Create(g, Opts(17, threads));
      ASSERT_TRUE(ex.ok()) << ex.status();
      auto out = (*ex)->Run({{"x", x}});
      ASSERT_TRUE(out.ok()) << out.status();
      ASSERT_EQ((*out)[0].dims(), (std::vector<int64_t>{cc.n, cc.m, oh, ow})) << "case " << ci;
      const int32_t* got = (*out)[0].data<int32_t>();
      for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "case " << ci << " at " << i;
    }
  }
}

// A QDQ conv (weight and bias through DequantizeLinear of initializers): the
// fused plan makes the dequantized weight once and runs the conv fused,
// with no DequantizeLinear step per run, and computes what the observed
// plan (every node on its own) computes, to float rounding.
TEST(Executor, DequantizedWeightsAreFoldedInTheFusedPlan) {
  const int64_t C = 8, M = 12, H = 9;
  Graph g;
  Value* x = g.AddInput("x");
  Tensor wq(onnx::TensorProto::INT8, {M, C, 3, 3}), bq(onnx::TensorProto::INT32, {M});
  Tensor ws(onnx::TensorProto::FLOAT, {M}), bs(onnx::TensorProto::FLOAT, {M});
  uint32_t seed = 5;
  auto rnd = [&](int lo, int hi) {
    seed = seed * 1664525u + 1013904223u;
    return lo + static_cast<int>((seed >> 8) % static_cast<uint32_t>(hi - lo + 1));
  };
  for (int64_t i = 0; i < wq.num_elements(); ++i) wq.mutable_data<int8_t>()[i] = static_cast<int8_t>(rnd(-127, 127));
  for (int64_t m = 0; m < M; ++m) {
    ws.mutable_data<float>()[m] = 0.001f * (m + 1);
    bs.mutable_data<float>()[m] = 0.0005f * (m + 1);
    bq.mutable_data<int32_t>()[m] = rnd(-500, 500);
  }
  Node* wdq = g.CreateNode("DequantizeLinear", {g.AddInitializer("wq", std::move(wq)), g.AddInitializer("ws", std::move(ws))}, 1);
  wdq->SetAttr(Attribute::Int("axis", 0));
  Node* bdq = g.CreateNode("DequantizeLinear", {g.AddInitializer("bq", std::move(bq)), g.AddInitializer("bs", std::move(bs))}, 1);
  bdq->SetAttr(Attribute::Int("axis", 0));
  Node* conv = g.CreateNode("Conv", {x, wdq->output(0), bdq->output(0)}, 1);
  conv->SetAttr(Attribute::Ints("pads", {1, 1, 1, 1}));
  g.AddOutput(conv->output(0));
  std::vector<float> xv(C * H * H);
  for (float& v : xv) v = static_cast<float>(rnd(-1000, 1000)) / 1000.f;
  ExecutorOptions o = Opts(17, 1);
  o.profile = true;
  auto ex = Executor::Create(g, o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  const Tensor in = Floats({1, C, H, H}, xv);
  auto fused = (*ex)->Run({{"x", in}});
  ASSERT_TRUE(fused.ok()) << fused.status();
  EXPECT_EQ((*ex)->op_profile().count("DequantizeLinear"), 0u) << "the weights were dequantized on the run";
  Observer obs = [](const Value&, const TensorView&) {};
  auto observed = (*ex)->Run({{"x", in}}, &obs);
  ASSERT_TRUE(observed.ok()) << observed.status();
  EXPECT_EQ((*ex)->op_profile().count("DequantizeLinear"), 1u);
  const float* a = (*fused)[0].data<float>();
  const float* b = (*observed)[0].data<float>();
  ASSERT_EQ((*fused)[0].num_elements(), M * H * H);
  for (int64_t i = 0; i < M * H * H; ++i) ASSERT_NEAR(a[i], b[i], 1e-4f * (1.f + std::fabs(b[i]))) << i;
}

// The fused plan (no observer: Conv+BN+Add+Relu/Clip folded, activations
// kept in oneDNN layouts between convs and pools) against the observed plan
// (every node on its own, plain NCHW): residuals from a graph input (must not
// be written), from a conv (written in place), broadcast (slow path), into a
// depthwise conv; channels that nChw16c pads; batch changes between runs;
// convs large enough to be split over the threads by batch or by channels.
void CheckFusedChain(const int64_t C, const int64_t H, std::vector<int64_t> batches) {
  uint32_t seed = 777;
  auto rnd = [&](std::vector<int64_t> dims, float scale) {
    Tensor t(onnx::TensorProto::FLOAT, dims);
    float* p = t.mutable_data<float>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      seed = seed * 1664525u + 1013904223u;
      p[i] = (static_cast<float>((seed >> 8) % 2001) / 1000.f - 1.f) * scale;
    }
    return t;
  };
  Graph g;
  Value* x = g.AddInput("x");
  int uid = 0;
  auto conv = [&](Value* in, int64_t k, int64_t group, bool bn) {
    std::string id = std::to_string(uid++);
    Value* w = g.AddInitializer("w" + id, rnd({C, C / group, k, k}, 0.3f));
    Value* b = g.AddInitializer("b" + id, rnd({C}, 0.1f));
    Node* n = g.CreateNode("Conv", {in, w, b}, 1);
    n->SetAttr(Attribute::Ints("pads", {k / 2, k / 2, k / 2, k / 2}));
    n->SetAttr(Attribute::Int("group", group));
    Value* out = n->output(0);
    if (bn) {
      Tensor var = rnd({C}, 0.2f);
      for (int64_t i = 0; i < C; ++i) var.mutable_data<float>()[i] += 1.f;
      Node* bnn = g.CreateNode("BatchNormalization",
                               {out, g.AddInitializer("s" + id, rnd({C}, 1.f)),
                                g.AddInitializer("o" + id, rnd({C}, 0.1f)),
                                g.AddInitializer("m" + id, rnd({C}, 0.1f)),
                                g.AddInitializer("v" + id, std::move(var))},
                               1);
      out = bnn->output(0);
    }
    return out;
  };
  auto op = [&](const char* type, std::vector<Value*> in) {
    return g.CreateNode(type, in, 1)->output(0);
  };
  Value* lo = g.AddInitializer("lo", Floats({}, {0.f}));
  Value* hi = g.AddInitializer("hi", Floats({}, {6.f}));
  Value* a = op("Relu", {conv(x, 1, 1, false)});
  Node* mp = g.CreateNode("MaxPool", {a}, 1);
  mp->SetAttr(Attribute::Ints("kernel_shape", {3, 3}));
  mp->SetAttr(Attribute::Ints("pads", {1, 1, 1, 1}));
  Value* r1 = op("Relu", {op("Add", {conv(mp->output(0), 3, 1, true), x})});  // x: graph input
  Value* d = op("Clip", {conv(r1, 3, C, true), lo, hi});                     // depthwise
  Value* r2 = op("Add", {r1, conv(d, 1, 1, true)});                          // r1: last use
  Value* cb = g.AddInitializer("cb", rnd({C, 1, 1}, 1.f));
  Value* r3 = op("Relu", {op("Add", {conv(r2, 1, 1, false), cb})});  // broadcast
  Value* r4 = op("Add", {conv(r3, 1, 1, true), r2});
  Value* h = op("Add", {conv(r4, 3, C, false), r3});  // depthwise + residual
  g.AddOutput(h);
  g.AddOutput(op("GlobalAveragePool", {h}));
  for (int threads : {1, 2}) {
    auto ex = Executor::Create(g, Opts(17, threads));
    ASSERT_TRUE(ex.ok()) << ex.status();
    Observer obs = [](const Value&, const TensorView&) {};
    for (int64_t n : batches) {
      Tensor in = rnd({n, C, H, H}, 1.f);
      std::vector<float> before(in.data<float>(), in.data<float>() + in.num_elements());
      auto want = (*ex)->Run({{"x", in}}, &obs);
      ASSERT_TRUE(want.ok()) << want.status();
      auto got = (*ex)->Run({{"x", in}});
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(std::equal(before.begin(), before.end(), in.data<float>()))
          << "the fused plan wrote into its input";
      ASSERT_EQ(got->size(), want->size());
      for (size_t k = 0; k < got->size(); ++k) {
        const Tensor& gt = (*got)[k];
        const Tensor& wt = (*want)[k];
        ASSERT_EQ(gt.dims(), wt.dims());
        for (int64_t i = 0; i < wt.num_elements(); ++i) {
          float w = wt.data<float>()[i];
          ASSERT_NEAR(gt.data<float>()[i], w, 1e-4f + 1e-4f * std::fabs(w))
              << "output " << k << " at " << i << " threads " << threads << " batch " << n
              << " channels " << C;
        }
      }
    }
  }
}

TEST(Executor, FusedConvChainsMatchObservedRun) {
  CheckFusedChain(24, 9, {1, 2, 1});
  CheckFusedChain(40, 48, {1, 2});  // 3x3 convs split: 16 + 24 channels
  CheckFusedChain(96, 112, {1});    // depthwise split too
}

TEST(Executor, ObserverSeesEveryTensorOnce) {
  auto g = Chain(7, 16);
  auto ex = Executor::Create(*g, Opts());
  ASSERT_TRUE(ex.ok()) << ex.status();
  std::map<std::string, int> seen;
  std::map<std::string, float> first;
  Observer obs = [&](const Value& v, const TensorView& t) {
    ++seen[v.name()];
    ASSERT_EQ(t.type, onnx::TensorProto::FLOAT);
    ASSERT_EQ(t.num_elements(), 16);
    first[v.name()] = t.span<float>()[0];
  };
  auto out = (*ex)->Run({{"x", Filled({16}, -3.f)}}, &obs);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(seen.size(), 8u);  // input + 7 node outputs
  for (auto& [name, n] : seen) EXPECT_EQ(n, 1) << name;
  EXPECT_EQ(seen.count("x"), 1u);
  EXPECT_EQ(seen.count("c"), 0u);  // weights are not activations
  for (const auto& node : g->nodes()) EXPECT_EQ(seen[node->output(0)->name()], 1);
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[0], 3.f);  // relu(-3) = 0, then three "+1"s
}

TEST(Executor, FreesIntermediatesAfterLastUse) {
  const int64_t size = 1 << 16;  // 256 KiB tensors
  int64_t peaks[2];
  int lengths[2] = {10, 200};
  for (int k = 0; k < 2; ++k) {
    auto g = Chain(lengths[k], size);
    auto ex = Executor::Create(*g, Opts());
    ASSERT_TRUE(ex.ok()) << ex.status();
    auto out = (*ex)->Run({{"x", Filled({size}, 1.f)}});
    ASSERT_TRUE(out.ok()) << out.status();
    peaks[k] = (*ex)->peak_live_bytes();
  }
  // Input + at most two live intermediates, whatever the chain length.
  EXPECT_LE(peaks[0], 3 * size * 4);
  EXPECT_EQ(peaks[0], peaks[1]);
}

TEST(Executor, DynamicBatch) {
  Graph g;
  Value* x = g.AddInput("x");
  Value* w = g.AddInitializer("w", Floats({3, 2}, {1, 0, 0, 1, 1, 1}));
  Node* mm = g.CreateNode("MatMul", {x, w}, 1);
  Node* relu = g.CreateNode("Relu", {mm->output(0)}, 1);
  g.AddOutput(relu->output(0));
  auto ex = Executor::Create(g, Opts());
  ASSERT_TRUE(ex.ok()) << ex.status();
  for (int64_t batch : {1, 4, 2}) {
    std::vector<float> v(batch * 3);
    for (int64_t i = 0; i < batch * 3; ++i) v[i] = static_cast<float>(i) - 2;
    auto out = (*ex)->Run({{"x", Floats({batch, 3}, v)}});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ((*out)[0].dims(), (std::vector<int64_t>{batch, 2}));
    for (int64_t b = 0; b < batch; ++b) {
      float a0 = v[b * 3], a1 = v[b * 3 + 1], a2 = v[b * 3 + 2];
      EXPECT_FLOAT_EQ((*out)[0].data<float>()[b * 2], std::max(0.f, a0 + a2));
      EXPECT_FLOAT_EQ((*out)[0].data<float>()[b * 2 + 1], std::max(0.f, a1 + a2));
    }
  }
}

TEST(Executor, UnsupportedOpsAreAllListedBeforeRunning) {
  Graph g;
  Value* x = g.AddInput("x");
  Node* a = g.CreateNode("FancyOp", {x}, 1, nullptr, "fancy1");
  Node* b = g.CreateNode("FancyOp", {a->output(0)}, 1, nullptr, "fancy2");
  Node* c = g.CreateNode("Relu", {b->output(0)}, 1, nullptr, "relu");
  Node* d = g.CreateNode("Quux", {c->output(0)}, 1, nullptr, "quux", "com.example");
  g.AddOutput(d->output(0));
  auto ex = Executor::Create(g, Opts());
  ASSERT_FALSE(ex.ok());
  std::string msg(ex.status().message());
  EXPECT_EQ(ex.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(absl::StrContains(msg, "FancyOp")) << msg;
  EXPECT_TRUE(absl::StrContains(msg, "fancy1")) << msg;
  EXPECT_TRUE(absl::StrContains(msg, "fancy2")) << msg;
  EXPECT_TRUE(absl::StrContains(msg, "Quux")) << msg;
  EXPECT_TRUE(absl::StrContains(msg, "com.example")) << msg;
  EXPECT_TRUE(absl::StrContains(msg, "2 op type(s)")) << msg;
  EXPECT_FALSE(absl::StrContains(msg, "Relu")) << msg;
}

Attribute GraphAttribute(const std::string& name, std::unique_ptr<Graph> body) {
  onnx::AttributeProto p;
  p.set_name(name);
  p.set_type(onnx::AttributeProto::GRAPH);
  Attribute a(p);
  a.add_graph(std::move(body));
  return a;
}

TEST(Executor, IfCapturesOuterValues) {
  Graph g;
  Value* cond = g.AddInput("cond");
  Value* x = g.AddInput("x");
  Value* y = g.CreateNode("Relu", {x}, 1)->output(0);  // computed outside, captured inside
  Node* iff = g.CreateNode("If", {cond}, 1);
  auto then_g = std::make_unique<Graph>(iff);
  then_g->AddOutput(then_g->CreateNode("Add", {y, x}, 1)->output(0));
  auto else_g = std::make_unique<Graph>(iff);
  else_g->AddOutput(else_g->CreateNode("Mul", {y, y}, 1)->output(0));
  iff->SetAttr(GraphAttribute("then_branch", std::move(then_g)));
  iff->SetAttr(GraphAttribute("else_branch", std::move(else_g)));
  g.AddOutput(iff->output(0));
  auto ex = Executor::Create(g, Opts());
  ASSERT_TRUE(ex.ok()) << ex.status();
  Tensor t(onnx::TensorProto::BOOL, {});
  t.mutable_data<bool>()[0] = true;
  Tensor f(onnx::TensorProto::BOOL, {});
  auto a = (*ex)->Run({{"cond", t}, {"x", Floats({2}, {3, -1})}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FLOAT_EQ((*a)[0].data<float>()[0], 6.f);
  EXPECT_FLOAT_EQ((*a)[0].data<float>()[1], -1.f);
  auto b = (*ex)->Run({{"cond", f}, {"x", Floats({2}, {3, -1})}});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FLOAT_EQ((*b)[0].data<float>()[0], 9.f);
  EXPECT_FLOAT_EQ((*b)[0].data<float>()[1], 0.f);
}

TEST(Executor, LoopCapturesOuterValuesAndScans) {
  Graph g;
  Value* trip = g.AddInitializer("trip", [] {
    Tensor t(onnx::TensorProto::INT64, {});
    t.mutable_data<int64_t>()[0] = 3;
    return t;
  }());
  Value* step = g.AddInput("step");
  Value* init = g.AddInput("init");
  Value* doubled = g.CreateNode("Add", {step, step}, 1)->output(0);  // captured
  Node* loop = g.CreateNodeWithOutputs("Loop", {trip, nullptr, init}, {"final", "scan"});
  auto body = std::make_unique<Graph>(loop);
  body->AddInput("i");
  Value* cin = body->AddInput("cond_in");
  Value* acc = body->AddInput("acc");
  Value* next = body->CreateNode("Add", {acc, doubled}, 1)->output(0);
  Value* cout = body->CreateNode("Identity", {cin}, 1)->output(0);
  Value* scan = body->CreateNode("Identity", {next}, 1)->output(0);
  body->AddOutput(cout);
  body->AddOutput(next);
  body->AddOutput(scan);
  loop->SetAttr(GraphAttribute("body", std::move(body)));
  g.AddOutput(loop->output(0));
  g.AddOutput(loop->output(1));
  auto ex = Executor::Create(g, Opts());
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto out = (*ex)->Run({{"step", Floats({1}, {1.5f})}, {"init", Floats({1}, {10})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[0], 19.f);
  ASSERT_EQ((*out)[1].dims(), (std::vector<int64_t>{3, 1}));
  EXPECT_FLOAT_EQ((*out)[1].data<float>()[0], 13.f);
  EXPECT_FLOAT_EQ((*out)[1].data<float>()[1], 16.f);
  EXPECT_FLOAT_EQ((*out)[1].data<float>()[2], 19.f);
}

TEST(Executor, RunNodeFoldsOneNode) {
  Graph g;
  Value* a = g.AddInput("a");
  Value* b = g.AddInput("b");
  Node* n = g.CreateNode("Add", {a, b}, 1);
  Tensor ta = Floats({2, 1}, {1, 2}), tb = Floats({3}, {10, 20, 30});
  auto out = RunNode(*n, {&ta, &tb}, 17);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ((*out)[0].dims(), (std::vector<int64_t>{2, 3}));
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[5], 32.f);
  EXPECT_TRUE(IsSupported(*n, 17));
}

TEST(Executor, ErrorsNameTheNodeAndInputs) {
  Graph g;
  Value* a = g.AddInput("a");
  Value* b = g.AddInput("b");
  Node* n = g.CreateNode("MatMul", {a, b}, 1, nullptr, "mm");
  g.AddOutput(n->output(0));
  auto ex = Executor::Create(g, Opts());
  ASSERT_TRUE(ex.ok());
  auto out = (*ex)->Run({{"a", Filled({2, 3}, 1)}, {"b", Filled({4, 2}, 1)}});
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::StrContains(out.status().message(), "mm")) << out.status();
  EXPECT_TRUE(absl::StrContains(out.status().message(), "[2,3]")) << out.status();
  auto missing = (*ex)->Run({{"a", Filled({2, 3}, 1)}});
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "missing input 'b'"));
}

}  // namespace
}  // namespace onnxc
