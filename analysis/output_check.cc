#include "analysis/output_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/calibration/calibration_data.h"
#include "kernels/executor.h"

namespace onnxc {

absl::StatusOr<OutputCheck> CompareModelOutputs(const Model& reference, const Model& candidate,
                                                const std::string& data_spec, int64_t max_samples,
                                                const ExecutorOptions& eo) {
  auto ref = Executor::Create(reference, eo);
  if (!ref.ok()) return absl::Status(ref.status().code(), absl::StrCat("original model: ", ref.status().message()));
  auto cand = Executor::Create(candidate, eo);
  if (!cand.ok()) return absl::Status(cand.status().code(), absl::StrCat("compressed model: ", cand.status().message()));
  CalibrationOptions co;
  co.max_samples = max_samples;
  co.warn_random = false;
  auto data = CalibrationData::Open(reference, data_spec, co);
  if (!data.ok()) return data.status();
  OutputCheck check;
  check.source = (*data)->Describe();
  for (const Value* v : candidate.graph().outputs()) check.outputs.push_back({v->name(), TensorDiff{}});
  bool first = true;
  while (true) {
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) break;
    auto a = (*ref)->Run((*sample)->inputs);
    if (!a.ok()) return absl::Status(a.status().code(), absl::StrCat("original model: ", a.status().message()));
    auto b = (*cand)->Run((*sample)->inputs);
    if (!b.ok()) return absl::Status(b.status().code(), absl::StrCat("compressed model: ", b.status().message()));
    if (a->size() != b->size()) return absl::InternalError("the models have different numbers of outputs");
    for (size_t i = 0; i < a->size(); ++i) {
      TensorDiff d = CompareTensors((*a)[i], (*b)[i]);
      TensorDiff& w = check.outputs[i].worst;
      if (first) {
        w = d;
      } else {
        w.max_abs = std::max(w.max_abs, d.max_abs);
        w.max_ref = std::max(w.max_ref, d.max_ref);
        w.sqnr_db = std::min(w.sqnr_db, d.sqnr_db);
        w.cosine = std::min(w.cosine, d.cosine);
        w.same_shape = w.same_shape && d.same_shape;
      }
    }
    first = false;
    ++check.runs;
    check.samples += (*sample)->rows;
  }
  return check;
}

nlohmann::json OutputCheck::ToJson() const {
  nlohmann::json outs = nlohmann::json::array();
  for (const Output& o : outputs) {
    outs.push_back({{"name", o.name},
                    {"max_abs_diff", o.worst.max_abs},
                    {"max_abs_reference", o.worst.max_ref},
                    {"sqnr_db", std::isinf(o.worst.sqnr_db) ? 999.0 : o.worst.sqnr_db},
                    {"cosine", o.worst.cosine}});
  }
  return {{"samples", samples}, {"runs", runs}, {"inputs", source}, {"worst_over_runs", outs}};
}

std::string OutputCheck::Summary() const {
  std::string s;
  for (const Output& o : outputs) {
    absl::StrAppend(&s, absl::StrFormat("  output '%s' vs the original over %d samples: ", o.name, samples));
    if (std::isinf(o.worst.sqnr_db)) absl::StrAppend(&s, "identical\n");
    else absl::StrAppend(&s, absl::StrFormat("SQNR %.1f dB, cosine %.6f, max abs diff %.3g (max |ref| %.3g)\n",
                                             o.worst.sqnr_db, o.worst.cosine, o.worst.max_abs, o.worst.max_ref));
  }
  return s;
}

absl::StatusOr<ErrorMetrics> PooledOutputError(const Model& candidate, const std::vector<CalibrationSample>& samples,
                                               const std::vector<std::vector<Tensor>>& reference,
                                               const ExecutorOptions& executor) {
  auto ex = Executor::Create(candidate, executor);
  if (!ex.ok()) return ex.status();
  ErrorAccumulator acc;
  for (size_t s = 0; s < samples.size() && s < reference.size(); ++s) {
    auto out = (*ex)->Run(samples[s].inputs);
    if (!out.ok()) return out.status();
    for (size_t o = 0; o < out->size() && o < reference[s].size(); ++o) {
      std::vector<float> r = reference[s][o].ToFloatVector(), x = (*out)[o].ToFloatVector();
      if (r.size() != x.size())
        return absl::InternalError(absl::StrCat("output ", o, " has ", x.size(), " elements, the float model's ",
                                                r.size()));
      acc.Add(r.data(), x.data(), static_cast<int64_t>(r.size()));
    }
  }
  return acc.Get();
}

}  // namespace onnxc
