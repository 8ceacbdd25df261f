#include "analysis/calibration/calibration_stats.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/calibration/calibration_stats.pb.h"
#include "ir/atomic_file.h"
#include "google/protobuf/text_format.h"
#include "kernels/executor.h"
#include "kernels/registry.h"

namespace onnxc {

// ---------------------------------------------------------------- Histogram

double Histogram::total() const {
  double t = 0;
  for (double c : counts) t += c;
  return t;
}

double Histogram::CountBelow(double x) const {
  const int64_t n = static_cast<int64_t>(counts.size());
  if (n == 0) return 0;
  if (hi <= lo) return x > lo ? total() : 0;
  double pos = (x - lo) / (hi - lo) * n, below = 0;
  for (int64_t k = 0; k < n; ++k) {
    if (pos >= k + 1) below += counts[k];
    else if (pos > k) below += counts[k] * (pos - k);
  }
  return below;
}

Histogram Histogram::Rebin(double new_lo, double new_hi, int64_t bins) const {
  Histogram out;
  out.lo = new_lo;
  out.hi = new_hi;
  out.counts.assign(std::max<int64_t>(bins, 1), 0.0);
  const int64_t m = static_cast<int64_t>(out.counts.size());
  const double w2 = (new_hi - new_lo) / m;
  auto bin_of = [&](double x) -> int64_t {
    if (w2 <= 0) return 0;
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor((x - new_lo) / w2)), 0, m - 1);
  };
  const int64_t n = static_cast<int64_t>(counts.size());
  const double w = n > 0 ? (hi - lo) / n : 0;
  for (int64_t k = 0; k < n; ++k) {
    double c = counts[k];
    if (c == 0) continue;
    double u = lo + k * w, v = u + w;
    if (w <= 0 || w2 <= 0) {
      out.counts[bin_of(0.5 * (u + v))] += c;
      continue;
    }
    // Clamp the old bin into the new range; mass outside lands on the edges.
    int64_t first = bin_of(u), last = bin_of(std::nextafter(v, u));
    if (first == last) {
      out.counts[first] += c;
      continue;
    }
    for (int64_t j = first; j <= last; ++j) {
      double a = j == 0 ? -INFINITY : new_lo + j * w2;
      double b = j == m - 1 ? INFINITY : new_lo + (j + 1) * w2;
      double overlap = std::min(v, b) - std::max(u, a);
      if (overlap > 0) out.counts[j] += c * overlap / w;
    }
  }
  return out;
}

// ---------------------------------------------------------------- TensorStats

