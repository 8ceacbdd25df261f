#include "passes/quantization/range_method_choice.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/calibration/calibration_data.h"

namespace onnxc {
namespace {

std::string MethodName(CalibrationMethod m) {
  switch (m) {
    case MSE: return "mse";
    case PERCENTILE: return "percentile";
    default: return "minmax";
  }
}

// Infinite SQNR (identical outputs) compares as very large.
double Score(const ErrorMetrics& e) { return std::isfinite(e.sqnr_db) ? e.sqnr_db : 1e9; }

}  // namespace

std::string RangeMethodChoice::Note() const {
  std::string others;
  for (const Candidate& c : candidates)
    if (c.method != method)
      absl::StrAppend(&others, others.empty() ? "" : ", ", MethodName(c.method),
                      absl::StrFormat(" %.1f dB", c.outputs.sqnr_db));
  double chosen = 0;
  for (const Candidate& c : candidates)
    if (c.method == method) chosen = c.outputs.sqnr_db;
  return absl::StrFormat("method=auto: %s ranges (output SQNR vs float %.1f dB on %d calibration samples; %s)",
                         MethodName(method), chosen, static_cast<int>(samples), others);
}

nlohmann::json RangeMethodChoice::ToJson() const {
  nlohmann::json tried = nlohmann::json::array();
  for (const Candidate& c : candidates) tried.push_back({{"method", MethodName(c.method)}, {"outputs", c.outputs.ToJson()}});
  return {{"chosen", MethodName(method)}, {"samples", samples}, {"candidates", tried}};
}

absl::StatusOr<RangeMethodChoice> ChooseRangeMethod(const Model& model, const QuantizationSettings& settings,
                                                    const QuantizeOptions& options,
                                                    const CalibrationSettings& calibration,
                                                    const ExecutorOptions& executor, const Reporter& reporter,
                                                    int64_t max_samples) {
  RangeMethodChoice choice;
  // The float model's outputs on the first samples, once.
  CalibrationSettings first = calibration;
  if (first.samples <= 0 || first.samples > max_samples) first.samples = max_samples;
  auto data = OpenCalibrationData(model, first, reporter);
  if (!data.ok()) return data.status();
  auto float_ex = Executor::Create(model, executor);
  if (!float_ex.ok()) return float_ex.status();
  std::vector<CalibrationSample> samples;
  std::vector<std::vector<Tensor>> reference;
  for (;;) {
    auto s = (*data)->Next();
    if (!s.ok()) return s.status();
    if (!s->has_value()) break;
    auto out = (*float_ex)->Run((*s)->inputs);
    if (!out.ok()) return out.status();
    choice.samples += (*s)->rows;
    samples.push_back(std::move(**s));
    reference.push_back(*std::move(out));
  }
  if (samples.empty()) return absl::InvalidArgumentError("quantize: method=auto needs calibration samples");

  const CalibrationMethod candidates[] = {MINMAX, MSE, PERCENTILE};
  ProgressTracker progress(reporter, "method=auto", "range methods", 3);
  double best = -1e300;
  for (CalibrationMethod m : candidates) {
    QuantizationConfig c = settings.config();
    c.mutable_activation()->set_method(m);
    auto s = QuantizationSettings::FromConfig(std::move(c), "method=auto");
    if (!s.ok()) return s.status();
    std::unique_ptr<Model> q = model.Clone();
    auto report = QuantizeModel(*q, *s, options);
    if (!report.ok()) return report.status();
    auto ex = Executor::Create(*q, executor);
    if (!ex.ok()) return ex.status();
    ErrorAccumulator acc;
    for (size_t i = 0; i < samples.size(); ++i) {
      auto out = (*ex)->Run(samples[i].inputs);
      if (!out.ok()) return out.status();
      for (size_t o = 0; o < out->size() && o < reference[i].size(); ++o) {
        std::vector<float> r = reference[i][o].ToFloatVector(), x = (*out)[o].ToFloatVector();
        if (r.size() != x.size()) return absl::InternalError("method=auto: quantized output of another size");
        acc.Add(r.data(), x.data(), static_cast<int64_t>(r.size()));
      }
    }
    RangeMethodChoice::Candidate cand{m, acc.Get()};
    // Ties keep the earlier (simpler) method.
    if (Score(cand.outputs) > best) {
      best = Score(cand.outputs);
      choice.method = m;
    }
    choice.candidates.push_back(cand);
    progress.Update(static_cast<int64_t>(choice.candidates.size()), MethodName(m));
  }
  progress.Finish();
  return choice;
}

}  // namespace onnxc
