// quantize{weight-method=adaround} in ONNX Runtime (default level) on
// held-out inputs: it must raise the output SQNR of mobilenet_v2 and of the
// residual Fashion-MNIST CNN clearly over nearest rounding, keep the
// Fashion-MNIST CNN's top-1, and move no weight code by more than one step
// from nearest rounding (AdaRound rounds each weight down or up).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ir/import.h"
#include "passes/quantization/pair_safe_weights.h"
#include "passes/quantization/quantize_testutil.h"

namespace onnxc {
namespace {

struct Case {
  const char* model;
  const char* held_out;
  double min_gain_db;
};

// Largest |code difference| over the int8 initializers both models hold by name.
int MaxCodeStep(const std::string& a_path, const std::string& b_path, int* changed) {
  auto a = LoadModel(a_path), b = LoadModel(b_path);
  EXPECT_TRUE(a.ok() && b.ok());
  if (!a.ok() || !b.ok()) return 1000;
  int worst = 0;
  *changed = 0;
  for (const Value* v : (*a)->graph().initializers()) {
    const Tensor* ta = v->constant();
    if (ta == nullptr || ta->type() != onnx::TensorProto::INT8) continue;
    const Value* vb = (*b)->graph().FindValue(v->name());
    if (vb == nullptr || vb->constant() == nullptr || vb->constant()->num_elements() != ta->num_elements()) continue;
    const int8_t *pa = ta->data<int8_t>(), *pb = vb->constant()->data<int8_t>();
    for (int64_t i = 0; i < ta->num_elements(); ++i) {
      const int step = std::abs(pa[i] - pb[i]);
      worst = std::max(worst, step);
      *changed += step != 0;
    }
  }
  return worst;
}

// Saturable pairs (pair_safe_weights.h) over the int8 weights of the model's Conv/Gemm/MatMul.
int64_t SaturablePairs(const std::string& path) {
  auto m = LoadModel(path);
  EXPECT_TRUE(m.ok());
  if (!m.ok()) return -1;
  int64_t bad = 0;
  for (Node* n : (*m)->graph().NodeSnapshot()) {
    if (!n->IsOp("Conv") && !n->IsOp("Gemm") && !n->IsOp("MatMul")) continue;
    Node* dq = n->input(1) ? n->input(1)->producer() : nullptr;
    if (!dq || !dq->IsOp("DequantizeLinear") || !dq->input(0)->constant() ||
        dq->input(0)->constant()->type() != onnx::TensorProto::INT8)
      continue;
    const Tensor& q = *dq->input(0)->constant();
    const bool per_tensor = dq->input(1)->constant() && dq->input(1)->constant()->num_elements() == 1;
    auto layout = OrtReductionLayout(*n, q, per_tensor ? -1 : static_cast<int>(dq->GetInt("axis", 1)));
    if (layout) bad += CountSaturablePairs(q, *layout);
  }
  return bad;
}

TEST(AdaRound, RaisesOutputSqnrOnHeldOutInputs) {
  REQUIRE_ORT_AND_DATA();
  for (const Case& c : {Case{"mobilenet_v2", "test_data_set_1", 10.0}, Case{"fmnist_resnet", "test_data_set_0", 2.0}}) {
    SCOPED_TRACE(c.model);
    double sqnr[2];
    std::string out[2];
    for (int ar = 0; ar < 2; ++ar) {
      auto q = Quantize(Gen(std::string(c.model) + "/model.onnx"), Gen(std::string(c.model) + "/calib"),
                        ar ? "{weight-method=adaround}" : "", std::string("ar_") + c.model + (ar ? "_on" : "_off"));
      ASSERT_TRUE(q.ok()) << q.status();
      auto d = OrtDiff(c.model, q->output, c.held_out);
      ASSERT_TRUE(d.ok()) << d.status();
      sqnr[ar] = d->sqnr_db;
      out[ar] = q->output;
    }
    std::printf("%s: output SQNR in ORT %.1f dB nearest -> %.1f dB adaround\n", c.model, sqnr[0], sqnr[1]);
    EXPECT_GE(sqnr[1], sqnr[0] + c.min_gain_db);
    // The portable target's weights are pair-safe for x86 without VNNI; re-rounding keeps them so.
    EXPECT_EQ(SaturablePairs(out[0]), 0);
    EXPECT_EQ(SaturablePairs(out[1]), 0);
  }
}

// With the full int8 range (no pair-safety clamp), every code is the weight
// rounded down or up: at most one step from nearest rounding.
TEST(AdaRound, RoundsEachWeightDownOrUp) {
  REQUIRE_ORT_AND_DATA();
  const std::string config = Tmp("ar_full_range.pbtxt");
  {
    FILE* f = std::fopen(config.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("weight { range: FULL }\n", f);
    std::fclose(f);
  }
  std::string out[2];
  for (int ar = 0; ar < 2; ++ar) {
    auto q = Quantize(Gen("mobilenet_v2/model.onnx"), Gen("mobilenet_v2/calib"),
                      absl::StrCat("{config=", config, ar ? ",weight-method=adaround}" : "}"),
                      ar ? "ar_full_on" : "ar_full_off");
    ASSERT_TRUE(q.ok()) << q.status();
    out[ar] = q->output;
  }
  int changed = 0;
  const int step = MaxCodeStep(out[0], out[1], &changed);
  std::printf("mobilenet_v2, full int8 range: %d weight codes moved, by at most %d\n", changed, step);
  EXPECT_GT(changed, 10000);
  EXPECT_EQ(step, 1);
}

TEST(AdaRound, KeepsFashionMnistTop1) {
  REQUIRE_ORT_AND_DATA();
  auto test = FashionMnistTestSet();
  ASSERT_TRUE(test.ok()) << test.status();
  const double float_top1 = OrtTop1(Gen("fmnist/model.onnx"), test->images, test->labels);
  auto q = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "{weight-method=adaround}", "ar_fmnist");
  ASSERT_TRUE(q.ok()) << q.status();
  const double top1 = OrtTop1(q->output, test->images, test->labels);
  std::printf("Fashion-MNIST top-1: float %.4f, W8A8 adaround %.4f\n", float_top1, top1);
  EXPECT_GE(top1, float_top1 - 0.003);
}

TEST(AdaRound, NeedsCalibrationDataAndAStaticScheme) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("fmnist/model.onnx"), "random", "{weight-method=adaround}", "ar_random");
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("adaround needs calibration data"), std::string::npos) << q.status();
  auto w4 = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "{scheme=w4a16,weight-method=adaround}", "ar_w4");
  ASSERT_FALSE(w4.ok());
  EXPECT_NE(w4.status().message().find("ADAROUND applies to the calibrated schemes"), std::string::npos) << w4.status();
}

}  // namespace
}  // namespace onnxc
