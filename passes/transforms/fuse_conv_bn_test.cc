// fuse-conv-bn on real models, proven in ONNX Runtime: the fused model gives
// the same outputs (to float rounding) on the same inputs, passes ONNX's
// checker, and every BatchNormalization that should fold does.
#include <filesystem>
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

namespace fs = std::filesystem;

std::string Small(const std::string& name) {
  return std::string(std::getenv("TEST_SRCDIR")) + "/onnxcompress/testdata/models/" + name;
}

int64_t CountOp(const Graph& g, const std::string& op) {
  int64_t n = 0;
  for (const auto& node : g.nodes()) {
    n += node->op_type() == op;
    for (const Graph* sub : node->subgraphs()) n += CountOp(*sub, op);
  }
  return n;
}

// Runs `pipeline` on the model, then both models in ONNX Runtime.
struct Proof {
  int64_t bn_before = 0, bn_after = 0;
  double worst_rel = 0, worst_sqnr = 1e9;
  std::vector<std::string> notes;
};

Proof Prove(const std::string& path, const std::vector<NamedTensor>& inputs,
            const std::string& pipeline = "fuse-conv-bn,dce") {
  Proof p;
  auto model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return p;
  p.bn_before = CountOp((*model)->graph(), "BatchNormalization");
  bool input_valid = CheckWithOnnx(**model).ok();
  auto pm = PassManager::Create(pipeline);
  EXPECT_TRUE(pm.ok());
  absl::Status s = (*pm)->Run(**model, {});
  EXPECT_TRUE(s.ok()) << s;
  for (const auto& r : (*pm)->records()) p.notes.insert(p.notes.end(), r.notes.begin(), r.notes.end());
  p.bn_after = CountOp((*model)->graph(), "BatchNormalization");
  EXPECT_TRUE(VerifyModel(**model).ok()) << VerifyModel(**model);
  if (input_valid) EXPECT_TRUE(CheckWithOnnx(**model).ok()) << CheckWithOnnx(**model);
  std::string out = ::testing::TempDir() + "/" + fs::path(path).stem().string() + ".fused.onnx";
  EXPECT_TRUE(SaveModel(**model, out).ok());
  auto before = RunWithOrt(path, inputs);
  auto after = RunWithOrt(out, inputs);
  EXPECT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(after.ok()) << after.status();
  if (!before.ok() || !after.ok()) return p;
  EXPECT_EQ(before->size(), after->size());
  for (size_t i = 0; i < before->size() && i < after->size(); ++i) {
    TensorDiff d = CompareTensors((*before)[i].tensor, (*after)[i].tensor);
    EXPECT_TRUE(d.same_shape);
    p.worst_rel = std::max(p.worst_rel, d.max_abs / std::max(d.max_ref, 1e-12));
    p.worst_sqnr = std::min(p.worst_sqnr, d.sqnr_db);
  }
  return p;
}

std::vector<NamedTensor> Inputs(const std::string& dir) {
  auto t = ReadTensorPbSeries(dir, "input");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : std::vector<NamedTensor>{};
}

class FuseConvBnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (OrtDir().empty()) GTEST_SKIP() << "ONNXC_ORT_DIR not set: run through tools/test.sh";
  }
};

// Bound: fusion reorders float arithmetic; outputs agree to ~1e-5 relative.
constexpr double kMaxRel = 1e-4;
constexpr double kMinSqnr = 80;

TEST_F(FuseConvBnTest, SmallModelsCoverEveryLayout) {
  struct Case { const char* name; int64_t bn_left; };
  for (Case c : std::vector<Case>{{"conv_bn", 0}, {"conv_bn_ir3", 0}, {"convtranspose_bn", 0},
                                  {"shared_weight_conv_bn", 0}, {"constant_node_weights", 0},
                                  {"if_subgraph", 0}}) {
    SCOPED_TRACE(c.name);
    Proof p = Prove(Small(std::string(c.name) + ".onnx"), Inputs(Small(std::string(c.name) + "/test_data_set_0")));
    EXPECT_GT(p.bn_before, 0);
    EXPECT_EQ(p.bn_after, c.bn_left) << testing::PrintToString(p.notes);
    EXPECT_LE(p.worst_rel, kMaxRel);
    EXPECT_GE(p.worst_sqnr, kMinSqnr);
  }
}

