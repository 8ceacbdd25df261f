// equalize: the function is unchanged (ONNX Runtime, default level, against
// the float model on held-out inputs), ranges are evened out, and Clip(0, 6)
// pairs are left alone unless asked. What it does to W8A8 depends on the
// trained instance (README), so no test asserts a gain.
#include "gtest/gtest.h"
#include "passes/quantization/quantize_testutil.h"

namespace onnxc {
namespace {

absl::StatusOr<nlohmann::json> EqualizeDetails(const PipelineRun& run) {
  for (const auto& p : run.report["passes"])
    if (p["pass"] == "equalize") return p["details"];
  return absl::NotFoundError("equalize did not run");
}

struct Case {
  const char* model;
  const char* held_out;
  int min_pairs;
};

TEST(Equalize, KeepsTheFunctionInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  for (const Case& c : {Case{"fmnist", "test_data_set_0", 1}, Case{"fmnist_resnet", "test_data_set_0", 4},
                        Case{"resnet18", "test_data_set_1", 8}, Case{"mobilenet_v2", "test_data_set_1", 2}}) {
    SCOPED_TRACE(c.model);
    auto run = RunPipelineOn(c.model, "optimize,equalize", std::string("eq_") + c.model);
    ASSERT_TRUE(run.ok()) << run.status();
    auto details = EqualizeDetails(*run);
    ASSERT_TRUE(details.ok()) << details.status();
    auto d = OrtDiff(c.model, run->output, c.held_out);
    ASSERT_TRUE(d.ok()) << d.status();
    std::printf("%s: %d pairs, range spread %.3g -> %.3g, output vs float %.1f dB\n", c.model,
                (*details)["pairs"].get<int>(), (*details)["spread_before"].get<double>(),
                (*details)["spread_after"].get<double>(), d->sqnr_db);
    EXPECT_GE((*details)["pairs"].get<int>(), c.min_pairs);
    EXPECT_LT((*details)["spread_after"].get<double>(), (*details)["spread_before"].get<double>());
    EXPECT_GT(d->sqnr_db, 100.0);  // float rounding only
    EXPECT_EQ((*details)["relu6_pairs"].get<int>(), 0);
  }
}

TEST(Equalize, Relu6PairsOnlyWhenAsked) {
  REQUIRE_ORT_AND_DATA();
  auto strict = RunPipelineOn("mobilenet_v2", "optimize,equalize", "eq_mb_strict");
  auto loose = RunPipelineOn("mobilenet_v2", "optimize,equalize{relu6-as-relu=true}", "eq_mb_loose");
  ASSERT_TRUE(strict.ok() && loose.ok());
  auto s = EqualizeDetails(*strict), l = EqualizeDetails(*loose);
  ASSERT_TRUE(s.ok() && l.ok());
  EXPECT_EQ((*s)["relu6_pairs"].get<int>(), 0);
  EXPECT_GE((*l)["relu6_pairs"].get<int>(), 30);  // every inverted-residual block's expand -> depthwise -> project
  EXPECT_GT((*l)["pairs"].get<int>(), (*s)["pairs"].get<int>() + 30);
}

}  // namespace
}  // namespace onnxc
