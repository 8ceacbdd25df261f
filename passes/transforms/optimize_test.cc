// The `optimize` pipeline and its passes (eliminate-noops, cse,
// fuse-conv-add-mul) on a model built to contain every pattern, proven in
// ONNX Runtime, and on the exported torchvision models.
#include <random>

#include "analysis/tensor_metrics.h"
#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "passes/pass/pass_manager.h"
#include "testdata/ort_runner.h"

namespace onnxc {
namespace {


Tensor Int64s(std::vector<int64_t> v) {
  Tensor t(onnx::TensorProto::INT64, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.mutable_data<int64_t>()[i] = v[i];
  return t;
}

std::map<std::string, int> OpCounts(const Graph& g) {
  std::map<std::string, int> m;
  for (const auto& n : g.nodes()) ++m[n->op_type()];
  return m;
}

// x -> Conv -> Mul[1,C,1,1] -> Div[C,1,1] -> Add[C,1,1] -> Sub[1] -> Identity -> Cast(float)
//   -> Reshape(same) -> Dropout -> Transpose(0,1,2,3) -> {Relu, Relu (duplicate)} -> Add -> y
std::unique_ptr<Model> EveryPattern() {
  auto m = std::make_unique<Model>();
  m->mutable_meta()->set_ir_version(8);
  m->SetOpsetVersion("", 13);
  Graph& g = m->graph();
  g.set_name("every_pattern");
  Value* x = g.AddInput("x");
  onnx::TypeProto t;
  t.mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {1, 3, 6, 6}) t.mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  x->set_type(t);
  Node* conv = g.CreateNode("Conv", {x, g.AddInitializer("w", RandomTensor({4, 3, 3, 3}, -1, 1, 1)),
                                     g.AddInitializer("b", RandomTensor({4}, -1, 1, 2))}, 1, nullptr, "conv");
  conv->SetAttr(Attribute::Ints("pads", {1, 1, 1, 1}));
  Value* v = conv->output(0);
  v = g.CreateNode("Mul", {v, g.AddInitializer("m", RandomTensor({1, 4, 1, 1}, 0.5, 2, 3))}, 1)->output(0);
  v = g.CreateNode("Div", {v, g.AddInitializer("d", RandomTensor({4, 1, 1}, 0.5, 2, 4))}, 1)->output(0);
  v = g.CreateNode("Add", {g.AddInitializer("a", RandomTensor({4, 1, 1}, -1, 1, 5)), v}, 1)->output(0);
  v = g.CreateNode("Sub", {v, g.AddInitializer("s", RandomTensor({1}, -1, 1, 6))}, 1)->output(0);
  v = g.CreateNode("Identity", {v}, 1)->output(0);
  Node* cast = g.CreateNode("Cast", {v}, 1);
  cast->SetAttr(Attribute::Int("to", onnx::TensorProto::FLOAT));
  v = g.CreateNode("Reshape", {cast->output(0), g.AddInitializer("shape", Int64s({1, 4, -1, 6}))}, 1)->output(0);
  v = g.CreateNode("Dropout", {v}, 1)->output(0);
  Node* tr = g.CreateNode("Transpose", {v}, 1);
  tr->SetAttr(Attribute::Ints("perm", {0, 1, 2, 3}));
  Value* r1 = g.CreateNode("Relu", {tr->output(0)}, 1)->output(0);
  Value* r2 = g.CreateNode("Relu", {tr->output(0)}, 1)->output(0);
  Node* sum = g.CreateNode("Add", {r1, r2}, 1, nullptr, "sum");
  g.AddOutput(sum->output(0));
  return m;
}

TEST(Optimize, FoldsEveryPatternAndKeepsOutputs) {
  if (OrtDir().empty()) GTEST_SKIP() << "ONNXC_ORT_DIR not set: run through tools/test.sh";
  auto model = EveryPattern();
  std::string before_path = ::testing::TempDir() + "/every.onnx";
  ASSERT_TRUE(SaveModel(*model, before_path).ok());
  auto pm = PassManager::Create("optimize");
  ASSERT_TRUE(pm.ok()) << pm.status();
  ASSERT_TRUE((*pm)->Run(*model, {}).ok());
  EXPECT_TRUE(VerifyModel(*model).ok());
  EXPECT_TRUE(CheckWithOnnx(*model).ok()) << CheckWithOnnx(*model);
  auto ops = OpCounts(model->graph());
  EXPECT_EQ(ops, (std::map<std::string, int>{{"Add", 1}, {"Conv", 1}, {"Relu", 1}})) << (*pm)->Summary();
  EXPECT_EQ(model->graph().outputs()[0]->name(), "sum");
  std::string after_path = ::testing::TempDir() + "/every.opt.onnx";
  ASSERT_TRUE(SaveModel(*model, after_path).ok());
  std::vector<NamedTensor> in = {{"x", RandomTensor({1, 3, 6, 6}, -1, 1, 42)}};
  auto a = RunWithOrt(before_path, in);
  auto b = RunWithOrt(after_path, in);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  TensorDiff d = CompareTensors((*a)[0].tensor, (*b)[0].tensor);
  EXPECT_LE(d.max_abs, 1e-5 * d.max_ref) << d.ToString();
}

// Found by the fuzzer: a Reshape whose target size overflows int64 is simply
// not a no-op (was signed overflow in eliminate-noops, caught by UBSan).
TEST(Optimize, ReshapeWithOverflowingTargetIsKept) {
  auto m = std::make_unique<Model>();
  m->mutable_meta()->set_ir_version(8);
  m->SetOpsetVersion("", 13);
  Graph& g = m->graph();
  Value* x = g.AddInput("x");
  onnx::TypeProto t;
  t.mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {int64_t{15}, int64_t{9223372036854775807}})
    t.mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  x->set_type(t);
  Tensor shape(onnx::TensorProto::INT64, {2});
  shape.mutable_data<int64_t>()[0] = 15;
  shape.mutable_data<int64_t>()[1] = 9223372036854775807;
  Node* r = g.CreateNode("Reshape", {x, g.AddInitializer("shape", shape)}, 1, nullptr, "r");
  r->output(0)->set_type(t);
  Node* relu = g.CreateNode("Relu", {r->output(0)}, 1, nullptr, "relu");
  g.AddOutput(relu->output(0));
  auto pm = PassManager::Create("eliminate-noops");
  ASSERT_TRUE((*pm)->Run(*m, {}).ok());
  EXPECT_EQ(g.num_nodes(), 2);
}

TEST(Optimize, NamedOutputsSurviveCseAndNoopRemoval) {
  // Two identical nodes that are both graph outputs must both stay.
  auto m = std::make_unique<Model>();
  m->mutable_meta()->set_ir_version(8);
  m->SetOpsetVersion("", 13);
  Graph& g = m->graph();
  Value* x = g.AddInput("x");
  Node* a = g.CreateNode("Relu", {x}, 1, nullptr, "a");
  Node* b = g.CreateNode("Relu", {x}, 1, nullptr, "b");
  Node* id = g.CreateNode("Identity", {x}, 1, nullptr, "id");
  g.AddOutput(a->output(0));
  g.AddOutput(b->output(0));
  g.AddOutput(id->output(0));  // reads a graph input: cannot be renamed away
  auto pm = PassManager::Create("optimize");
  ASSERT_TRUE((*pm)->Run(*m, {}).ok());
  EXPECT_EQ(g.num_nodes(), 3);
  EXPECT_EQ(g.outputs()[2]->name(), id->output(0)->name());
}

TEST(Optimize, CseMergesEqualConstantsAndNodesOnly) {
  // Two equal weights and one that differs in a single byte; Mul nodes on
  // them, and two Transposes that differ only in their perm attribute.
  auto m = std::make_unique<Model>();
  m->mutable_meta()->set_ir_version(8);
  m->SetOpsetVersion("", 13);
  Graph& g = m->graph();
  Value* x = g.AddInput("x");
  auto weight = [&](const std::string& name, float last) {
    Tensor t(onnx::TensorProto::FLOAT, {4});
    for (int i = 0; i < 4; ++i) t.mutable_data<float>()[i] = i == 3 ? last : 0.5f * i;
    return g.AddInitializer(name, t);
  };
  Value* w1 = weight("w1", 7.0f);
  Value* w2 = weight("w2", 7.0f);
  Value* w3 = weight("w3", 7.000001f);
  Node* m1 = g.CreateNode("Mul", {x, w1}, 1, nullptr, "m1");
  Node* m2 = g.CreateNode("Mul", {x, w2}, 1, nullptr, "m2");
  Node* m3 = g.CreateNode("Mul", {x, w3}, 1, nullptr, "m3");
  Node* t1 = g.CreateNode("Transpose", {m1->output(0)}, 1, nullptr, "t1");
  t1->SetAttr(Attribute::Ints("perm", {1, 0}));
  Node* t2 = g.CreateNode("Transpose", {m2->output(0)}, 1, nullptr, "t2");
  t2->SetAttr(Attribute::Ints("perm", {0, 1}));
  Node* sum = g.CreateNode("Sum", {t1->output(0), t2->output(0), m3->output(0)}, 1, nullptr, "sum");
  g.AddOutput(sum->output(0));
  auto pm = PassManager::Create("cse");
  ASSERT_TRUE(pm.ok());
  ASSERT_TRUE((*pm)->Run(*m, {}).ok());
  // w2 merged into w1, so m2 into m1; w3 and both Transposes stay.
  EXPECT_EQ(g.initializers().size(), 2u);
  EXPECT_EQ(g.num_nodes(), 5);
  EXPECT_EQ(t2->input(0), m1->output(0));
  EXPECT_EQ(m3->input(1), w3);
}

TEST(Optimize, RealModelsLoseEveryBatchNormAndKeepOutputs) {
  if (OrtDir().empty()) GTEST_SKIP() << "ONNXC_ORT_DIR not set: run through tools/test.sh";
  std::string gen = GeneratedTestdataDir();
  ASSERT_FALSE(gen.empty());
  for (const char* name : {"resnet18", "mobilenet_v2", "transformer"}) {
    SCOPED_TRACE(name);
    std::string dir = gen + "/" + name;
    auto model = LoadModel(dir + "/model.onnx");
    ASSERT_TRUE(model.ok());
    int before = (*model)->graph().num_nodes();
    auto pm = PassManager::Create("optimize");
    ASSERT_TRUE((*pm)->Run(**model, {}).ok());
    EXPECT_EQ(OpCounts((*model)->graph())["BatchNormalization"], 0);
    std::string out = ::testing::TempDir() + "/" + name + ".opt.onnx";
    ASSERT_TRUE(SaveModel(**model, out).ok());
    auto in = ReadTensorPbSeries(dir + "/test_data_set_1", "input");  // batch 8
    ASSERT_TRUE(in.ok());
    auto a = RunWithOrt(dir + "/model.onnx", *in);
    auto b = RunWithOrt(out, *in);
    ASSERT_TRUE(a.ok() && b.ok());
    TensorDiff d = CompareTensors((*a)[0].tensor, (*b)[0].tensor);
    EXPECT_GE(d.sqnr_db, 80) << d.ToString();
    std::printf("%s: optimize %d -> %d nodes, %s\n", name, before, (*model)->graph().num_nodes(),
                d.ToString().c_str());
  }
}

// Folding must not grow a model. BlazeFace (a third-party TF conversion)
// pads channels with ConstantOfShape zeros before its residual Adds; folded
// at any size they added 150 KB to a 442 KB file. Expanding nodes stay
// unless their outputs are tiny, and the outputs are unchanged in ORT.
TEST(Optimize, FoldingDoesNotGrowBlazeFace) {
  if (OrtDir().empty()) GTEST_SKIP() << "ONNXC_ORT_DIR not set: run through tools/test.sh";
  const std::string path = GeneratedTestdataDir() + "/thirdparty/blazeface_front.onnx";
  auto model = LoadModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  auto weight_bytes = [](const Model& m) {
    int64_t b = 0;
    for (const Value* v : m.graph().initializers()) b += v->initializer()->byte_size();
    return b;
  };
  const int64_t before = weight_bytes(**model);
  const int before_fill = OpCounts((*model)->graph())["ConstantOfShape"];
  auto pm = PassManager::Create("optimize");
  ASSERT_TRUE((*pm)->Run(**model, {}).ok());
  const int64_t after = weight_bytes(**model);
  std::printf("blazeface_front: optimize: initializers %lld -> %lld bytes, ConstantOfShape %d -> %d\n",
              static_cast<long long>(before), static_cast<long long>(after), before_fill,
              OpCounts((*model)->graph())["ConstantOfShape"]);
  // Fills of at most 4 KiB still fold (1.8 KB here); the 64 KiB cap gave +37%.
  EXPECT_LE(after, before + before / 50);
  EXPECT_GT(OpCounts((*model)->graph())["ConstantOfShape"], 0);
  const std::string out = ::testing::TempDir() + "/blazeface.opt.onnx";
  ASSERT_TRUE(SaveModel(**model, out).ok());
  const Value* in = (*model)->graph().inputs()[0];
  ASSERT_TRUE(in->shape().has_value());
  std::vector<NamedTensor> x = {{in->name(), RandomTensor(*in->shape(), 0, 1, 5)}};
  auto a = RunWithOrt(path, x);
  auto b = RunWithOrt(out, x);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_GE(CompareTensors((*a)[i].tensor, (*b)[i].tensor).sqnr_db, 80) << i;
}

}  // namespace
}  // namespace onnxc