TEST_F(FuseConvBnTest, SharedWeightIsCopiedNotMutated) {
  auto model = LoadModel(Small("shared_weight_conv_bn.onnx"));
  ASSERT_TRUE(model.ok());
  Graph& g = (*model)->graph();
  std::vector<Node*> convs;
  for (auto& n : g.nodes())
    if (n->IsOp("Conv")) convs.push_back(n.get());
  ASSERT_EQ(convs.size(), 2u);
  ASSERT_EQ(convs[0]->input(1), convs[1]->input(1)) << "the model should share one weight";
  Value* shared = convs[0]->input(1);
  std::vector<float> original = shared->initializer()->ToFloatVector();
  auto pm = PassManager::Create("fuse-conv-bn");
  ASSERT_TRUE((*pm)->Run(**model, {}).ok());
  EXPECT_NE(convs[0]->input(1), convs[1]->input(1));
  EXPECT_EQ(shared->initializer()->ToFloatVector(), original);
}

TEST_F(FuseConvBnTest, TorchvisionAndFashionMnistModels) {
  std::string gen = GeneratedTestdataDir();
  ASSERT_FALSE(gen.empty());
  struct Case { const char* name; int64_t bns; };
  for (Case c : std::vector<Case>{{"resnet18", 20}, {"mobilenet_v2", 52}, {"fmnist", 3}}) {
    SCOPED_TRACE(c.name);
    std::string dir = gen + "/" + c.name;
    Proof p = Prove(dir + "/model.onnx", Inputs(dir + "/test_data_set_0"));
    EXPECT_EQ(p.bn_before, c.bns);
    EXPECT_EQ(p.bn_after, 0) << testing::PrintToString(p.notes);
    EXPECT_LE(p.worst_rel, kMaxRel);
    EXPECT_GE(p.worst_sqnr, kMinSqnr);
    std::printf("%s: %lld BatchNormalization folded, max rel diff %.2e, SQNR %.1f dB\n", c.name,
                static_cast<long long>(p.bn_before), p.worst_rel, p.worst_sqnr);
  }
}

// Models built here: Gemm (transB), MatMul+Add, MatMul alone, and the
// declined cases.
std::unique_ptr<Model> NewModel(int64_t opset = 13) {
  auto m = std::make_unique<Model>();
  m->mutable_meta()->set_ir_version(8);
  m->SetOpsetVersion("", opset);
  return m;
}


void SetInputType(Value* v, std::vector<int64_t> dims) {
  onnx::TypeProto t;
  t.mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  v->set_type(t);
}

Node* AddBn(Graph& g, Value* x, int64_t n, int seed, const std::string& name) {
  Value* gamma = g.AddInitializer(name + "_g", RandomTensor({n}, 0.5, 1.5, seed));
  Value* beta = g.AddInitializer(name + "_b", RandomTensor({n}, -0.2, 0.2, seed + 1));
  Value* mean = g.AddInitializer(name + "_m", RandomTensor({n}, -0.2, 0.2, seed + 2));
  Value* var = g.AddInitializer(name + "_v", RandomTensor({n}, 0.5, 2.0, seed + 3));
  return g.CreateNode("BatchNormalization", {x, gamma, beta, mean, var}, 1, nullptr, name);
}

