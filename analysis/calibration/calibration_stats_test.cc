// CalibrationStats on the Fashion-MNIST CNN (testdata/generated/fmnist):
// streamed statistics for every float tensor, peak memory that does not grow
// with the number of samples, save/load, merge of two half-runs equal to one
// full run, progress output, and each range method against min/max on real
// tensors. Needs ONNXC_TESTDATA (fails, not skips, when it is set and files
// are missing).
#include "analysis/calibration/calibration_stats.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "analysis/calibration/calibration_data.h"
#include "analysis/calibration/range_methods.h"
#include "analysis/progress.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/import.h"
#include "ir/node.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

std::string Gen() {
  const char* d = std::getenv("ONNXC_TESTDATA");
  return d ? d : "";
}

#define REQUIRE_FMNIST()                                                                                  \
  if (Gen().empty()) GTEST_SKIP() << "ONNXC_TESTDATA not set: run through tools/test.sh";                \
  ASSERT_TRUE(fs::exists(Gen() + "/fmnist/model.onnx")) << "missing " << Gen() << "/fmnist/model.onnx (run testdata/generate.sh)"; \
  ASSERT_TRUE(fs::exists(Gen() + "/fmnist/calib/test_data_set_7/input_0.pb")) << "missing fmnist/calib (run testdata/generate.sh)"

std::unique_ptr<Model> Fmnist() {
  auto m = LoadModel(Gen() + "/fmnist/model.onnx");
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

absl::StatusOr<std::unique_ptr<CalibrationStats>> Calibrate(Model& model, const std::string& data,
                                                            CalibrationSettings settings = {},
                                                            bool progress = false) {
  settings.data = data;
  AnalysisContext ctx;
  ctx.executor.threads = 2;
  ctx.reporter = StderrReporter(progress);
  return CalibrationStats::Compute(model, ctx, settings);
}

CalibrationSettings Samples(int64_t n) {
  CalibrationSettings s;
  s.samples = n;
  return s;
}

// Peak resident set since the last reset (VmHWM), in kB.
int64_t VmHwmKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  return -1;
}
bool ResetPeak() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

TEST(CalibrationStats, EveryFloatTensorOfFmnist) {
  REQUIRE_FMNIST();
  auto model = Fmnist();
  ASSERT_NE(model, nullptr);
  auto stats = Calibrate(*model, Gen() + "/fmnist/calib", {});
  ASSERT_TRUE(stats.ok()) << stats.status();
  const CalibrationStats& s = **stats;
  EXPECT_EQ(s.samples, 256);
  EXPECT_EQ(s.passes, 2);
  EXPECT_EQ(s.runs, 16);  // 8 batches x 2 passes
  EXPECT_NE(s.source.find("256 samples from folder"), std::string::npos) << s.source;
  ASSERT_TRUE(s.tensors.count("input"));
  // Every node output of the main graph has stats (all are float here).
  for (const auto& np : model->graph().nodes())
    for (const Node* n = np.get(); n; n = nullptr)
    for (const Value* v : n->outputs()) EXPECT_TRUE(s.tensors.count(v->name())) << v->name();
  const TensorStats& in = s.tensors.at("input");
  EXPECT_EQ(in.elements, 256 * 28 * 28);
  EXPECT_EQ(in.batches, 8);
  for (const auto& [name, t] : s.tensors) {
    ASSERT_LE(t.min, t.max) << name;
    ASSERT_EQ(t.hist.counts.size(), 2048u) << name;
    EXPECT_DOUBLE_EQ(t.hist.total(), static_cast<double>(t.elements)) << name;
    EXPECT_EQ(t.hist.lo, t.min);
    EXPECT_EQ(t.hist.hi, t.max);
  }
}

