// A user's evaluation command (--eval-cmd 'python3 eval.py {model}'): runs
// it on a candidate model and reads the metric it prints as its last line.
// Searches (fallback's target-metric, pruning and decomposition budgets) use
// it to judge candidates by the user's own accuracy measure.
//
// It starts a shell (popen). An embedding program that forbids subprocesses
// does not set an eval command; the searches then judge candidates by output
// SQNR/cosine on the calibration samples instead.
#ifndef ONNXC_ANALYSIS_EVAL_COMMAND_H_
#define ONNXC_ANALYSIS_EVAL_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "ir/model.h"

namespace onnxc {

// Runs `cmd` with {model} replaced by `model_path` (appended when `cmd` has no
// {model}); returns the last number on its last non-empty output line (a
// JSON line such as {"top1": 0.91} works too).
// `*tail` gets that line.
absl::StatusOr<double> RunEvalCommand(const std::string& cmd, const std::string& model_path, std::string* tail);

// Saves `model` to a temporary folder, runs `cmd` on it, removes the folder.
absl::StatusOr<double> EvaluateModel(const Model& model, const std::string& cmd, std::string* tail = nullptr);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_EVAL_COMMAND_H_
