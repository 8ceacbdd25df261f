#include "analysis/calibration_stats.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "analysis/calibration_data.h"
#include "analysis/calibration_stats.pb.h"
#include "google/protobuf/text_format.h"
#include "kernels/executor.h"

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

void TensorStats::UpdateRange(const float* x, int64_t n) {
  float mn = INFINITY, mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    if (v < mn) mn = v;  // NaN compares false: ignored
    if (v > mx) mx = v;
  }
  if (!std::isfinite(mn) || !std::isfinite(mx)) {
    // Infinite values (masks) would make every range infinite: skip them.
    mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i)
      if (std::isfinite(x[i])) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
    if (mn > mx) return;
  }
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

void TensorStats::UpdateHistogram(const float* x, int64_t n) {
  const int64_t bins = static_cast<int64_t>(hist.counts.size());
  if (bins == 0) return;
  double* c = hist.counts.data();
  if (!(hist.hi > hist.lo)) {
    for (int64_t i = 0; i < n; ++i) c[0] += std::isfinite(x[i]) ? 1 : 0;
    return;
  }
  const double lo = hist.lo, scale = bins / (hist.hi - hist.lo);
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i];
    if (!std::isfinite(v)) continue;
    int64_t k = static_cast<int64_t>((v - lo) * scale);
    c[std::clamp<int64_t>(k, 0, bins - 1)] += 1;
  }
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
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(bytes.data(), bytes.size());
    if (!f) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  return absl::OkStatus();
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