TEST(CalibrationStats, PeakMemoryDoesNotGrowWithSamples) {
  REQUIRE_FMNIST();
  auto model = Fmnist();
  ASSERT_NE(model, nullptr);
  struct Run {
    int64_t samples, peak_live, stats_bytes, hwm_growth_kb;
  };
  auto measure = [&](const std::string& data, int64_t n, CalibrationSettings extra) -> Run {
    extra.samples = n;
    int64_t before = VmHwmKb();
    bool reset = ResetPeak();
    int64_t base = reset ? VmHwmKb() : before;  // after reset VmHWM = current RSS
    auto s = Calibrate(*model, data, extra);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return {};
    return {(*s)->samples, (*s)->peak_live_bytes, (*s)->MemoryBytes(), VmHwmKb() - base};
  };
  // Warm-up (allocator pools, lazy initialisation) so both measured runs start alike.
  measure(Gen() + "/fmnist/calib", 32, {});
  Run a = measure(Gen() + "/fmnist/calib", 64, {});
  Run b = measure(Gen() + "/fmnist/calib", 256, {});
  std::printf("fmnist .pb  64 samples: peak live %lld B, stats %lld B, VmHWM growth %lld kB\n",
              (long long)a.peak_live, (long long)a.stats_bytes, (long long)a.hwm_growth_kb);
  std::printf("fmnist .pb 256 samples: peak live %lld B, stats %lld B, VmHWM growth %lld kB\n",
              (long long)b.peak_live, (long long)b.stats_bytes, (long long)b.hwm_growth_kb);
  EXPECT_EQ(a.samples, 64);
  EXPECT_EQ(b.samples, 256);
  EXPECT_EQ(a.peak_live, b.peak_live);      // one batch of 32 at a time
  EXPECT_NEAR(a.stats_bytes, b.stats_bytes, 64);  // O(tensors x bins); the source text differs
  EXPECT_LT(b.hwm_growth_kb, a.hwm_growth_kb + 4096) << "peak RSS grew with the number of samples";

  // 256 vs 1,024 test images streamed from one numpy file in chunks of 32.
  std::string npy = Gen() + "/fmnist/test_images.npy";
  ASSERT_TRUE(fs::exists(npy)) << "missing " << npy;
  Run c = measure(npy, 256, {});
  Run d = measure(npy, 1024, {});
  std::printf("fmnist .npy  256 samples: peak live %lld B, stats %lld B, VmHWM growth %lld kB\n",
              (long long)c.peak_live, (long long)c.stats_bytes, (long long)c.hwm_growth_kb);
  std::printf("fmnist .npy 1024 samples: peak live %lld B, stats %lld B, VmHWM growth %lld kB\n",
              (long long)d.peak_live, (long long)d.stats_bytes, (long long)d.hwm_growth_kb);
  EXPECT_EQ(d.samples, 1024);
  EXPECT_EQ(c.peak_live, d.peak_live);
  EXPECT_NEAR(c.stats_bytes, d.stats_bytes, 64);
  EXPECT_LT(d.hwm_growth_kb, c.hwm_growth_kb + 4096) << "peak RSS grew with the number of samples";
}

