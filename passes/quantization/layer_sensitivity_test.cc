// layer-sensitivity on the Fashion-MNIST CNN: one model per layer plus one
// float reference, a ranking sorted worst first, JSON for the report, and the
// analysis cached across passes (keyed by its settings).
//
// bazel test //passes/quantization:layer_sensitivity_test --test_env=ONNXC_TESTDATA=$PWD/testdata/generated
#include <cmath>

#include "passes/quantization/layer_sensitivity.h"
#include "gtest/gtest.h"
#include "ir/import.h"
#include "passes/pass/pass_manager.h"
#include "testdata/ort_runner.h"

namespace onnxc {
namespace {

TEST(LayerSensitivity, FashionMnist) {
  std::string gen = GeneratedTestdataDir();
  if (gen.empty()) GTEST_SKIP() << "ONNXC_TESTDATA not set";
  auto model = LoadModel(gen + "/fmnist/model.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  RunSettings rs;
  rs.calibration.data = gen + "/fmnist/calib";
  AnalysisManager am;
  auto pm = PassManager::Create(
      "optimize,layer-sensitivity{eval-samples=48},layer-sensitivity{eval-samples=48},"
      "layer-sensitivity{eval-samples=48,rank-by=layer-cosine}");
  ASSERT_TRUE(pm.ok());
  PassContext ctx{&am, &rs};
  ASSERT_TRUE((*pm)->Run(**model, ctx).ok());
  // The second pass asks with the same settings and reads the cached result;
  // the third asks for another ranking and gets its own.
  EXPECT_EQ(am.compute_counts().at("layer-sensitivity"), 2);
  // Calibration statistics are computed once for both.
  EXPECT_EQ(am.compute_counts().at("calibration-stats"), 1);
  std::vector<LayerSensitivity*> cached = am.CachedOfType<LayerSensitivity>();
  ASSERT_EQ(cached.size(), 2u);
  const LayerSensitivity* s = cached[0]->rank_by == "output-sqnr" ? cached[0] : cached[1];
  const LayerSensitivity* by_cosine = cached[0]->rank_by == "output-sqnr" ? cached[1] : cached[0];
  EXPECT_EQ(by_cosine->rank_by, "layer-cosine");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->sample_count, 48);  // 32 + 16 rows of the first two calibration files
  EXPECT_EQ(s->samples.size(), 2u);
  // (layers + 2) runs, each over the 2 batches: one per layer, the float model twice.
  EXPECT_EQ(s->runs, static_cast<int64_t>(s->layers.size() + 2) * 2);
  ASSERT_GE(s->ranking.size(), 4u);  // 3 Conv+Relu, 1 Gemm (BN folded by optimize)
  int folded = 0;
  for (const auto& e : s->layers) folded += static_cast<int>(e.folded.size());
  EXPECT_GE(folded, 3);  // each Relu measured with its Conv
  EXPECT_EQ(s->rank_by, "output-sqnr");
  for (size_t i = 1; i < s->ranking.size(); ++i)
    EXPECT_LE(s->layers[s->ranking[i - 1]].output.sqnr_db, s->layers[s->ranking[i]].output.sqnr_db);
  for (int i : s->ranking) {
    const auto& e = s->layers[i];
    EXPECT_TRUE(e.measured);
    EXPECT_GT(e.output.cosine, 0.999) << e.node;
    EXPECT_LT(e.output.cosine, 1.0) << e.node;
    EXPECT_GT(e.output.sqnr_db, 20) << e.node;
    EXPECT_TRUE(std::isfinite(e.layer.sqnr_db)) << e.node;
    EXPECT_GT(e.layer.mse, 0) << e.node;
  }
  nlohmann::json j = s->ToJson();
  EXPECT_EQ(j["layers"].size(), s->layers.size());
  EXPECT_EQ(j["layers"][0]["rank"], 1);
  EXPECT_EQ(j["ranking"][0], s->layers[s->ranking[0]].node);
  // The pass put it in the report.
  bool found = false;
  for (const auto& r : (*pm)->records())
    if (r.pass == "layer-sensitivity") found |= r.details.contains("layers");
  EXPECT_TRUE(found);
  std::printf("%s\n", j.dump(1).substr(0, 1500).c_str());
}

}  // namespace
}  // namespace onnxc
