// Range methods on known distributions: Gaussian with a few large outliers
// (every histogram method must clip well inside max), uniform (every method
// stays near max), one-sided (Relu-like) data, moving-average arithmetic, and
// the ORT pitfall (128 bins / 128 quantized bins makes entropy == min/max).
#include "analysis/calibration/range_methods.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace onnxc {
namespace {

// Stats the way calibration builds them: pass 1 range per batch, pass 2
// histogram over [min, max].
TensorStats MakeStats(const std::vector<float>& x, int64_t bins = 2048, int64_t batch = 10000) {
  TensorStats s;
  for (size_t i = 0; i < x.size(); i += batch) s.UpdateRange(x.data() + i, std::min<int64_t>(batch, x.size() - i));
  s.hist.lo = s.min;
  s.hist.hi = s.max;
  s.hist.counts.assign(bins, 0.0);
  for (size_t i = 0; i < x.size(); i += batch) s.UpdateHistogram(x.data() + i, std::min<int64_t>(batch, x.size() - i));
  return s;
}

std::vector<float> GaussianWithOutliers(int n, int outliers, float at) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> x(n);
  for (float& v : x) v = g(rng);
  for (int i = 0; i < outliers; ++i) x[i * 997] = (i % 2 ? -at : at) * (1.0f - 0.01f * i);
  return x;
}

RangeOptions Opt(RangeMethod m, bool sym) {
  RangeOptions o;
  o.method = m;
  o.symmetric = sym;
  return o;
}

const RangeMethod kHistMethods[] = {RangeMethod::kPercentile, RangeMethod::kEntropy, RangeMethod::kMse,
                                    RangeMethod::kIfmr};

TEST(RangeMethods, GaussianWithOutliersClipsWellInsideMax) {
  TensorStats s = MakeStats(GaussianWithOutliers(1000000, 5, 12.f));
  ASSERT_NEAR(s.max, 12.0, 1e-5);
  for (bool sym : {true, false}) {
    auto mm = ComputeRange(s, Opt(RangeMethod::kMinMax, sym));
    EXPECT_NEAR(mm.second, 12.0, 1e-5);
    for (RangeMethod m : kHistMethods) {
      auto r = ComputeRange(s, Opt(m, sym));
      std::printf("gaussian+outliers %-10s %-4s [%8.4f, %8.4f]  (minmax [%8.4f, %8.4f])\n",
                  RangeMethodName(m).c_str(), sym ? "sym" : "asym", r.first, r.second, mm.first, mm.second);
      EXPECT_LT(r.second, 0.75 * s.max) << RangeMethodName(m) << (sym ? " symmetric" : " asymmetric");
      EXPECT_GT(r.second, 3.0) << RangeMethodName(m) << ": clipped into the bulk of N(0,1)";
      EXPECT_LT(r.first, -3.0) << RangeMethodName(m);
      EXPECT_GT(r.first, 0.75 * s.min) << RangeMethodName(m);
      if (sym) {
        EXPECT_FLOAT_EQ(r.first, -r.second);
      }
      EXPECT_NE(r, mm) << RangeMethodName(m) << " silently equals min/max";
    }
  }
  // Percentile 99.999 of |x| of N(0,1) is about 4.42.
  auto p = ComputeRange(s, Opt(RangeMethod::kPercentile, true));
  EXPECT_NEAR(p.second, 4.42, 0.15);
  // IFMR starts at the 99.9999th percentile (an outlier here) and may go down to 0.70x of it.
  auto ifmr = ComputeRange(s, Opt(RangeMethod::kIfmr, true));
  EXPECT_NEAR(ifmr.second, 0.70 * 11.96, 0.3);
}

TEST(RangeMethods, UniformStaysNearMax) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(1000000);
  for (float& v : x) v = u(rng);
  TensorStats s = MakeStats(x);
  for (bool sym : {true, false}) {
    for (RangeMethod m : kHistMethods) {
      auto r = ComputeRange(s, Opt(m, sym));
      std::printf("uniform %-10s %-4s [%8.4f, %8.4f]\n", RangeMethodName(m).c_str(), sym ? "sym" : "asym", r.first,
                  r.second);
      EXPECT_GT(r.second, 0.95 * s.max) << RangeMethodName(m);
      EXPECT_LT(r.first, 0.95 * s.min) << RangeMethodName(m);
      EXPECT_LE(r.second, 1.31 * s.max) << RangeMethodName(m);
    }
  }
}

TEST(RangeMethods, OneSidedReluLikeDataKeepsZeroAsLowerBound) {
  std::mt19937 rng(5);
  std::exponential_distribution<float> e(1.f);
  std::vector<float> x(500000);
  for (float& v : x) v = e(rng);
  x[0] = 40.f;
  TensorStats s = MakeStats(x);
  for (RangeMethod m : kHistMethods) {
    auto r = ComputeRange(s, Opt(m, false));
    EXPECT_FLOAT_EQ(r.first, 0.f) << RangeMethodName(m);
    EXPECT_LT(r.second, 0.75 * s.max) << RangeMethodName(m);
    EXPECT_GT(r.second, 5.0) << RangeMethodName(m);
  }
}

TEST(RangeMethods, RangeAlwaysIncludesZero) {
  std::vector<float> x;
  for (int i = 0; i < 1000; ++i) x.push_back(2.f + i * 0.001f);
  TensorStats s = MakeStats(x);
  for (RangeMethod m : {RangeMethod::kMinMax, RangeMethod::kMovingAverage, RangeMethod::kPercentile,
                        RangeMethod::kEntropy, RangeMethod::kMse, RangeMethod::kIfmr}) {
    auto r = ComputeRange(s, Opt(m, false));
    EXPECT_EQ(r.first, 0.f) << RangeMethodName(m);
    EXPECT_GT(r.second, 2.f) << RangeMethodName(m);
  }
}