TEST_F(FuseConvBnTest, GemmAndMatMulFold) {
  auto m = NewModel();
  Graph& g = m->graph();
  Value* x = g.AddInput("x");
  SetInputType(x, {4, 6});
  Node* gemm = g.CreateNode("Gemm", {x, g.AddInitializer("w1", RandomTensor({5, 6}, -1, 1, 1)),
                                     g.AddInitializer("c1", RandomTensor({5}, -1, 1, 2))}, 1, nullptr, "gemm");
  gemm->SetAttr(Attribute::Int("transB", 1));
  gemm->SetAttr(Attribute::Float("beta", 0.5f));
  Node* bn1 = AddBn(g, gemm->output(0), 5, 10, "bn1");
  Node* mm = g.CreateNode("MatMul", {bn1->output(0), g.AddInitializer("w2", RandomTensor({5, 3}, -1, 1, 3))}, 1, nullptr, "mm");
  Node* add = g.CreateNode("Add", {g.AddInitializer("c2", RandomTensor({3}, -1, 1, 4)), mm->output(0)}, 1, nullptr, "add");
  Node* bn2 = AddBn(g, add->output(0), 3, 20, "bn2");
  Node* mm2 = g.CreateNode("MatMul", {bn2->output(0), g.AddInitializer("w3", RandomTensor({3, 2}, -1, 1, 5))}, 1, nullptr, "mm2");
  Node* bn3 = AddBn(g, mm2->output(0), 2, 30, "bn3");
  g.AddOutput(bn3->output(0));
  std::string path = ::testing::TempDir() + "/gemm_matmul_bn.onnx";
  ASSERT_TRUE(SaveModel(*m, path).ok());
  Proof p = Prove(path, {{"x", RandomTensor({4, 6}, -2, 2, 99)}}, "shape-inference,fuse-conv-bn,dce");
  EXPECT_EQ(p.bn_before, 3);
  EXPECT_EQ(p.bn_after, 0) << testing::PrintToString(p.notes);
  EXPECT_LE(p.worst_rel, kMaxRel);
}

TEST_F(FuseConvBnTest, DeclinesSayWhy) {
  auto m = NewModel(15);
  Graph& g = m->graph();
  Value* x = g.AddInput("x");
  SetInputType(x, {1, 2, 4, 4});
  Value* w = g.AddInitializer("w", RandomTensor({2, 2, 1, 1}, -1, 1, 1));
  Node* conv1 = g.CreateNode("Conv", {x, w}, 1, nullptr, "conv_twice");
  Node* bn1 = AddBn(g, conv1->output(0), 2, 10, "bn_a");
  Node* conv2 = g.CreateNode("Conv", {bn1->output(0), w}, 1, nullptr, "conv_train");
  Node* bn2 = AddBn(g, conv2->output(0), 2, 20, "bn_train");
  bn2->SetAttr(Attribute::Int("training_mode", 1));
  Value* gamma_in = g.AddInput("gamma");
  SetInputType(gamma_in, {2});
  Node* conv3 = g.CreateNode("Conv", {bn2->output(0), w}, 1, nullptr, "conv_dyn");
  Node* bn3 = AddBn(g, conv3->output(0), 2, 30, "bn_dyn");
  bn3->SetInput(1, gamma_in);
  Node* conv4 = g.CreateNode("Conv", {bn3->output(0), w}, 1, nullptr, "conv_skip");
  Node* bn4 = AddBn(g, conv4->output(0), 2, 40, "bn_skip");
  g.AddOutput(bn4->output(0));
  g.AddOutput(conv1->output(0));  // conv1's output is read twice
  auto pm = PassManager::Create("fuse-conv-bn{skip=[conv_sk*]}");
  ASSERT_TRUE((*pm)->Run(*m, {}).ok());
  std::string notes = testing::PrintToString((*pm)->records()[0].notes);
  EXPECT_NE(notes.find("0 folded, 4 declined"), std::string::npos) << notes;
  EXPECT_NE(notes.find("'conv_twice' (Conv) + 'bn_a' (BatchNormalization): declined (the Conv output is also used elsewhere)"), std::string::npos) << notes;
  EXPECT_NE(notes.find("bn_train' (BatchNormalization): declined (training mode)"), std::string::npos) << notes;
  EXPECT_NE(notes.find("bn_dyn' (BatchNormalization): declined (non-constant BatchNormalization parameters)"), std::string::npos) << notes;
  EXPECT_NE(notes.find("bn_skip' (BatchNormalization): declined (skipped by option)"), std::string::npos) << notes;
  EXPECT_EQ((*pm)->records()[0].changes, 0);
}

}  // namespace
}  // namespace onnxc
