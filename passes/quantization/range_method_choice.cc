#include "passes/quantization/range_method_choice.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/output_check.h"

namespace onnxc {
namespace {

// As the option spells it: "minmax", "mse", "percentile".
std::string MethodName(CalibrationMethod m) { return absl::AsciiStrToLower(CalibrationMethod_Name(m)); }

// Infinite SQNR (identical outputs) compares as very large.
double Score(const ErrorMetrics& e) { return std::isfinite(e.sqnr_db) ? e.sqnr_db : 1e9; }

}  // namespace

std::string RangeMethodChoice::Note() const {
  std::string others;
  double chosen = 0;
  for (const Candidate& c : candidates) {
    if (c.method == method) {
      chosen = c.outputs.sqnr_db;
    } else {
      absl::StrAppend(&others, others.empty() ? "" : ", ", MethodName(c.method),
                      absl::StrFormat(" %.1f dB", c.outputs.sqnr_db));
    }
  }
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
    auto error = PooledOutputError(*q, samples, reference, executor);
    if (!error.ok()) return error.status();
    RangeMethodChoice::Candidate cand{m, *error};
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