namespace {

// Below this many values a tensor's statistics are not split over threads.
constexpr int64_t kValuesPerTask = int64_t{1} << 16;

// Least and greatest finite value of x (INFINITY, -INFINITY when none).
std::pair<float, float> FiniteRange(const float* x, int64_t n) {
  // Sixteen independent lanes, as selects the compiler turns into vector
  // min/max (a NaN compares false and is ignored, as in a scalar loop).
  constexpr int kLanes = 16;
  float lane_mn[kLanes], lane_mx[kLanes];
  std::fill(lane_mn, lane_mn + kLanes, INFINITY);
  std::fill(lane_mx, lane_mx + kLanes, -INFINITY);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float v = x[i + j];
      lane_mn[j] = v < lane_mn[j] ? v : lane_mn[j];
      lane_mx[j] = v > lane_mx[j] ? v : lane_mx[j];
    }
  float mn = INFINITY, mx = -INFINITY;
  for (int j = 0; j < kLanes; ++j) mn = std::min(mn, lane_mn[j]), mx = std::max(mx, lane_mx[j]);
  for (; i < n; ++i) {
    const float v = x[i];
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (!std::isfinite(mn) || !std::isfinite(mx)) {
    // Infinite values (masks) would make every range infinite: skip them.
    mn = INFINITY, mx = -INFINITY;
    for (int64_t k = 0; k < n; ++k)
      if (std::isfinite(x[k])) mn = std::min(mn, x[k]), mx = std::max(mx, x[k]);
  }
  return {mn, mx};
}

// Adds the counts of x's finite values over `bins` equal bins from `lo`
// (`scale` bins per unit) to `counts`, values outside going to the end bins.
void CountBins(const float* x, int64_t n, double lo, double scale, int64_t bins, double* counts) {
  const double last = static_cast<double>(bins - 1);
  // Bin indices a block at a time (a vectorisable loop: clamping in double
  // before truncating gives the scalar (int64)((v - lo) * scale) clamped to
  // [0, bins - 1]; non-finite values go to a discard slot), then counted in
  // four interleaved integer histograms: a run of equal values (the zeros
  // after a Relu) would otherwise chain every increment on one counter.
  constexpr int64_t kBlock = 1024, kWays = 4;
  int32_t idx[kBlock];
  std::vector<uint32_t> local(static_cast<size_t>(kWays * (bins + 1)), 0);
  int64_t since_flush = 0;
  auto flush = [&] {
    for (int64_t b = 0; b < bins; ++b) {
      double sum = 0;
      for (int64_t w = 0; w < kWays; ++w) sum += local[w * (bins + 1) + b];
      counts[b] += sum;
    }
    std::fill(local.begin(), local.end(), 0u);
    since_flush = 0;
  };
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t m = std::min(kBlock, n - start);
    const float* xb = x + start;
    for (int64_t j = 0; j < m; ++j) {
      const double v = xb[j];
      double t = (v - lo) * scale;
      t = t > 0 ? t : 0;
      t = t < last ? t : last;
      const int32_t k = static_cast<int32_t>(t);  // t is in [0, bins - 1], even for NaN and inf
      const int32_t finite = std::fabs(xb[j]) <= std::numeric_limits<float>::max();  // 0 for NaN and inf
      idx[j] = finite * k + (1 - finite) * static_cast<int32_t>(bins);
    }
    for (int64_t j = 0; j < m; ++j) ++local[(j % kWays) * (bins + 1) + idx[j]];
    if ((since_flush += m) >= (int64_t{1} << 31)) flush();  // before any uint32 counter can overflow
  }
  flush();
}

}  // namespace

void TensorStats::UpdateRange(const float* x, int64_t n, int threads) {
  // Min and max merge exactly in any order: the same result for any split.
  float mn = INFINITY, mx = -INFINITY;
  std::mutex mu;
  kernels::ParallelFor(
      threads, n,
      [&](int64_t b, int64_t e) {
        const auto [lo, hi] = FiniteRange(x + b, e - b);
        std::lock_guard<std::mutex> l(mu);
        mn = std::min(mn, lo), mx = std::max(mx, hi);
      },
      kValuesPerTask);
  if (mn > mx) return;  // nothing finite (or nothing at all)
  min = std::min<double>(min, mn);
  max = std::max<double>(max, mx);
  if (batches == 0) {
    avg_min = mn;
    avg_max = mx;
  } else {
    avg_min += kMovingAverageConstant * (mn - avg_min);
    avg_max += kMovingAverageConstant * (mx - avg_max);
  }
  ++batches;
  elements += n;
}

void TensorStats::UpdateHistogram(const float* x, int64_t n, int threads) {
  const int64_t bins = static_cast<int64_t>(hist.counts.size());
  if (bins == 0) return;
  double* c = hist.counts.data();
  if (!(hist.hi > hist.lo)) {
    for (int64_t i = 0; i < n; ++i) c[0] += std::isfinite(x[i]) ? 1 : 0;
    return;
  }
  const double lo = hist.lo, scale = bins / (hist.hi - hist.lo);
  // Counts are whole numbers (exact in double), so the parts add up to the
  // same histogram in any order.
  std::mutex mu;
  kernels::ParallelFor(
      threads, n,
      [&](int64_t b, int64_t e) {
        std::vector<double> part(static_cast<size_t>(bins), 0.0);
        CountBins(x + b, e - b, lo, scale, bins, part.data());
        std::lock_guard<std::mutex> l(mu);
        for (int64_t k = 0; k < bins; ++k) c[k] += part[k];
      },
      kValuesPerTask);
}

// ---------------------------------------------------------------- Save / Load / Merge

