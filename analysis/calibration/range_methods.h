// Range methods: the [lo, hi] clipping range to quantize a tensor with, from
// its calibration statistics.
//
//   minmax          [min, max] over all samples
//   moving-average  moving average of per-batch min/max (constant 0.01, as ORT)
//   percentile      symmetric: the p-th percentile of |x| gives [-T, T] (the
//                   two tails share one scale, so they are judged together).
//                   asymmetric: (100-p)/2 % is cut from each tail of x, as ORT
//                   does: a uint8 range's ends are independent, and a one-sided
//                   tensor (after Relu) keeps lo = 0 instead of being judged by
//                   a mirrored tail. Default 99.999.
//   entropy         TensorRT's KL search on the |x| histogram: for each
//                   candidate clip (bin i from num_quantized_bins to bins) the
//                   clipped distribution (outliers folded into the last bin) is
//                   merged into num_quantized_bins bins, expanded back over
//                   non-empty bins, both smoothed, and the clip with the
//                   smallest KL(P||Q) is kept. The first bin is judged as its
//                   neighbour (NVIDIA's pytorch-quantization does this), else
//                   the spike of zeros after a Relu drives the clip to ~0.1 x
//                   max. 2048 bins / 128 quantized bins,
//                   so there are 1,921 candidates (ORT's 128/128 defaults give
//                   one, which is why its entropy equals min/max). The range is
//                   [-T, T] (symmetric) or [min, max] clipped to [-T, T].
//   mse             the clip minimising expected quantization MSE computed from
//                   the histogram: step^2/12 for values inside the range plus
//                   the squared clipping error outside, over every bin-edge
//                   candidate (symmetric: [-T, T]; asymmetric: [s*min, s*max]).
//   ifmr            AMCT's IFMR: start from the 99.9999th percentile clip, scan
//                   0.70 .. 1.30 x that clip in 0.01 steps, keep the clip with
//                   the smallest quantization error (the same error as mse).
//
// Every range includes 0 (as ORT): lo = min(lo, 0), hi = max(hi, 0).
#ifndef ONNXC_ANALYSIS_CALIBRATION_RANGE_METHODS_H_
#define ONNXC_ANALYSIS_CALIBRATION_RANGE_METHODS_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_stats.h"

namespace onnxc {

enum class RangeMethod { kMinMax, kMovingAverage, kPercentile, kEntropy, kMse, kIfmr };
absl::StatusOr<RangeMethod> ParseRangeMethod(const std::string& name);  // "minmax","moving-average","percentile","entropy","mse","ifmr"
std::string RangeMethodName(RangeMethod m);
// True for the methods that need TensorStats::hist.
bool NeedsHistogram(RangeMethod m);

struct RangeOptions {
  RangeMethod method = RangeMethod::kMinMax;
  double percentile = 99.999;
  int bits = 8;
  bool symmetric = false;
  int num_quantized_bins = 128;
};

// The [lo, hi] clipping range to quantize this tensor with (always includes 0 like ORT).
// A histogram method on stats without a histogram falls back to min/max and
// says so on stderr; use ComputeRangeChecked to get an error instead.
std::pair<float, float> ComputeRange(const TensorStats& s, const RangeOptions& o);
absl::StatusOr<std::pair<float, float>> ComputeRangeChecked(const TensorStats& s, const RangeOptions& o);

// Expected squared quantization error per element of the histogram's
// distribution for range [lo, hi] quantized with `steps` steps (exact for a
// density that is uniform inside each bin, with rounding error step^2/12).
double ExpectedQuantMse(const Histogram& h, double lo, double hi, int64_t steps);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_RANGE_METHODS_H_
