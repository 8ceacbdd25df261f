#include "passes/quantization/output_error.h"

#include <algorithm>
#include <memory>

#include "analysis/calibration/calibration_data.h"
#include "analysis/tensor_metrics.h"

namespace onnxc {

absl::StatusOr<std::vector<double>> OutputErrors(const Model& reference, const ExecutorOptions& reference_executor,
                                                 const std::vector<ModelToRun>& candidates,
                                                 const CalibrationSettings& calibration, const Reporter& reporter) {
  auto data = OpenCalibrationData(reference, calibration, reporter);
  if (!data.ok()) return data.status();
  auto ref = Executor::Create(reference, reference_executor);
  if (!ref.ok()) return ref.status();
  std::vector<std::unique_ptr<Executor>> runs;
  for (const ModelToRun& c : candidates) {
    auto ex = Executor::Create(*c.model, c.executor);
    if (!ex.ok()) return ex.status();
    runs.push_back(std::move(*ex));
  }
  std::vector<ErrorAccumulator> error(candidates.size());
  for (;;) {
    auto sample = (*data)->Next();
    if (!sample.ok()) return sample.status();
    if (!sample->has_value()) break;
    auto want = (*ref)->Run((**sample).inputs);
    if (!want.ok()) return want.status();
    for (size_t i = 0; i < runs.size(); ++i) {
      auto got = runs[i]->Run((**sample).inputs);
      if (!got.ok()) return got.status();
      for (size_t k = 0; k < want->size() && k < got->size(); ++k) {
        const Tensor &a = (*want)[k], &b = (*got)[k];
        if (a.type() != onnx::TensorProto::FLOAT || b.type() != onnx::TensorProto::FLOAT) continue;
        error[i].Add(a.data<float>(), b.data<float>(), std::min(a.num_elements(), b.num_elements()));
      }
    }
  }
  std::vector<double> mse;
  for (const ErrorAccumulator& e : error) mse.push_back(e.Get().mse);
  return mse;
}

}  // namespace onnxc