TEST(CalibrationStats, MergeOfTwoHalvesEqualsOneRun) {
  REQUIRE_FMNIST();
  auto model = Fmnist();
  ASSERT_NE(model, nullptr);
  std::string calib = Gen() + "/fmnist/calib";
  auto full = Calibrate(*model, calib, {});
  std::string dir = ::testing::TempDir();
  CalibrationSettings half0, half1, both;
  half0.shard = {0, 2};
  half0.stats_out = dir + "/half0.pb";
  half1.shard = {1, 2};
  half1.stats_out = dir + "/half1.pbtxt";
  both.stats_in = {dir + "/half0.pb", dir + "/half1.pbtxt"};
  auto h0 = Calibrate(*model, calib, half0);
  auto h1 = Calibrate(*model, calib, half1);
  ASSERT_TRUE(full.ok() && h0.ok() && h1.ok());
  EXPECT_EQ((*h0)->samples, 128);
  // Merge from the saved files (one binary, one text), through calib-stats-in.
  auto merged = Calibrate(*model, "", both);
  ASSERT_TRUE(merged.ok()) << merged.status();
  const CalibrationStats& m = **merged;
  const CalibrationStats& f = **full;
  EXPECT_EQ(m.samples, f.samples);
  // All shards of one data set describe it as one run would.
  EXPECT_EQ(m.source, f.source);
  EXPECT_NE((*h0)->source.find("shard 0/2"), std::string::npos) << (*h0)->source;
  ASSERT_EQ(m.tensors.size(), f.tensors.size());
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, ft] : f.tensors) {
    const TensorStats& mt = m.tensors.at(name);
    EXPECT_EQ(mt.min, ft.min) << name;  // exact
    EXPECT_EQ(mt.max, ft.max) << name;
    EXPECT_EQ(mt.elements, ft.elements) << name;
    EXPECT_EQ(mt.batches, ft.batches) << name;
    ASSERT_EQ(mt.hist.counts.size(), ft.hist.counts.size());
    EXPECT_NEAR(mt.hist.total(), ft.hist.total(), 1e-6 * ft.hist.total()) << name;
    // Rebinning spreads each half's bins over the full range: compare the
    // distributions at a coarser resolution (64 bins), as total variation.
    Histogram a = mt.hist.Rebin(ft.min, ft.max, 64), b = ft.hist.Rebin(ft.min, ft.max, 64);
    double tv = 0;
    for (int k = 0; k < 64; ++k) tv += std::fabs(a.counts[k] - b.counts[k]);
    tv /= 2 * ft.hist.total();
    if (tv > worst) worst = tv, worst_name = name;
    // And the ranges the methods derive agree closely (not entropy: its KL
    // curve is flat near the minimum, so a small change moves the argmin).
    for (RangeMethod meth : {RangeMethod::kPercentile, RangeMethod::kMse, RangeMethod::kIfmr}) {
      RangeOptions o;
      o.method = meth;
      auto rf = ComputeRange(ft, o), rm = ComputeRange(mt, o);
      double span = ft.max - ft.min;
      EXPECT_NEAR(rf.second, rm.second, 0.03 * span) << name << " " << RangeMethodName(meth);
      EXPECT_NEAR(rf.first, rm.first, 0.03 * span) << name << " " << RangeMethodName(meth);
    }
  }
  std::printf("merge of 2 halves vs one run: worst total variation at 64 bins %.5f (%s)\n", worst, worst_name.c_str());
  EXPECT_LT(worst, 0.01);
  // Save/load round trip is exact.
  ASSERT_TRUE(f.Save(dir + "/full.pb").ok());
  auto back = CalibrationStats::Load(dir + "/full.pb");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->samples, f.samples);
  EXPECT_EQ(back->source, f.source);
  for (const auto& [name, ft] : f.tensors) {
    const TensorStats& bt = back->tensors.at(name);
    EXPECT_EQ(bt.hist.counts, ft.hist.counts) << name;
    EXPECT_EQ(bt.avg_min, ft.avg_min);
    EXPECT_EQ(bt.avg_max, ft.avg_max);
  }
  // Corrupt input is refused with the path.
  std::ofstream(dir + "/junk.pb") << "not a proto at all \xff\xff";
  auto junk = CalibrationStats::Load(dir + "/junk.pb");
  EXPECT_FALSE(junk.ok());
}

TEST(CalibrationStats, OnePassWithoutHistogramsAndProgressBar) {
  REQUIRE_FMNIST();
  auto model = Fmnist();
  ASSERT_NE(model, nullptr);
  ::testing::internal::CaptureStderr();
  CalibrationSettings one_pass;
  one_pass.histograms = false;
  auto s = Calibrate(*model, Gen() + "/fmnist/calib", one_pass, /*progress=*/true);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->passes, 1);
  EXPECT_EQ((*s)->runs, 8);
  EXPECT_TRUE((*s)->tensors.at("input").hist.counts.empty());
  EXPECT_NE(err.find("calibrating ["), std::string::npos) << err;
  EXPECT_NE(err.find("256/256 samples"), std::string::npos) << err;
  EXPECT_NE(err.find('\r'), std::string::npos);
  RangeOptions o;
  o.method = RangeMethod::kEntropy;
  EXPECT_FALSE(ComputeRangeChecked((*s)->tensors.at("input"), o).ok());
  // Without progress: one summary line.
  ::testing::internal::CaptureStderr();
  auto q = Calibrate(*model, Gen() + "/fmnist/calib", Samples(64), /*progress=*/false);
  err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(q.ok());
  EXPECT_NE(err.find("calibrated 64 samples"), std::string::npos) << err;
  EXPECT_EQ(err.find('\r'), std::string::npos);
  // Bad settings are refused.
  CalibrationSettings no_bins;
  no_bins.bins = 0;
  EXPECT_FALSE(Calibrate(*model, Gen() + "/fmnist/calib", no_bins).ok());
  EXPECT_FALSE(CalibrationShard::Parse("2/2").ok());
  EXPECT_FALSE(CalibrationShard::Parse("1/x").ok());
  EXPECT_TRUE(CalibrationShard::Parse("1/2").ok());
}