int64_t CalibrationStats::MemoryBytes() const {
  int64_t b = sizeof(*this) + source.capacity();
  for (const auto& [name, t] : tensors)
    b += sizeof(t) + name.capacity() + 64 /* map node */ + t.hist.counts.capacity() * sizeof(double);
  return b;
}

absl::Status CalibrationStats::Save(const std::string& path) const {
  calib::CalibrationStatsProto p;
  p.set_version(1);
  p.set_samples(samples);
  p.set_source(source);
  p.set_data_source(data_source);
  p.set_shard_count(shard_count);
  for (int64_t k : shards) p.add_shards(k);
  for (const auto& [name, t] : tensors) {
    calib::TensorStatsProto* tp = p.add_tensors();
    tp->set_name(name);
    tp->set_min(t.min);
    tp->set_max(t.max);
    tp->set_avg_min(t.avg_min);
    tp->set_avg_max(t.avg_max);
    tp->set_batches(t.batches);
    tp->set_elements(t.elements);
    if (!t.hist.counts.empty()) {
      tp->mutable_hist()->set_lo(t.hist.lo);
      tp->mutable_hist()->set_hi(t.hist.hi);
      for (double c : t.hist.counts) tp->mutable_hist()->add_counts(c);
    }
  }
  std::string bytes;
  bool text = absl::EndsWith(path, ".pbtxt") || absl::EndsWith(path, ".txt");
  if (text ? !google::protobuf::TextFormat::PrintToString(p, &bytes) : !p.SerializeToString(&bytes))
    return absl::InternalError("cannot serialise calibration stats");
  return WriteFileAtomically(path, bytes);
}

absl::StatusOr<CalibrationStats> CalibrationStats::Load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open calibration stats ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  calib::CalibrationStatsProto p;
  bool text = absl::EndsWith(path, ".pbtxt") || absl::EndsWith(path, ".txt");
  if (text ? !google::protobuf::TextFormat::ParseFromString(ss.str(), &p) : !p.ParseFromString(ss.str()))
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a calibration stats file (CalibrationStatsProto, ",
                                                   text ? "text" : "binary", ")"));
  if (p.version() != 1)
    return absl::InvalidArgumentError(absl::StrCat(path, ": calibration stats version ", p.version(), ", expected 1"));
  CalibrationStats s;
  s.samples = p.samples();
  s.source = p.source();
  s.data_source = p.data_source().empty() ? p.source() : p.data_source();
  s.shard_count = std::max<int64_t>(1, p.shard_count());
  s.shards.assign(p.shards().begin(), p.shards().end());
  if (s.shards.empty()) s.shards = {0};
  for (const auto& tp : p.tensors()) {
    TensorStats& t = s.tensors[tp.name()];
    t.min = tp.min();
    t.max = tp.max();
    t.avg_min = tp.avg_min();
    t.avg_max = tp.avg_max();
    t.batches = tp.batches();
    t.elements = tp.elements();
    if (tp.has_hist()) {
      t.hist.lo = tp.hist().lo();
      t.hist.hi = tp.hist().hi();
      t.hist.counts.assign(tp.hist().counts().begin(), tp.hist().counts().end());
    }
  }
  return s;
}

void CalibrationStats::MergeSource(const CalibrationStats& other, bool first) {
  if (first) {
    source = other.source;
    data_source = other.data_source;
    shard_count = other.shard_count;
    shards = other.shards;
    return;
  }
  // Shards of one data set become that data set again once all are merged.
  std::set<int64_t> have(shards.begin(), shards.end());
  bool disjoint = true;
  for (int64_t k : other.shards) disjoint &= !have.count(k);
  if (data_source == other.data_source && shard_count == other.shard_count && shard_count > 1 && disjoint) {
    have.insert(other.shards.begin(), other.shards.end());
    shards.assign(have.begin(), have.end());
    source = static_cast<int64_t>(shards.size()) == shard_count
                 ? data_source
                 : absl::StrCat(data_source, " (shards ", absl::StrJoin(shards, ","), " of ", shard_count, ")");
    return;
  }
  source = absl::StrCat(source, " + ", other.source);
  data_source = source;
  shard_count = 1;
  shards = {0};
}