TEST(RangeMethods, OrtDefaultsMakeEntropyEqualMinMaxOurDefaultsDoNot) {
  TensorStats s = MakeStats(GaussianWithOutliers(200000, 3, 15.f), /*bins=*/128);
  RangeOptions o = Opt(RangeMethod::kEntropy, true);
  o.num_quantized_bins = 128;  // one candidate: the whole range
  auto ort = ComputeRange(s, o);
  EXPECT_FLOAT_EQ(ort.second, std::max(std::fabs(s.min), s.max));
  TensorStats fine = MakeStats(GaussianWithOutliers(200000, 3, 15.f), 2048);
  auto ours = ComputeRange(fine, o);
  EXPECT_LT(ours.second, 0.5 * fine.max);
}

TEST(RangeMethods, MovingAverageMath) {
  TensorStats s;
  // Batches with min -i and max 10 + i.
  std::vector<double> mins, maxs;
  for (int i = 0; i < 50; ++i) {
    std::vector<float> b = {static_cast<float>(-i), 1.f, static_cast<float>(10 + i)};
    s.UpdateRange(b.data(), b.size());
    mins.push_back(-i);
    maxs.push_back(10 + i);
  }
  double amin = mins[0], amax = maxs[0];
  for (size_t i = 1; i < mins.size(); ++i) {
    amin = amin + 0.01 * (mins[i] - amin);
    amax = amax + 0.01 * (maxs[i] - amax);
  }
  EXPECT_NEAR(s.avg_min, amin, 1e-9);
  EXPECT_NEAR(s.avg_max, amax, 1e-9);
  EXPECT_EQ(s.min, -49);
  EXPECT_EQ(s.max, 59);
  EXPECT_EQ(s.batches, 50);
  EXPECT_EQ(s.elements, 150);
  auto r = ComputeRange(s, Opt(RangeMethod::kMovingAverage, false));
  EXPECT_NEAR(r.first, amin, 1e-4);
  EXPECT_NEAR(r.second, amax, 1e-4);
  auto sym = ComputeRange(s, Opt(RangeMethod::kMovingAverage, true));
  EXPECT_NEAR(sym.second, std::max(std::fabs(amin), amax), 1e-4);
}

TEST(RangeMethods, ExpectedMseMatchesDirectQuantization) {
  // The histogram estimate against quantize-dequantize of the data itself.
  std::vector<float> x = GaussianWithOutliers(300000, 0, 0);
  TensorStats s = MakeStats(x);
  for (double clip : {2.0, 3.0, 4.0}) {
    double step = 2 * clip / 254, direct = 0;
    for (float v : x) {
      double q = std::clamp(std::nearbyint(v / step), -127.0, 127.0) * step;
      direct += (v - q) * (v - q);
    }
    direct /= x.size();
    double est = ExpectedQuantMse(s.hist, -clip, clip, 254);
    EXPECT_NEAR(est, direct, 0.05 * direct) << "clip " << clip;
  }
}

TEST(RangeMethods, WithoutHistogramFallsBackLoudlyOrErrs) {
  TensorStats s;
  std::vector<float> x = {-1.f, 0.5f, 3.f};
  s.UpdateRange(x.data(), 3);
  EXPECT_FALSE(ComputeRangeChecked(s, Opt(RangeMethod::kEntropy, false)).ok());
  EXPECT_TRUE(ComputeRangeChecked(s, Opt(RangeMethod::kMinMax, false)).ok());
  auto r = ComputeRange(s, Opt(RangeMethod::kEntropy, false));
  EXPECT_EQ(r, std::make_pair(-1.f, 3.f));
  TensorStats never;
  EXPECT_EQ(ComputeRange(never, Opt(RangeMethod::kMinMax, false)), std::make_pair(0.f, 0.f));
}

TEST(RangeMethods, Parse) {
  EXPECT_EQ(*ParseRangeMethod("minmax"), RangeMethod::kMinMax);
  EXPECT_EQ(*ParseRangeMethod("moving-average"), RangeMethod::kMovingAverage);
  EXPECT_EQ(*ParseRangeMethod("percentile"), RangeMethod::kPercentile);
  EXPECT_EQ(*ParseRangeMethod("entropy"), RangeMethod::kEntropy);
  EXPECT_EQ(*ParseRangeMethod("mse"), RangeMethod::kMse);
  EXPECT_EQ(*ParseRangeMethod("IFMR"), RangeMethod::kIfmr);
  auto bad = ParseRangeMethod("kmeans");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("entropy"), std::string::npos);
}

TEST(Histogram, RebinConservesMassAndShape) {
  Histogram h;
  h.lo = -1;
  h.hi = 3;
  h.counts = {1, 2, 3, 4, 0, 6, 7, 8};
  Histogram r = h.Rebin(-2, 4, 13);
  EXPECT_NEAR(r.total(), h.total(), 1e-9);
  // Mass is split in proportion to overlap: the CDFs agree at every new bin edge.
  for (int k = 0; k <= 13; ++k) {
    double x = -2 + k * 6.0 / 13;
    EXPECT_NEAR(r.CountBelow(x), h.CountBelow(x), 1e-9) << x;
  }
  Histogram narrower = h.Rebin(0, 2, 4);  // mass outside goes to the edge bins
  EXPECT_NEAR(narrower.total(), h.total(), 1e-9);
}

}  // namespace
}  // namespace onnxc