absl::Status CalibrationStats::Merge(const CalibrationStats& other) {
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
  if (source.empty()) source = other.source;
  else if (!other.source.empty()) source = absl::StrCat(source, " + ", other.source);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Compute

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class Progress {
 public:
  // `total`: samples per pass (-1 unknown); the bar covers all passes.
  Progress(bool enabled, int64_t total, int passes)
      : enabled_(enabled), total_(total), passes_(passes), start_(Now()) {}
  // "calibrating [#####.....] 128/256 samples, 3.1 s (pass 2/2: histograms)"
  void Update(int64_t done, int pass, const std::string& what) {
    if (!enabled_) return;
    double now = Now();
    if (now - last_ < 0.05 && done != total_) return;
    last_ = now;
    std::string line;
    if (total_ > 0) {
      const int width = 30;
      double frac = (pass + std::min<double>(1.0, static_cast<double>(done) / total_)) / passes_;
      int filled = static_cast<int>(width * frac);
      line = absl::StrCat("\rcalibrating [", std::string(filled, '#'), std::string(width - filled, '.'), "] ", done,
                          "/", total_, " samples, ", absl::StrFormat("%.1f", now - start_), " s ", what);
    } else {
      line = absl::StrCat("\rcalibrating ", done, " samples, ", absl::StrFormat("%.1f", now - start_), " s ", what);
    }
    std::fprintf(stderr, "%s\033[K", line.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void Done() {
    if (shown_) std::fprintf(stderr, "\n");
    shown_ = false;
  }

 private:
  bool enabled_;
  int64_t total_;
  int passes_;
  double start_, last_ = 0;
  bool shown_ = false;
};

std::string Extra(const RunSettings& s, const std::string& key, const std::string& def = "") {
  auto it = s.extra.find(key);
  return it == s.extra.end() ? def : it->second;
}

absl::StatusOr<int64_t> ExtraInt(const RunSettings& s, const std::string& key, int64_t def) {
  std::string v = Extra(s, key);
  if (v.empty()) return def;
  int64_t x;
  if (!absl::SimpleAtoi(v, &x)) return absl::InvalidArgumentError(absl::StrCat(key, "=", v, ": not an integer"));
  return x;
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

}  // namespace

absl::StatusOr<std::unique_ptr<CalibrationStats>> CalibrationStats::Compute(Model& model, PassContext& ctx) {
  RunSettings defaults;
  const RunSettings& rs = ctx.settings ? *ctx.settings : defaults;
  auto stats = std::make_unique<CalibrationStats>();
  const double start = Now();

  if (std::string in = Extra(rs, "calib-stats-in"); !in.empty()) {
    for (absl::string_view part : absl::StrSplit(in, ',', absl::SkipWhitespace())) {
      auto loaded = Load(std::string(part));
      if (!loaded.ok()) return loaded.status();
      absl::Status m = stats->Merge(*loaded);
      if (!m.ok()) return m;
    }
    if (!rs.progress)
      std::fprintf(stderr, "calibration: loaded stats of %zu tensors (%lld samples: %s)\n", stats->tensors.size(),
                   static_cast<long long>(stats->samples), stats->source.c_str());
    return stats;
  }

  auto max_samples = ExtraInt(rs, "calib-samples", -1);
  auto bins = ExtraInt(rs, "calib-bins", 2048);
  auto batch = ExtraInt(rs, "calib-batch", 32);
  for (const auto* v : {&max_samples, &bins, &batch})
    if (!v->ok()) return v->status();
  if (*bins < 1) return absl::InvalidArgumentError("calib-bins must be >= 1");
  if (*batch < 1) return absl::InvalidArgumentError("calib-batch must be >= 1");
  std::string hist_flag = Extra(rs, "calib-histograms", "true");
  if (hist_flag != "true" && hist_flag != "false")
    return absl::InvalidArgumentError(absl::StrCat("calib-histograms=", hist_flag, ": expected true or false"));
  const bool histograms = hist_flag == "true";
  int64_t shard = 0, shards = 1;
  if (std::string sh = Extra(rs, "calib-shard"); !sh.empty()) {
    std::vector<std::string> kn = absl::StrSplit(sh, '/');
    if (kn.size() != 2 || !absl::SimpleAtoi(kn[0], &shard) || !absl::SimpleAtoi(kn[1], &shards) || shards < 1 ||
        shard < 0 || shard >= shards)
      return absl::InvalidArgumentError(absl::StrCat("calib-shard=", sh, ": expected k/n with 0 <= k < n"));
  }

  CalibrationOptions co;
  co.max_samples = *max_samples;
  co.max_batch = *batch;
  co.shape = Extra(rs, "calib-shape");
  auto data = CalibrationData::Open(model, rs.calib_data, co);
  if (!data.ok()) return data.status();
  ExecutorOptions eo;
  eo.threads = std::max(1, rs.threads);
  auto ex = Executor::Create(model, eo);
  if (!ex.ok()) return ex.status();
  stats->source = (*data)->Describe();
  if (shards > 1) stats->source += absl::StrCat(" (shard ", shard, "/", shards, ")");

  const int passes = histograms ? 2 : 1;
  const int64_t size = (*data)->size();
  Progress progress(rs.progress, size < 0 ? -1 : (size + shards - 1) / shards, passes);
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
    find(v)->UpdateRange(x, t.num_elements());
  };
  Observer hist_observer = [&](const Value& v, const TensorView& t) {
    const float* x = FloatData(t, buf);
    if (x == nullptr) return;
    auto it = slot.find(&v);
    if (it != slot.end()) it->second->UpdateHistogram(x, t.num_elements());
  };

  for (int pass = 0; pass < passes; ++pass) {
    if (pass == 1) {
      for (auto& [name, t] : stats->tensors) {
        if (!(t.min <= t.max)) continue;
        t.hist.lo = t.min;
        t.hist.hi = t.max;
        t.hist.counts.assign(*bins, 0.0);
      }
      (*data)->Rewind();
    }
    const std::string what = passes == 1 ? "(min/max)" : pass == 0 ? "(pass 1/2: min/max)" : "(pass 2/2: histograms)";
    int64_t index = 0, samples = 0;
    for (;;) {
      auto sample = (*data)->Next();
      if (!sample.ok()) {
        progress.Done();
        return sample.status();
      }
      if (!sample->has_value()) break;
      if (index++ % shards != shard) continue;
      auto out = (*ex)->Run((**sample).inputs, pass == 0 ? &range_observer : &hist_observer);
      if (!out.ok()) {
        progress.Done();
        return absl::Status(out.status().code(),
                            absl::StrCat("calibration run on ", (**sample).origin, ": ", out.status().message()));
      }
      stats->peak_live_bytes = std::max(stats->peak_live_bytes, (*ex)->peak_live_bytes());
      ++stats->runs;
      samples += (**sample).rows;
      progress.Update(samples, pass, what);
    }
    if (pass == 0) stats->samples = samples;
  }
  progress.Done();
  if (stats->samples == 0)
    return absl::InvalidArgumentError(absl::StrCat("calibration data ", stats->source, ": no samples"));
  stats->passes = passes;
  stats->seconds = Now() - start;
  if (!rs.progress)
    std::fprintf(stderr, "calibrated %lld samples (%lld runs, %d pass%s) from %s: %zu tensors, %.1f s\n",
                 static_cast<long long>(stats->samples), static_cast<long long>(stats->runs), passes,
                 passes > 1 ? "es" : "", stats->source.c_str(), stats->tensors.size(), stats->seconds);
  if (std::string out = Extra(rs, "calib-stats-out"); !out.empty()) {
    absl::Status s = stats->Save(out);
    if (!s.ok()) return s;
  }
  return stats;
}

}  // namespace onnxc
