// The `cleanup` pipeline on real models: every conformance model stays valid
// (our verifier, and ONNX's checker where the input passed it), and outputs
// under ONNX Runtime are unchanged on the small test models and the exported
// torchvision / Fashion-MNIST models.
#include <filesystem>

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

TEST(Cleanup, EveryConformanceModelStaysValid) {
  int models = 0, checked = 0, changed = 0, inference_skipped = 0;
  for (const auto& e : fs::recursive_directory_iterator("/usr/share/libonnx-testdata/data")) {
    if (e.path().filename() != "model.onnx") continue;
    ++models;
    auto model = LoadModel(e.path().string());
    ASSERT_TRUE(model.ok()) << model.status();
    bool input_valid = CheckWithOnnx(**model).ok();
    auto pm = PassManager::Create("cleanup");
    ASSERT_TRUE(pm.ok());
    absl::Status s = (*pm)->Run(**model, {});
    ASSERT_TRUE(s.ok()) << e.path() << ": " << s;
    for (const auto& r : (*pm)->records()) {
      changed += r.pass != "shape-inference" && r.changes > 0;
      if (r.pass != "shape-inference") continue;
      for (const std::string& note : r.notes) {
        if (note.rfind("skipped", 0) != 0) continue;
        ++inference_skipped;
        std::printf("shape inference skipped on %s: %s\n", e.path().c_str(), note.c_str());
      }
    }
    ASSERT_TRUE(VerifyModel(**model).ok()) << e.path() << ": " << VerifyModel(**model);
    if (input_valid) {
      bool ran = false;
      absl::Status c = CheckWithOnnx(**model, &ran);
      EXPECT_TRUE(c.ok()) << e.path() << ": " << c;
      checked += ran;
    }
  }
  std::printf("cleanup: %d models, %d rewritten, %d re-checked by the ONNX checker\n", models, changed,
              checked);
  EXPECT_EQ(models, 1072);
  // Every conformance model fits its schemas: inference runs on all of them.
  EXPECT_EQ(inference_skipped, 0);
  EXPECT_GT(changed, 50);  // Constant and Identity nodes are common in the suite
  EXPECT_GT(checked, 900);
}

struct Case {
  std::string model;
  std::string data;  // test_data_set folder
};

std::vector<Case> DifferentialCases() {
  std::vector<Case> cases;
  std::string small = std::string(std::getenv("TEST_SRCDIR")) + "/onnxcompress/testdata/models/";
  for (const char* name : {"conv_bn", "conv_bn_ir3", "convtranspose_bn", "shared_weight_conv_bn",
                           "constant_node_weights", "if_subgraph", "loop_subgraph"})
    cases.push_back({small + name + ".onnx", small + name + "/test_data_set_0"});
  std::string gen = GeneratedTestdataDir();
  if (!gen.empty()) {
    for (const char* name : {"resnet18", "mobilenet_v2", "fmnist"})
      cases.push_back({gen + "/" + name + "/model.onnx", gen + "/" + name + "/test_data_set_0"});
  }
  return cases;
}

TEST(Cleanup, OutputsUnchangedInOnnxRuntime) {
  if (OrtDir().empty()) GTEST_SKIP() << "ONNXC_ORT_DIR not set: run through tools/test.sh";
  ASSERT_FALSE(GeneratedTestdataDir().empty()) << "ONNXC_TESTDATA not set";
  int compared = 0;
  for (const Case& c : DifferentialCases()) {
    SCOPED_TRACE(c.model);
    ASSERT_TRUE(fs::exists(c.model)) << "missing " << c.model << " (run testdata/generate.sh)";
    auto inputs = ReadTensorPbSeries(c.data, "input");
    ASSERT_TRUE(inputs.ok()) << inputs.status();
    auto model = LoadModel(c.model);
    ASSERT_TRUE(model.ok()) << model.status();
    auto pm = PassManager::Create("cleanup");
    ASSERT_TRUE((*pm)->Run(**model, {}).ok());
    std::string out = ::testing::TempDir() + "/cleaned.onnx";
    ASSERT_TRUE(SaveModel(**model, out).ok());
    auto before = RunWithOrt(c.model, *inputs);
    auto after = RunWithOrt(out, *inputs);
    ASSERT_TRUE(before.ok()) << before.status();
    ASSERT_TRUE(after.ok()) << after.status();
    ASSERT_EQ(before->size(), after->size());
    for (size_t i = 0; i < before->size(); ++i) {
      TensorDiff d = CompareTensors((*before)[i].tensor, (*after)[i].tensor);
      EXPECT_EQ(d.max_abs, 0) << d.ToString();  // cleanup never touches arithmetic
    }
    ++compared;
  }
  EXPECT_EQ(compared, 10);
}

}  // namespace
}  // namespace onnxc
