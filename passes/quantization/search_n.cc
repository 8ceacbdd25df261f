#include "passes/quantization/search_n.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "analysis/calibration/calibration_data.h"

namespace onnxc {
namespace {

struct LayerSums {
  const SearchNLayer* layer;
  std::vector<std::vector<double>> err;  // [channel][N-1]
};

void Accumulate(const TensorView& t, LayerSums* sums) {
  const SearchNLayer& l = *sums->layer;
  const int64_t rank = static_cast<int64_t>(t.dims.size());
  const int64_t axis = l.channel_axis < 0 ? rank - 1 : l.channel_axis;
  if (axis < 0 || axis >= rank) return;
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= t.dims[d];
  const int64_t channels = t.dims[axis];
  if (sums->err.empty()) sums->err.assign(l.scale_w.size() == 1 ? 1 : channels, std::vector<double>(16, 0.0));
  const float* y = t.span<float>().data();
  for (int64_t i = 0, n = t.num_elements(); i < n; ++i) {
    const int64_t c = (i / inner) % channels;
    const size_t s = sums->err.size() == 1 ? 0 : static_cast<size_t>(c);
    if (s >= l.scale_w.size() && l.scale_w.size() != 1) continue;
    const double scale = static_cast<double>(l.scale_d) * l.scale_w[l.scale_w.size() == 1 ? 0 : s];
    const double q = std::nearbyint(y[i] / scale);
    const int64_t s32 = static_cast<int64_t>(std::fmin(2147483647.0, std::fmax(-2147483648.0, q)));
    std::vector<double>& e = sums->err[s];
    for (int n_shift = 1; n_shift <= 16; ++n_shift) {
      const int64_t step = int64_t{1} << n_shift;
      int64_t s16 = s32 >= 0 ? s32 / step : -((-s32 + step - 1) / step);  // floor
      s16 = std::min<int64_t>(32767, std::max<int64_t>(-32768, s16));
      const double d = static_cast<double>(s32 - s16 * step);
      e[n_shift - 1] += d * d;
    }
  }
}

}  // namespace

int ChooseShiftBit(const std::vector<double>& err) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(err.size()); ++i)
    if (err[i] <= err[best]) best = i;  // ties: the larger N
  return best + 1;
}

absl::StatusOr<std::map<std::string, std::vector<int>>> SearchShiftBits(const Model& float_model,
                                                                        const std::vector<SearchNLayer>& layers,
                                                                        const CalibrationSettings& calibration,
                                                                        const ExecutorOptions& executor,
                                                                        const Reporter& reporter) {
  std::map<std::string, LayerSums> by_output;
  for (const SearchNLayer& l : layers) by_output[l.output] = LayerSums{&l, {}};
  auto data = OpenCalibrationData(float_model, calibration, reporter);
  if (!data.ok()) return data.status();
  auto ex = Executor::Create(float_model, executor);
  if (!ex.ok()) return ex.status();
  Observer obs = [&](const Value& v, const TensorView& t) {
    if (t.type != onnx::TensorProto::FLOAT) return;
    auto it = by_output.find(v.name());
    if (it != by_output.end()) Accumulate(t, &it->second);
  };
  ProgressTracker progress(reporter, "SearchN", "samples", (*data)->size());
  int64_t done = 0, index = 0;
  for (;;) {
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) break;
    if (index++ % calibration.shard.count != calibration.shard.index) continue;
    auto out = (*ex)->Run((**sample).inputs, &obs);
    if (!out.ok()) return out.status();
    done += (**sample).rows;
    progress.Update(done, "");
  }
  std::map<std::string, std::vector<int>> result;
  for (const auto& [name, sums] : by_output) {
    std::vector<int>& bits = result[name];
    for (const auto& e : sums.err) bits.push_back(ChooseShiftBit(e));
  }
  return result;
}

}  // namespace onnxc