TEST(CalibrationStats, RangeMethodsOnRealTensors) {
  REQUIRE_FMNIST();
  auto model = Fmnist();
  ASSERT_NE(model, nullptr);
  auto stats = Calibrate(*model, Gen() + "/fmnist/calib", {});
  ASSERT_TRUE(stats.ok()) << stats.status();
  std::printf("%-28s %-6s %-16s %-18s %-18s %-18s %-18s %-18s\n", "tensor (producer)", "mode", "minmax",
              "moving-average", "percentile", "entropy", "mse", "ifmr");
  int entropy_differs = 0, tensors = 0;
  for (const auto& np : model->graph().nodes()) {
    const Node* n = np.get();
    const Value* v = n->outputs()[0];
    const TensorStats& t = (*stats)->tensors.at(v->name());
    ++tensors;
    for (bool sym : {false, true}) {
      std::string row;
      std::pair<float, float> mm;
      for (RangeMethod m : {RangeMethod::kMinMax, RangeMethod::kMovingAverage, RangeMethod::kPercentile,
                            RangeMethod::kEntropy, RangeMethod::kMse, RangeMethod::kIfmr}) {
        RangeOptions o;
        o.method = m;
        o.symmetric = sym;
        auto r = ComputeRange(t, o);
        if (m == RangeMethod::kMinMax) mm = r;
        if (m == RangeMethod::kEntropy && !sym && r != mm) ++entropy_differs;
        EXPECT_LE(r.first, 0.f);
        EXPECT_GE(r.second, 0.f);
        char cell[64];
        std::snprintf(cell, sizeof(cell), "[%7.3f,%7.3f] ", r.first, r.second);
        row += cell;
      }
      std::printf("%-28s %-6s %s\n", (v->name() + " (" + n->op_type() + ")").substr(0, 28).c_str(),
                  sym ? "sym" : "asym", row.c_str());
    }
  }
  EXPECT_GT(entropy_differs, tensors / 2) << "entropy equals min/max on most tensors";
}


// The vectorised range and histogram loops against the plain definition, on
// lengths around their block sizes, with NaN, infinities and values outside
// the histogram's range (which go to the end bins).
TEST(TensorStats, RangeAndHistogramMatchTheScalarDefinition) {
  uint32_t seed = 99;
  auto rnd = [&] {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<float>((seed >> 8) % 200001) / 10000.f - 10.f;
  };
  for (int64_t n : {1, 15, 16, 17, 1023, 1024, 1025, 5000}) {
    std::vector<float> x(n);
    for (float& v : x) v = rnd();
    if (n > 3) x[1] = NAN, x[n - 1] = INFINITY, x[n / 2] = -INFINITY, x[2] = 0.f;
    float want_min = INFINITY, want_max = -INFINITY;
    for (float v : x)
      if (std::isfinite(v)) want_min = std::min(want_min, v), want_max = std::max(want_max, v);
    TensorStats s;
    s.UpdateRange(x.data(), n);
    EXPECT_EQ(s.min, want_min) << n;
    EXPECT_EQ(s.max, want_max) << n;
    // A range narrower than the data: clamped values land in the end bins.
    s.hist.lo = -5, s.hist.hi = 7;
    s.hist.counts.assign(37, 0.0);
    std::vector<double> want(37, 0.0);
    const double scale = 37 / 12.0;
    for (float v : x) {
      if (!std::isfinite(v)) continue;
      int64_t k = static_cast<int64_t>((static_cast<double>(v) + 5) * scale);
      want[std::clamp<int64_t>(k, 0, 36)] += 1;
    }
    s.UpdateHistogram(x.data(), n);
    s.UpdateHistogram(x.data(), n);  // counts add up over calls
    for (int b = 0; b < 37; ++b) EXPECT_EQ(s.hist.counts[b], 2 * want[b]) << "n " << n << " bin " << b;
  }
  // Split over two threads (a tensor large enough to split): the same statistics.
  std::vector<float> big(300000);
  for (float& v : big) v = rnd();
  big[7] = NAN, big[200000] = INFINITY;
  TensorStats one, two;
  one.UpdateRange(big.data(), big.size(), 1);
  two.UpdateRange(big.data(), big.size(), 2);
  EXPECT_EQ(one.min, two.min);
  EXPECT_EQ(one.max, two.max);
  EXPECT_EQ(one.avg_min, two.avg_min);
  for (TensorStats* s : {&one, &two}) s->hist.lo = -3, s->hist.hi = 4, s->hist.counts.assign(2048, 0.0);
  one.UpdateHistogram(big.data(), big.size(), 1);
  two.UpdateHistogram(big.data(), big.size(), 2);
  EXPECT_EQ(one.hist.counts, two.hist.counts);
  EXPECT_EQ(one.hist.total(), static_cast<double>(big.size() - 2));
}

}  // namespace
}  // namespace onnxc
