#include "analysis/layer_statistics/layer_statistics.h"

#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/progress.h"

namespace onnxc {
namespace {

// Rows per block: large enough for an efficient rank-k update, small enough
// that a block of 4608 features stays a few MB.
constexpr int64_t kBlockRows = 256;

struct Accumulator {
  LinearLayer layer;
  LayerGram* gram;
  // Lower triangle accumulated in float per block, added to the double sum.
  Eigen::MatrixXf block_gram;
};

}  // namespace

Eigen::VectorXd LayerGram::Diagonal(int64_t g) const {
  return diagonal_only ? Eigen::VectorXd(gram[g].col(0)) : Eigen::VectorXd(gram[g].diagonal());
}

absl::Status LayerGram::Merge(const LayerGram& other) {
  if (other.features != features || other.gram.size() != gram.size() || other.diagonal_only != diagonal_only)
    return absl::InvalidArgumentError(absl::StrCat("layer statistics of ", layer, ": shapes differ, cannot merge"));
  for (size_t g = 0; g < gram.size(); ++g) gram[g] += other.gram[g];
  for (size_t g = 0; g < max.size() && g < other.max.size(); ++g) {
    max[g] = max[g].cwiseMax(other.max[g]);
    min[g] = min[g].cwiseMin(other.min[g]);
  }
  rows += other.rows;
  return absl::OkStatus();
}

std::string LayerStatistics::Settings::CacheKey() const {
  return absl::StrCat(calibration.CacheKey(), "|", absl::StrJoin(layers, ","), "|", diagonal_only, "|", channel_pad);
}

absl::Status LayerStatistics::Merge(const LayerStatistics& other) {
  for (const auto& [name, g] : other.layers) {
    auto it = layers.find(name);
    if (it == layers.end()) {
      layers.emplace(name, g);
      continue;
    }
    absl::Status s = it->second.Merge(g);
    if (!s.ok()) return s;
  }
  samples += other.samples;
  source = absl::StrCat(source, " + ", other.source);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LayerStatistics>> LayerStatistics::Compute(Model& model, const AnalysisContext& ctx,
                                                                          const Settings& settings) {
  const double start = MonotonicSeconds();
  auto stats = std::make_unique<LayerStatistics>();
  std::set<std::string> wanted(settings.layers.begin(), settings.layers.end());
  // By the Value the layers read: several layers may read one input.
  std::map<const Value*, std::vector<Accumulator>> by_input;
  for (LinearLayerCandidate& c : FindLinearLayers(model, settings.channel_pad)) {
    if (!c.layer.ok()) continue;
    const LinearLayer& l = *c.layer;
    if (!wanted.empty() && wanted.count(l.name()) == 0) continue;
    if (l.kind == LinearLayer::Kind::kConvTranspose) continue;  // no per-output patches
    LayerGram& g = stats->layers[l.name()];
    g.layer = l.name();
    g.features = l.features();
    g.diagonal_only = settings.diagonal_only;
    g.gram.assign(l.groups, Eigen::MatrixXd::Zero(g.features, settings.diagonal_only ? 1 : g.features));
    g.min.assign(l.groups, Eigen::VectorXd::Zero(g.features));
    g.max.assign(l.groups, Eigen::VectorXd::Zero(g.features));
    by_input[l.node->input(0)].push_back(Accumulator{l, &g, {}});
  }
  for (const std::string& name : wanted)
    if (stats->layers.count(name) == 0)
      return absl::InvalidArgumentError(absl::StrCat("layer statistics: no linear layer named '", name, "'"));
  if (by_input.empty()) return stats;

  auto data = OpenCalibrationData(model, settings.calibration, ctx.reporter);
  if (!data.ok()) return data.status();
  auto ex = Executor::Create(model, ctx.executor);
  if (!ex.ok()) return ex.status();
  stats->source = (*data)->Describe();

  absl::Status failed;
  Observer observer = [&](const Value& v, const TensorView& t) {
    auto it = by_input.find(&v);
    if (it == by_input.end() || !failed.ok()) return;
    for (Accumulator& a : it->second) {
      LayerGram& g = *a.gram;
      int64_t rows_before = 0;
      absl::Status s = a.layer.ForEachInputRows(t, kBlockRows, [&](int64_t group, const LinearLayer::RowBlock& x) {
        if (group == 0) rows_before += x.rows();
        g.max[group] = g.max[group].cwiseMax(x.colwise().maxCoeff().transpose().cast<double>());
        g.min[group] = g.min[group].cwiseMin(x.colwise().minCoeff().transpose().cast<double>());
        if (g.diagonal_only) {
          g.gram[group].col(0) += x.colwise().squaredNorm().transpose().cast<double>();
          return;
        }
        a.block_gram.setZero(g.features, g.features);
        a.block_gram.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
        g.gram[group].triangularView<Eigen::Lower>() += a.block_gram.cast<double>();
      });
      if (!s.ok()) failed = s;
      g.rows += rows_before;
    }
  };

  const CalibrationShard& shard = settings.calibration.shard;
  const int64_t size = (*data)->size();
  ProgressTracker progress(ctx.reporter, "layer statistics", "samples",
                           size < 0 ? -1 : (size + shard.count - 1) / shard.count);
  int64_t index = 0;
  for (;;) {
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) break;
    if (index++ % shard.count != shard.index) continue;
    auto out = (*ex)->Run((**sample).inputs, &observer);
    if (!out.ok())
      return absl::Status(out.status().code(),
                          absl::StrCat("layer statistics run on ", (**sample).origin, ": ", out.status().message()));
    if (!failed.ok()) return failed;
    stats->samples += (**sample).rows;
    progress.Update(stats->samples, absl::StrFormat("(%d layers)", stats->layers.size()));
  }
  if (stats->samples == 0)
    return absl::InvalidArgumentError(absl::StrCat("calibration data ", stats->source, ": no samples"));
  // Mirror the lower triangle: callers get full symmetric matrices.
  for (auto& [name, g] : stats->layers)
    if (!g.diagonal_only)
      for (Eigen::MatrixXd& h : g.gram) h.triangularView<Eigen::StrictlyUpper>() = h.transpose();
  stats->seconds = MonotonicSeconds() - start;
  return stats;
}

}  // namespace onnxc
