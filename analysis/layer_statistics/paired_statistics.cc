#include "analysis/layer_statistics/paired_statistics.h"

#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/layer_statistics/linear_layer.h"
#include "analysis/progress.h"

namespace onnxc {
namespace {

constexpr int64_t kBlockRows = 256;

using Rows = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Appends the constant-1 feature.
Rows WithOne(const LinearLayer::RowBlock& x) {
  Rows out(x.rows(), x.cols() + 1);
  out.leftCols(x.cols()) = x;
  out.col(x.cols()).setOnes();
  return out;
}

// Channel rows of an N x C x P tensor (P: pixels, or features per channel).
Rows ChannelRowsWithOne(const float* data, int64_t n, int64_t c, int64_t p) {
  Rows out(n * p, c + 1);
  for (int64_t i = 0; i < n; ++i)
    out.block(i * p, 0, p, c) =
        Eigen::Map<const Rows>(data + i * c * p, c, p).transpose();
  out.col(c).setOnes();
  return out;
}

struct Pair {
  PairedRequest request;
  LinearLayer reference, current;
  PairedGram* gram;
  std::vector<Rows> reference_rows;  // this sample's, in block order
};

// Calls `rows` with blocks of rows (the 1 appended) of `layer`'s input `t`.
absl::Status ForEachRows(const Pair& p, const LinearLayer& layer, const TensorView& t,
                         const std::function<void(Rows)>& rows) {
  if (!p.request.channels)
    return layer.ForEachInputRows(t, kBlockRows, [&](int64_t, const LinearLayer::RowBlock& x) { rows(WithOne(x)); });
  if (t.type != onnx::TensorProto::FLOAT || t.dims.size() < 2)
    return absl::InvalidArgumentError(absl::StrCat(layer.name(), ": channel rows need a float input of rank >= 2"));
  int64_t n = t.dims[0], per = 1;
  for (size_t i = 2; i < t.dims.size(); ++i) per *= t.dims[i];
  int64_t c = t.dims[1], pixels = per;
  if (layer.kind != LinearLayer::Kind::kConv) {  // N x (C*b)
    if (t.dims.size() != 2 || t.dims[1] % p.request.block != 0)
      return absl::InvalidArgumentError(absl::StrCat(layer.name(), ": input is not N x (channels*block)"));
    c = t.dims[1] / p.request.block;
    pixels = p.request.block;
  }
  const float* data = static_cast<const float*>(t.data);
  // A few samples per block keeps each block small.
  const int64_t step = std::max<int64_t>(1, kBlockRows * 16 / std::max<int64_t>(1, pixels));
  for (int64_t i = 0; i < n; i += step) rows(ChannelRowsWithOne(data + i * c * pixels, std::min(step, n - i), c, pixels));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, LinearLayer>> LayersByName(const Model& model,
                                                                const std::set<std::string>& names,
                                                                const char* which) {
  std::map<std::string, LinearLayer> out;
  for (LinearLayerCandidate& c : FindLinearLayers(model))
    if (c.layer.ok() && names.count(c.layer->name())) out.emplace(c.layer->name(), *c.layer);
  for (const std::string& n : names) {
    if (!out.count(n)) return absl::InvalidArgumentError(absl::StrCat("paired statistics: no linear layer '", n, "' in the ", which, " model"));
    const LinearLayer& l = out.at(n);
    if (l.groups != 1 || l.kind == LinearLayer::Kind::kConvTranspose)
      return absl::InvalidArgumentError(absl::StrCat("paired statistics: layer '", n, "' is grouped or transposed"));
  }
  return out;
}

}  // namespace

absl::Status PairedGram::Merge(const PairedGram& other) {
  if (other.own.rows() != own.rows() || other.cross.cols() != cross.cols())
    return absl::InvalidArgumentError("paired statistics: shapes differ, cannot merge");
  own += other.own;
  cross += other.cross;
  ref += other.ref;
  rows += other.rows;
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, PairedGram>> ComputePairedStatistics(
    const Model& reference, const Model& current, const std::vector<PairedRequest>& layers,
    const CalibrationSettings& calibration, const AnalysisContext& ctx) {
  std::map<std::string, PairedGram> out;
  if (layers.empty()) return out;
  std::set<std::string> names;
  for (const PairedRequest& r : layers) names.insert(r.layer);
  auto ref_layers = LayersByName(reference, names, "reference");
  if (!ref_layers.ok()) return ref_layers.status();
  auto cur_layers = LayersByName(current, names, "current");
  if (!cur_layers.ok()) return cur_layers.status();

  std::vector<Pair> pairs;
  pairs.reserve(names.size());
  for (const PairedRequest& req : layers) {
    if (out.count(req.layer)) continue;
    const LinearLayer &r = ref_layers->at(req.layer), &c = cur_layers->at(req.layer);
    const int64_t block = req.block > 0 ? req.block : 1;
    const int64_t dc = req.channels ? (c.kind == LinearLayer::Kind::kConv ? c.channels_per_group : c.channels_per_group / block)
                                    : c.features();
    const int64_t dr = req.channels ? (r.kind == LinearLayer::Kind::kConv ? r.channels_per_group : r.channels_per_group / block)
                                    : r.features();
    PairedGram& g = out[req.layer];
    g.own = Eigen::MatrixXd::Zero(dc + 1, dc + 1);
    g.cross = Eigen::MatrixXd::Zero(dc + 1, dr + 1);
    g.ref = Eigen::MatrixXd::Zero(dr + 1, dr + 1);
    pairs.push_back(Pair{req, r, c, &g, {}});
  }
  std::map<const Value*, std::vector<Pair*>> by_ref_input, by_cur_input;
  for (Pair& p : pairs) {
    by_ref_input[p.reference.node->input(0)].push_back(&p);
    by_cur_input[p.current.node->input(0)].push_back(&p);
  }

  auto data = OpenCalibrationData(current, calibration, ctx.reporter);
  if (!data.ok()) return data.status();
  auto ref_ex = Executor::Create(reference, ctx.executor);
  if (!ref_ex.ok()) return ref_ex.status();
  auto cur_ex = Executor::Create(current, ctx.executor);
  if (!cur_ex.ok()) return cur_ex.status();

  absl::Status failed;
  Observer on_reference = [&](const Value& v, const TensorView& t) {
    auto it = by_ref_input.find(&v);
    if (it == by_ref_input.end() || !failed.ok()) return;
    for (Pair* p : it->second) {
      absl::Status s = ForEachRows(*p, p->reference, t, [&](Rows r) {
        p->gram->ref.triangularView<Eigen::Lower>() += (r.transpose() * r).cast<double>();
        p->reference_rows.push_back(std::move(r));
      });
      if (!s.ok()) failed = s;
    }
  };
  Observer on_current = [&](const Value& v, const TensorView& t) {
    auto it = by_cur_input.find(&v);
    if (it == by_cur_input.end() || !failed.ok()) return;
    for (Pair* p : it->second) {
      size_t block = 0;
      absl::Status s = ForEachRows(*p, p->current, t, [&](Rows c) {
        if (block >= p->reference_rows.size() || p->reference_rows[block].rows() != c.rows()) {
          failed = absl::InvalidArgumentError(absl::StrCat("paired statistics: layer '", p->current.name(),
                                                           "' reads inputs of another geometry in the two models"));
          return;
        }
        p->gram->own.triangularView<Eigen::Lower>() += (c.transpose() * c).cast<double>();
        p->gram->cross += (c.transpose() * p->reference_rows[block]).cast<double>();
        p->gram->rows += c.rows();
        ++block;
      });
      if (!s.ok()) failed = s;
      p->reference_rows.clear();
    }
  };

  const CalibrationShard& shard = calibration.shard;
  const int64_t size = (*data)->size();
  ProgressTracker progress(ctx.reporter, "paired layer statistics", "samples",
                           size < 0 ? -1 : (size + shard.count - 1) / shard.count);
  int64_t samples = 0, index = 0;
  for (;;) {
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) break;
    if (index++ % shard.count != shard.index) continue;
    for (auto* ex : {ref_ex->get(), cur_ex->get()}) {
      auto r = ex->Run((**sample).inputs, ex == ref_ex->get() ? &on_reference : &on_current);
      if (!r.ok())
        return absl::Status(r.status().code(),
                            absl::StrCat("paired statistics run on ", (**sample).origin, ": ", r.status().message()));
      if (!failed.ok()) return failed;
    }
    samples += (**sample).rows;
    progress.Update(samples, absl::StrFormat("(%d layers)", pairs.size()));
  }
  progress.Finish();
  if (samples == 0) return absl::InvalidArgumentError(absl::StrCat("calibration data ", (*data)->Describe(), ": no samples"));
  for (auto& [n, g] : out) {
    g.own.triangularView<Eigen::StrictlyUpper>() = g.own.transpose();
    g.ref.triangularView<Eigen::StrictlyUpper>() = g.ref.transpose();
  }
  return out;
}

}  // namespace onnxc
