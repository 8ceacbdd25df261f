// quantize{bias-correction=true} in ONNX Runtime (default level) on held-out
// inputs: it must raise the output SQNR of mobilenet_v2 (depthwise convs,
// whose per-channel weight errors shift the means most) and never hurt the
// trained Fashion-MNIST CNNs.
#include "gtest/gtest.h"
#include "passes/quantization/quantize_testutil.h"

namespace onnxc {
namespace {

struct Case {
  const char* model;
  const char* calib;
  const char* held_out;
  double min_gain_db;
};

TEST(BiasCorrection, RaisesOutputSqnrOnHeldOutInputs) {
  REQUIRE_ORT_AND_DATA();
  for (const Case& c : {Case{"mobilenet_v2", "mobilenet_v2/test_data_set_0", "test_data_set_1", 2.0},
                        Case{"fmnist_resnet", "fmnist_resnet/calib", "test_data_set_0", 0.5},
                        Case{"fmnist", "fmnist/calib", "test_data_set_0", 0.0}}) {
    SCOPED_TRACE(c.model);
    double sqnr[2];
    for (int bc = 0; bc < 2; ++bc) {
      auto q = Quantize(Gen(std::string(c.model) + "/model.onnx"), Gen(c.calib),
                        bc ? "{bias-correction=true}" : "", std::string("bc_") + c.model + (bc ? "_on" : "_off"));
      ASSERT_TRUE(q.ok()) << q.status();
      auto d = OrtDiff(c.model, q->output, c.held_out);
      ASSERT_TRUE(d.ok()) << d.status();
      sqnr[bc] = d->sqnr_db;
    }
    std::printf("%s: output SQNR in ORT %.1f dB -> %.1f dB with bias correction\n", c.model, sqnr[0], sqnr[1]);
    EXPECT_GE(sqnr[1], sqnr[0] + c.min_gain_db);
  }
}

}  // namespace
}  // namespace onnxc
