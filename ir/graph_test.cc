// The IR's edit API keeps producer/consumer links exact, including uses from
// inside subgraphs, and Clone shares weights copy-on-write.
#include "ir/graph.h"

#include <random>

#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"

namespace onnxc {
namespace {

std::string TestModel(const std::string& name) {
  return std::string(std::getenv("TEST_SRCDIR")) + "/onnxcompress/testdata/models/" + name;
}

Tensor Scalar(float v) {
  Tensor t(onnx::TensorProto::FLOAT, {1});
  t.mutable_data<float>()[0] = v;
  return t;
}

TEST(Graph, UsesFollowEveryEdit) {
  Graph g;
  Value* x = g.AddInput("x");
  Value* w = g.AddInitializer("w", Scalar(2));
  Node* mul = g.CreateNode("Mul", {x, w}, 1);
  Node* add = g.CreateNode("Add", {mul->output(0), x}, 1);
  g.AddOutput(add->output(0));
  EXPECT_EQ(x->uses().size(), 2u);
  EXPECT_EQ(mul->output(0)->producer(), mul);
  EXPECT_EQ(mul->output(0)->uses()[0].node, add);

  // Insert a Relu between mul and add.
  Node* relu = g.CreateNode("Relu", {mul->output(0)}, 1, add);
  add->SetInput(0, relu->output(0));
  EXPECT_EQ(mul->output(0)->uses().size(), 1u);
  EXPECT_EQ(mul->output(0)->uses()[0].node, relu);
  ASSERT_TRUE(VerifyGraph(g).ok()) << VerifyGraph(g);

  // Bypass and erase it again.
  g.ReplaceAllUsesWith(relu->output(0), mul->output(0));
  g.EraseNode(relu);
  EXPECT_EQ(add->input(0), mul->output(0));
  ASSERT_TRUE(VerifyGraph(g).ok()) << VerifyGraph(g);

  // Replacing a graph output's value updates the output list.
  Value* old_out = add->output(0);
  g.ReplaceAllUsesWith(old_out, mul->output(0));
  EXPECT_EQ(g.outputs()[0], mul->output(0));
  EXPECT_FALSE(old_out->IsUsed());
}

// Many random rewires: every use list stays exact (O(1) swap-removal is
// easy to get wrong).
TEST(Graph, RandomRewiresKeepUseListsExact) {
  Graph g;
  std::vector<Value*> values = {g.AddInput("a"), g.AddInput("b")};
  std::vector<Node*> nodes;
  for (int i = 0; i < 200; ++i) {
    Node* n = g.CreateNode("Add", {values[i % values.size()], values[(i * 7) % values.size()]}, 1);
    nodes.push_back(n);
    values.push_back(n->output(0));
  }
  g.AddOutput(values.back());
  std::mt19937 rng(1);
  for (int step = 0; step < 5000; ++step) {
    size_t k = rng() % nodes.size();
    Node* n = nodes[k];
    // Any value defined before n keeps the order topological.
    Value* v = values[rng() % (k + 2)];
    n->SetInput(rng() % 2, v);
  }
  ASSERT_TRUE(VerifyGraph(g).ok()) << VerifyGraph(g);
  size_t total_uses = 0;
  for (Value* v : values) {
    for (const Use& u : v->uses()) EXPECT_EQ(u.node->input(u.index), v);
    total_uses += v->uses().size();
  }
  EXPECT_EQ(total_uses, 400u);
}

TEST(Graph, SubgraphCapturesAreUsesOfTheOuterValue) {
  auto model = LoadModel(TestModel("if_subgraph.onnx"));
  ASSERT_TRUE(model.ok()) << model.status();
  Graph& g = (*model)->graph();
  Node* if_node = nullptr;
  for (auto& n : g.nodes())
    if (n->IsOp("If")) if_node = n.get();
  ASSERT_NE(if_node, nullptr);
  // Find an outer value read from inside a branch.
  Value* captured = nullptr;
  Node* inner_user = nullptr;
  for (Graph* sub : if_node->subgraphs())
    for (auto& n : sub->nodes())
      for (Value* v : n->inputs())
        if (v != nullptr && v->graph() == &g) { captured = v; inner_user = n.get(); }
  ASSERT_NE(captured, nullptr) << "the test model should capture an outer value";
  bool listed = false;
  for (const Use& u : captured->uses()) listed |= u.node == inner_user;
  EXPECT_TRUE(listed);
  EXPECT_EQ(inner_user->graph()->FindValue(captured->name()), captured);

  // Replacing the outer value reaches the inner reader.
  Value* replacement = g.AddInitializer(
      g.FreshName("replacement"), captured->initializer() ? *captured->initializer() : Scalar(0));
  size_t uses = captured->uses().size();
  g.ReplaceAllUsesWith(captured, replacement);
  EXPECT_EQ(replacement->uses().size(), uses);
  EXPECT_TRUE(VerifyModel(**model).ok()) << VerifyModel(**model);

  // Erasing the If drops the inner uses of outer values.
  for (Value* out : if_node->outputs()) {
    for (int i = static_cast<int>(g.outputs().size()) - 1; i >= 0; --i)
      if (g.outputs()[i] == out) g.RemoveOutput(i);
  }
  g.EraseNode(if_node);
  EXPECT_TRUE(replacement->uses().empty());
}

TEST(Graph, CloneSharesWeightsCopyOnWrite) {
  auto model = LoadModel(TestModel("conv_bn.onnx"));
  ASSERT_TRUE(model.ok());
  auto copy = (*model)->Clone();
  ASSERT_TRUE(VerifyModel(*copy).ok());
  Value* w = *(*model)->graph().initializers().begin();
  Value* cw = copy->graph().FindValue(w->name());
  ASSERT_NE(cw, nullptr);
  EXPECT_NE(w, cw);
  EXPECT_EQ(w->initializer()->raw(), cw->initializer()->raw());  // shared bytes
  float before = w->initializer()->data<float>()[0];
  cw->mutable_initializer()->mutable_data<float>()[0] = before + 1;
  EXPECT_EQ(w->initializer()->data<float>()[0], before);  // original untouched
  EXPECT_NE(w->initializer()->raw(), cw->initializer()->raw());
  // Same proto apart from the edited weight.
  EXPECT_EQ(ExportModel(**model).graph().node_size(), ExportModel(*copy).graph().node_size());
}

TEST(Graph, TopologicalSortRestoresOrderAndFindsCycles) {
  Graph g;
  Value* x = g.AddInput("x");
  Node* a = g.CreateNode("Relu", {x}, 1);
  Node* b = g.CreateNode("Neg", {a->output(0)}, 1);
  Node* c = g.CreateNode("Abs", {b->output(0)}, 1);
  g.AddOutput(c->output(0));
  g.MoveNode(c, a);  // c, a, b: out of order
  EXPECT_FALSE(VerifyGraph(g).ok());
  ASSERT_TRUE(g.TopologicalSort().ok());
  EXPECT_TRUE(VerifyGraph(g).ok()) << VerifyGraph(g);
  a->SetInput(0, c->output(0));  // a cycle a -> b -> c -> a
  absl::Status s = g.TopologicalSort();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cycle"), absl::string_view::npos);
}

TEST(Graph, TopologicalSortHandlesDeepChainsWithoutRecursion) {
  Graph g;
  Value* v = g.AddInput("x");
  std::vector<Node*> nodes;
  for (int i = 0; i < 200000; ++i) {
    Node* n = g.CreateNode("Relu", {v}, 1);
    v = n->output(0);
    nodes.push_back(n);
  }
  g.AddOutput(v);
  g.MoveNode(nodes.back(), nodes.front());  // the deepest dependency chain
  ASSERT_TRUE(g.TopologicalSort().ok());
  EXPECT_EQ(g.nodes().back().get(), nodes.back());
}

TEST(Graph, FreshNamesNeverCollideAcrossSubgraphs) {
  auto model = LoadModel(TestModel("if_subgraph.onnx"));
  ASSERT_TRUE(model.ok());
  Graph& g = (*model)->graph();
  std::set<std::string> all;
  g.ForEachGraph([&](Graph* sub) {
    for (auto& n : sub->nodes())
      for (Value* v : n->outputs())
        if (v) all.insert(v->name());
  });
  for (const std::string& name : all) {
    std::string fresh = g.FreshName(name);
    EXPECT_NE(fresh, name);
    EXPECT_EQ(all.count(fresh), 0u);
  }
}

TEST(Tensor, HalfAndBFloat16ConvertBothWays) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_EQ(BFloat16ToFloat(FloatToBFloat16(1.5f)), 1.5f);
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);  // overflow to +inf
}

}  // namespace
}  // namespace onnxc
