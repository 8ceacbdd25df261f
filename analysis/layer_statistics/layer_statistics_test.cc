// The layer statistics on the trained Fashion-MNIST CNNs, checked against
// the kernels' own layer outputs: for a layer y = W x + b, the sum over the
// calibration data of ||y - b||^2 equals sum_g tr(W_g H_g W_g^T). That ties
// the im2col patches, the feature order and the weight matrices together.
#include "analysis/layer_statistics/layer_statistics.h"

#include <cmath>

#include "analysis/calibration/calibration_data.h"
#include "gtest/gtest.h"
#include "ir/constants.h"
#include "ir/import.h"
#include "testdata/ort_runner.h"

namespace onnxc {
namespace {

std::string Gen(const std::string& rel) { return GeneratedTestdataDir() + "/" + rel; }

// sum ||y - b||^2 per layer output, from the executor's observer.
std::map<std::string, double> OutputEnergy(Model& model, const std::vector<LinearLayer>& layers,
                                           const std::string& data, int64_t samples) {
  std::map<const Value*, std::pair<std::string, std::vector<float>>> outs;
  for (const LinearLayer& l : layers) {
    std::vector<float> bias;
    if (l.node->num_inputs() > 2 && l.node->input(2)) bias = GetConstant(model, l.node->input(2))->ToFloatVector();
    outs[l.node->output(0)] = {l.name(), bias};
  }
  std::map<std::string, double> energy;
  Observer obs = [&](const Value& v, const TensorView& t) {
    auto it = outs.find(&v);
    if (it == outs.end()) return;
    const auto& bias = it->second.second;
    auto y = t.span<float>();
    int64_t channels = t.dims.size() > 1 ? (t.dims.size() == 2 ? t.dims[1] : t.dims[1]) : 1;
    int64_t inner = 1;
    for (size_t i = 2; i < t.dims.size(); ++i) inner *= t.dims[i];
    double e = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
      double b = bias.empty() ? 0.0 : bias[(i / inner) % channels];
      e += (y[i] - b) * (y[i] - b);
    }
    energy[it->second.first] += e;
  };
  CalibrationOptions co;
  co.max_samples = samples;
  auto d = CalibrationData::Open(model, data, co);
  EXPECT_TRUE(d.ok()) << d.status();
  ExecutorOptions eo;
  auto ex = Executor::Create(model, eo);
  EXPECT_TRUE(ex.ok()) << ex.status();
  for (;;) {
    auto s = (*d)->Next();
    if (!s.ok() || !s->has_value()) break;
    EXPECT_TRUE((*ex)->Run((**s).inputs, &obs).ok());
  }
  return energy;
}

class LayerStatisticsOnModel : public ::testing::TestWithParam<std::string> {};

TEST_P(LayerStatisticsOnModel, GramReproducesTheLayerOutputEnergy) {
  if (GeneratedTestdataDir().empty()) GTEST_SKIP() << "ONNXC_TESTDATA not set";
  auto model = LoadModel(Gen(GetParam() + "/model.onnx"));
  ASSERT_TRUE(model.ok()) << model.status();
  LayerStatistics::Settings s;
  s.calibration.data = Gen(GetParam() + "/calib");
  s.calibration.samples = 64;
  AnalysisContext ctx;
  auto stats = LayerStatistics::Compute(**model, ctx, s);
  ASSERT_TRUE(stats.ok()) << stats.status();
  std::vector<LinearLayer> layers;
  for (auto& c : FindLinearLayers(**model))
    if (c.layer.ok()) layers.push_back(*c.layer);
  ASSERT_GE(layers.size(), 3u);
  ASSERT_EQ((*stats)->layers.size(), layers.size());
  std::map<std::string, double> energy = OutputEnergy(**model, layers, s.calibration.data, 64);
  for (const LinearLayer& l : layers) {
    const LayerGram& g = (*stats)->layers.at(l.name());
    auto w = l.ToMatrices(*GetConstant(**model, l.weight));
    double predicted = 0;
    for (int64_t k = 0; k < l.groups; ++k) predicted += (w[k] * g.gram[k] * w[k].transpose()).trace();
    EXPECT_NEAR(predicted, energy[l.name()], 1e-4 * energy[l.name()]) << l.name();
    EXPECT_GT(g.rows, 0);
    // Padding features never see a value.
    for (int64_t f = 0; f < g.features; ++f)
      if (l.IsPadding(f)) {
        EXPECT_EQ(g.gram[0](f, f), 0.0) << l.name() << " feature " << f;
        EXPECT_EQ(g.AbsMax(0)(f), 0.0) << l.name() << " feature " << f;
      } else {
        // The mean square of a feature is at most its largest square.
        EXPECT_LE(g.gram[0](f, f), g.AbsMax(0)(f) * g.AbsMax(0)(f) * g.rows * (1 + 1e-6)) << l.name();
      }
    EXPECT_GT(g.AbsMax(0).maxCoeff(), 0.0) << l.name();
  }
}

TEST_P(LayerStatisticsOnModel, ShardsMergeIntoTheWholeAndTheDiagonalMatches) {
  if (GeneratedTestdataDir().empty()) GTEST_SKIP() << "ONNXC_TESTDATA not set";
  auto model = LoadModel(Gen(GetParam() + "/model.onnx"));
  ASSERT_TRUE(model.ok()) << model.status();
  LayerStatistics::Settings s;
  s.calibration.data = Gen(GetParam() + "/calib");
  s.calibration.batch = 8;  // several runs, so the shards are not empty
  AnalysisContext ctx;
  auto whole = LayerStatistics::Compute(**model, ctx, s);
  ASSERT_TRUE(whole.ok()) << whole.status();
  s.calibration.shard = {0, 2};
  auto a = LayerStatistics::Compute(**model, ctx, s);
  s.calibration.shard = {1, 2};
  auto b = LayerStatistics::Compute(**model, ctx, s);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_GT((*a)->samples, 0);
  ASSERT_GT((*b)->samples, 0);
  ASSERT_TRUE((*a)->Merge(**b).ok());
  EXPECT_EQ((*a)->samples, (*whole)->samples);
  s.calibration.shard = {0, 1};
  s.diagonal_only = true;
  auto diag = LayerStatistics::Compute(**model, ctx, s);
  ASSERT_TRUE(diag.ok());
  for (const auto& [name, g] : (*whole)->layers) {
    const LayerGram& m = (*a)->layers.at(name);
    EXPECT_EQ(m.rows, g.rows);
    for (size_t k = 0; k < g.gram.size(); ++k) {
      EXPECT_LE((m.gram[k] - g.gram[k]).norm(), 1e-9 * g.gram[k].norm()) << name;
      EXPECT_EQ(m.max[k], g.max[k]) << name;  // the max of the shards' maxima
      EXPECT_EQ(m.min[k], g.min[k]) << name;
      // Both sum float blocks of 256 rows, in different orders: float rounding.
      EXPECT_LE(((*diag)->layers.at(name).Diagonal(k) - g.Diagonal(k)).norm(), 1e-6 * g.gram[k].norm()) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TrainedCnns, LayerStatisticsOnModel, ::testing::Values("fmnist", "fmnist_resnet"));

}  // namespace
}  // namespace onnxc