absl::Status CalibrationStats::Merge(const CalibrationStats& other) {
  const bool first = tensors.empty() && samples == 0 && source.empty();
  // Check everything first so a failed merge leaves *this unchanged.
  for (const auto& [name, b] : other.tensors) {
    auto it = tensors.find(name);
    if (it == tensors.end()) continue;
    const TensorStats& a = it->second;
    bool ha = !a.hist.counts.empty(), hb = !b.hist.counts.empty();
    if (ha != hb && a.elements > 0 && b.elements > 0)
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot merge calibration stats: tensor '", name, "' has a histogram in one set and not in the other (",
          ha ? source : other.source, " has it); calibrate both with the same calib-histograms setting"));
  }
  for (const auto& [name, b] : other.tensors) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      tensors[name] = b;
      continue;
    }
    TensorStats& a = it->second;
    if (b.batches == 0 && b.elements == 0) continue;
    if (a.batches == 0 && a.elements == 0) {
      a = b;
      continue;
    }
    int64_t nb = a.batches + b.batches;
    if (nb > 0) {
      // Order-independent: the batch-weighted mean of the two moving averages.
      a.avg_min = (a.avg_min * a.batches + b.avg_min * b.batches) / nb;
      a.avg_max = (a.avg_max * a.batches + b.avg_max * b.batches) / nb;
    }
    double lo = std::min(a.min, b.min), hi = std::max(a.max, b.max);
    if (!a.hist.counts.empty() && !b.hist.counts.empty()) {
      int64_t bins = std::max(a.hist.counts.size(), b.hist.counts.size());
      double hlo = std::min(a.hist.lo, b.hist.lo), hhi = std::max(a.hist.hi, b.hist.hi);
      Histogram ra = a.hist.Rebin(hlo, hhi, bins), rb = b.hist.Rebin(hlo, hhi, bins);
      for (int64_t k = 0; k < bins; ++k) ra.counts[k] += rb.counts[k];
      a.hist = std::move(ra);
    } else if (a.hist.counts.empty()) {
      a.hist = b.hist;
    }
    a.min = lo;
    a.max = hi;
    a.batches = nb;
    a.elements += b.elements;
  }
  samples += other.samples;
  MergeSource(other, first);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Compute

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Float data of a produced tensor (DOUBLE converted into `buf`).
const float* FloatData(const TensorView& t, std::vector<float>& buf) {
  if (t.type == onnx::TensorProto::FLOAT) return static_cast<const float*>(t.data);
  if (t.type == onnx::TensorProto::DOUBLE) {
    auto d = t.span<double>();
    buf.assign(d.begin(), d.end());
    return buf.data();
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<CalibrationStats>> LoadAndMerge(const std::vector<std::string>& paths,
                                                               const Reporter& reporter) {
  auto stats = std::make_unique<CalibrationStats>();
  for (const std::string& path : paths) {
    auto loaded = CalibrationStats::Load(path);
    if (!loaded.ok()) return loaded.status();
    absl::Status m = stats->Merge(*loaded);
    if (!m.ok()) return m;
  }
  reporter.Note(absl::StrFormat("calibration: loaded stats of %d tensors (%d samples: %s)", stats->tensors.size(),
                                stats->samples, stats->source));
  return stats;
}

// Runs the data through the model once per pass, updating `stats`.
absl::Status RunPasses(Executor& ex, CalibrationData& data, const CalibrationSettings& settings,
                       const Reporter& reporter, int threads, CalibrationStats* stats) {
  const int passes = settings.histograms ? 2 : 1;
  const int64_t shards = settings.shard.count, shard = settings.shard.index;
  const int64_t size = data.size();
  const int64_t per_pass = size < 0 ? -1 : (size + shards - 1) / shards;
  ProgressTracker progress(reporter, "calibrating", "samples", per_pass);
  std::vector<float> buf;
  // Lookups by Value pointer (stable during the run), resolved once.
  std::map<const Value*, TensorStats*> slot;
  auto find = [&](const Value& v) -> TensorStats* {
    auto it = slot.find(&v);
    if (it != slot.end()) return it->second;
    TensorStats* s = &stats->tensors[v.name()];
    slot[&v] = s;
    return s;
  };
  Observer range_observer = [&](const Value& v, const TensorView& t) {
    const float* x = FloatData(t, buf);
    if (x == nullptr) return;
    find(v)->UpdateRange(x, t.num_elements(), threads);
  };
  Observer hist_observer = [&](const Value& v, const TensorView& t) {
    const float* x = FloatData(t, buf);
    if (x == nullptr) return;
    auto it = slot.find(&v);
    if (it != slot.end()) it->second->UpdateHistogram(x, t.num_elements(), threads);
  };

  for (int pass = 0; pass < passes; ++pass) {
    if (pass == 1) {
      for (auto& [name, t] : stats->tensors) {
        if (!(t.min <= t.max)) continue;
        t.hist.lo = t.min;
        t.hist.hi = t.max;
        t.hist.counts.assign(settings.bins, 0.0);
      }
      data.Rewind();
    }
    const std::string what = passes == 1 ? "(min/max)" : pass == 0 ? "(pass 1/2: min/max)" : "(pass 2/2: histograms)";
    int64_t index = 0, samples = 0;
    for (;;) {
      auto sample = data.Next();
      if (!sample.ok()) return sample.status();
      if (!sample->has_value()) break;
      if (index++ % shards != shard) continue;
      auto out = ex.Run((**sample).inputs, pass == 0 ? &range_observer : &hist_observer);
      if (!out.ok())
        return absl::Status(out.status().code(),
                            absl::StrCat("calibration run on ", (**sample).origin, ": ", out.status().message()));
      stats->peak_live_bytes = std::max(stats->peak_live_bytes, ex.peak_live_bytes());
      ++stats->runs;
      samples += (**sample).rows;
      double fraction = per_pass > 0 ? (pass + std::min(1.0, static_cast<double>(samples) / per_pass)) / passes : -1;
      progress.Update(samples, what, fraction);
    }
    if (pass == 0) stats->samples = samples;
  }
  stats->passes = passes;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CalibrationStats>> CalibrationStats::Compute(Model& model, const AnalysisContext& ctx,
                                                                           const Settings& settings) {
  if (!settings.stats_in.empty()) return LoadAndMerge(settings.stats_in, ctx.reporter);
  if (settings.bins < 1) return absl::InvalidArgumentError("calib-bins must be >= 1");
  if (settings.batch < 1) return absl::InvalidArgumentError("calib-batch must be >= 1");
  const double start = Now();
  auto stats = std::make_unique<CalibrationStats>();

  auto data = OpenCalibrationData(model, settings, ctx.reporter);
  if (!data.ok()) return data.status();
  auto ex = Executor::Create(model, ctx.executor);
  if (!ex.ok()) return ex.status();
  stats->data_source = (*data)->Describe();
  stats->source = stats->data_source;
  stats->shard_count = settings.shard.count;
  stats->shards = {settings.shard.index};
  if (settings.shard.count > 1) stats->source += absl::StrCat(" (shard ", settings.shard.ToString(), ")");

  absl::Status run = RunPasses(**ex, **data, settings, ctx.reporter, ctx.executor.threads, stats.get());
  if (!run.ok()) return run;
  if (stats->samples == 0)
    return absl::InvalidArgumentError(absl::StrCat("calibration data ", stats->source, ": no samples"));
  stats->seconds = Now() - start;
  ctx.reporter.Note(absl::StrFormat("calibrated %d samples (%d runs, %d pass%s) from %s: %d tensors, %.1f s",
                                    stats->samples, stats->runs, stats->passes, stats->passes > 1 ? "es" : "",
                                    stats->source, stats->tensors.size(), stats->seconds));
  if (!settings.stats_out.empty()) {
    absl::Status s = stats->Save(settings.StatsOutPath());
    if (!s.ok()) return s;
    ctx.reporter.Note(absl::StrCat("calibration statistics saved to ", settings.StatsOutPath()));
  }
  return stats;
}

}  // namespace onnxc
