// The speed estimate and the speed guard on real models: the work counts
// against an independent count from the model's own shapes, and the guard
// keeps whichever way its estimate finds faster. (How close the estimate is
// to measured latency is a benchmark's business: testdata/speed_costs.sh.)
#include <cstdio>
#include <regex>

#include "gtest/gtest.h"
#include "ir/import.h"
#include "ir/tensor_io.h"
#include "passes/pass/pass_manager.h"
#include "passes/quantization/quantize_testutil.h"
#include "passes/quantization/speed_estimate.h"
#include "passes/quantization/target_emulation.h"

namespace onnxc {
namespace {

std::vector<std::pair<std::string, Tensor>> FirstSample(const std::string& dir) {
  auto in = ReadTensorPbSeries(dir, "input");
  EXPECT_TRUE(in.ok()) << in.status();
  std::vector<std::pair<std::string, Tensor>> feed;
  if (in.ok())
    for (const auto& t : *in) feed.emplace_back(t.name, t.tensor);
  return feed;
}

// mobilenet_v2 at 224x224: torchvision's published 300M multiply-adds, 17
// depthwise convs; every Conv's BN and ReLU6 (Clip) fused by the runtime.
TEST(SpeedEstimate, CountsTheWorkOfMobilenetV2) {
  REQUIRE_ORT_AND_DATA();
  auto model = LoadModel(Gen("mobilenet_v2/model.onnx"));
  ASSERT_TRUE(model.ok());
  auto work = ProfileWork(**model, FirstSample(Gen("mobilenet_v2/test_data_set_0")), {});
  ASSERT_TRUE(work.ok()) << work.status();
  const double macs = work->dense_float_macs + work->depthwise_float_macs;
  std::printf("mobilenet_v2 float: %.1fM multiply-adds (%.1fM depthwise), %.0f nodes, %.2gM other elements\n",
              macs / 1e6, work->depthwise_float_macs / 1e6, work->nodes, work->other_elements / 1e6);
  EXPECT_NEAR(macs / 1e6, 300.8, 3);
  // Depthwise: sum over the 17 depthwise convs of output elements x 9.
  double dw = 0;
  for (const auto& n : (*model)->graph().nodes())
    if (n->IsOp("Conv") && n->GetInt("group", 1) > 1 && n->output(0)->has_type()) {
      double e = 9;
      for (const auto& d : n->output(0)->type()->tensor_type().shape().dim()) e *= d.dim_value();
      dw += e;
    }
  if (dw > 0) EXPECT_DOUBLE_EQ(work->depthwise_float_macs, dw);
  EXPECT_EQ(work->dense_int8_macs + work->depthwise_int8_macs, 0);
  EXPECT_EQ(work->converted_elements, 0);

  // Quantized (portable): all multiply-adds in integer kernels, none converted
  // in between (only the input's Q and the output's DQ).
  auto q = Quantize(Gen("mobilenet_v2/model.onnx"), Gen("mobilenet_v2/test_data_set_1"), "", "se_mb");
  ASSERT_TRUE(q.ok()) << q.status();
  auto qm = LoadModel(q->output);
  ASSERT_TRUE(qm.ok());
  auto target = FindDeploymentTarget("portable");
  ASSERT_TRUE(target.ok());
  auto emulated = EmulateTarget(**qm, **target, {});
  ASSERT_TRUE(emulated.ok()) << emulated.status();
  auto qwork = ProfileWork(*emulated->model, FirstSample(Gen("mobilenet_v2/test_data_set_0")), emulated->executor);
  ASSERT_TRUE(qwork.ok()) << qwork.status();
  EXPECT_NEAR(qwork->dense_int8_macs + qwork->depthwise_int8_macs, macs, macs * 1e-6);
  EXPECT_DOUBLE_EQ(qwork->depthwise_int8_macs, work->depthwise_float_macs);
  EXPECT_LE(qwork->converted_elements, 3 * 224 * 224 + 1000 + 1);
  SpeedEstimate vnni = EstimateSpeed(*work, *qwork, OrtX86VnniCosts());
  SpeedEstimate avx2 = EstimateSpeed(*work, *qwork, OrtX86NoVnniCosts());
  std::printf("mobilenet_v2 portable: estimated %.2fx with VNNI, %.2fx without\n", vnni.speedup(), avx2.speedup());
  EXPECT_GT(vnni.speedup(), avx2.speedup()) << "depthwise int8 costs more without VNNI";
}

// x86-avx2's guard quantizes both ways and keeps the faster by its own
// estimate. mobilenet_v2 quantizes its depthwise convs (each float one would
// cost a Q/DQ pair: 1.20x against 0.76x); on BlazeFace the two ways are
// within 2% and only the consistency is asserted.
TEST(SpeedEstimate, GuardKeepsTheFasterWay) {
  REQUIRE_ORT_AND_DATA();
  struct Case {
    std::string model, calib;
    int expect_float;  // 1 kept float, 0 quantized, -1 either
  };
  for (const Case& c : {Case{"thirdparty/blazeface_front.onnx", "thirdparty/blazeface_front/test_data_set_0", -1},
                        Case{"mobilenet_v2/model.onnx", "mobilenet_v2/test_data_set_1", 0}}) {
    SCOPED_TRACE(c.model);
    auto model = LoadModel(Gen(c.model));
    ASSERT_TRUE(model.ok());
    auto pm = PassManager::Create("optimize,quantize{target=x86-avx2}");
    ASSERT_TRUE(pm.ok());
    RunSettings rs;
    rs.calibration.data = Gen(c.calib);
    PassContext ctx;
    ctx.settings = &rs;
    absl::Status s = (*pm)->Run(**model, ctx);
    ASSERT_TRUE(s.ok()) << s;
    std::string note;
    for (const auto& r : (*pm)->records())
      for (const auto& n : r.notes)
        if (n.rfind("speed guard:", 0) == 0) note = n;
    ASSERT_FALSE(note.empty());
    std::printf("%s\n", note.c_str());
    std::smatch m;
    ASSERT_TRUE(std::regex_search(note, m, std::regex("([0-9.]+)x with them int8, ([0-9.]+)x with them float")));
    const bool float_faster = std::stod(m[2]) > std::stod(m[1]);
    EXPECT_EQ(note.find("kept float") != std::string::npos, float_faster);
    if (c.expect_float >= 0) EXPECT_EQ(float_faster, c.expect_float == 1);
    int float_dw = 0;
    for (const auto& n : (*model)->graph().nodes())
      float_dw += n->IsOp("Conv") && n->GetInt("group", 1) > 1 && n->input(1)->constant() != nullptr;
    EXPECT_EQ(float_dw > 0, float_faster);
  }
}

}  // namespace
}  // namespace onnxc
