// Runs the torchvision models exported by testdata/make_torchvision.py
// (resnet18, mobilenet_v2; test_data_set_0 is batch 1, test_data_set_1 batch
// 8) and the BERT-style encoder of testdata/make_transformer.py (batch 1 and
// 4), and compares with the exporter's reference outputs.
//
// The folder comes from ONNXC_TESTDATA (absolute path to testdata/generated),
// passed with: bazel test //kernels:models_test --test_env=ONNXC_TESTDATA=$PWD/testdata/generated
// If the variable is set the files must exist (the test fails otherwise);
// if it is unset the test is skipped with a message.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ir/import.h"
#include "kernels/executor.h"
#include "kernels/testutil.h"

namespace onnxc {
namespace kernels {
namespace {

void RunModel(const std::string& name, KernelOptions::Layout layout = KernelOptions::Layout::kByCpu) {
  const char* root = std::getenv("ONNXC_TESTDATA");
  if (root == nullptr || root[0] == '\0') {
    std::fprintf(stderr,
                 "\n*** ONNXC_TESTDATA is not set: SKIPPING the %s reference test. Run with\n"
                 "***   --test_env=ONNXC_TESTDATA=$PWD/testdata/generated\n\n",
                 name.c_str());
    GTEST_SKIP() << "ONNXC_TESTDATA not set";
  }
  std::string dir = absl::StrCat(root, "/", name);
  struct stat st;
  ASSERT_EQ(stat((dir + "/model.onnx").c_str(), &st), 0)
      << dir << "/model.onnx is missing (ONNXC_TESTDATA is set; run testdata/make_torchvision.py)";
  auto model = LoadModel(dir + "/model.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  ExecutorOptions opts;
  opts.threads = 2;
  opts.kernels.dnnl_layout = layout;
  auto ex = Executor::Create(**model, opts);
  ASSERT_TRUE(ex.ok()) << ex.status();
  for (const char* set : {"test_data_set_0", "test_data_set_1"}) {
    std::string sd = absl::StrCat(dir, "/", set);
    ASSERT_EQ(stat(sd.c_str(), &st), 0) << sd << " is missing";
    auto inputs = LoadInputs((*model)->graph(), sd);
    ASSERT_TRUE(inputs.ok()) << inputs.status();
    auto outs = (*ex)->Run(*inputs);
    ASSERT_TRUE(outs.ok()) << outs.status();
    std::vector<std::string> files = NumberedFiles(sd, "output_", ".pb");
    ASSERT_EQ(files.size(), outs->size()) << sd;
    for (size_t i = 0; i < files.size(); ++i) {
      auto want = ReadTensorPb(files[i]);
      ASSERT_TRUE(want.ok()) << want.status();
      // float32 accumulation order differs from PyTorch's: ONNX's rtol with a
      // small absolute floor for near-zero logits.
      std::string diff = CompareTensors(*want, (*outs)[i], 1e-3, 1e-4);
      EXPECT_EQ(diff, "") << name << "/" << set << " output " << i;
    }
    std::printf("%s/%s: batch %lld matches the reference\n", name.c_str(), set,
                static_cast<long long>((*inputs)[0].second.dims()[0]));
  }
}

TEST(Models, Resnet18) { RunModel("resnet18"); }
TEST(Models, MobilenetV2) { RunModel("mobilenet_v2"); }
TEST(Models, Transformer) { RunModel("transformer"); }
// Every activation layout the convs can keep, whatever this CPU's default:
// the nChw8c path (AVX2's) is checked on AVX-512 machines too, and back.
TEST(Models, EveryConvLayout) {
  using L = KernelOptions::Layout;
  for (L layout : {L::kAny, L::kPlain, L::kNhwc, L::kBlocked8, L::kBlocked16})
    for (const char* m : {"resnet18", "mobilenet_v2", "efficientnet_b0"}) {
      SCOPED_TRACE(absl::StrCat(m, " layout ", static_cast<int>(layout)));
      RunModel(m, layout);
    }
}

}  // namespace
}  // namespace kernels
}  // namespace onnxc
