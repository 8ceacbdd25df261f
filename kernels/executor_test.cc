// Executor behaviour: observer, memory freeing, dynamic batch, unsupported-op
// listing, If/Loop with outer-scope captures, RunNode.
#include "kernels/executor.h"

#include <cstring>
#include <map>

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

ExecutorOptions Opts(int opset = 17) {
  ExecutorOptions o;
  o.threads = 2;
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
