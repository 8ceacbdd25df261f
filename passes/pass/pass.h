// The Pass interface. A pass rewrites (or only inspects) a Model and says
// what it did; the pass manager times it, verifies the result and keeps
// cached analyses valid.
#ifndef ONNXC_PASSES_PASS_PASS_H_
#define ONNXC_PASSES_PASS_PASS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/analysis_manager.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/progress.h"
#include "ir/child_process.h"
#include "ir/model.h"
#include "kernels/kernel_options.h"
#include "nlohmann/json.hpp"
#include "passes/pass/pass_options.h"
#include "passes/pass/typed_map.h"

namespace onnxc {

// Settings of a whole run that passes may read: the command line's and the
// config file's, not a pass's own options.
struct RunSettings {
  int threads = 2;
  KernelOptions kernels;            // how the kernels run (calibration, checks)
  Reporter reporter;                // progress bars and notes; silent by default
  CalibrationSettings calibration;  // --calib-data, --calib-shard, --calib-stats-in/out, ...
  // --eval-cmd: a command that prints a metric for a candidate model, for
  // passes that search (fallback's target-metric). Runs a shell; empty: none.
  std::string eval_cmd;
  // Where ONNX's shape inference, checker and version converter run: in a
  // forked child (a crash in libonnx becomes an error), or in this process
  // for programs that may not fork.
  Isolation isolation = Isolation::kChildProcess;
  // Settings of one family of passes, by type (e.g. QuantizationRunSettings).
  TypedMap families;
};

struct PassContext {
  AnalysisManager* analyses = nullptr;
  const RunSettings* settings = nullptr;
  // Decisions a pass leaves for later passes of the same run, by type (the
  // fallback pass's keep-float list, read by quantize). Unlike analyses they
  // are not recomputed from the model and not invalidated.
  TypedMap* state = nullptr;

  // The context analyses are computed in: this run's manager, threads,
  // kernels and reporter.
  AnalysisContext ForAnalyses() const {
    AnalysisContext a;
    a.analyses = analyses;
    if (settings != nullptr) {
      a.executor.threads = settings->threads;
      a.executor.kernels = settings->kernels;
      a.reporter = settings->reporter;
    }
    return a;
  }
};

struct PassResult {
  // Number of rewrites. 0 promises the model is untouched, which preserves
  // every analysis.
  int64_t changes = 0;
  // Lines for people: what was done and what was declined, and why.
  std::vector<std::string> notes;
  // Structured data for the JSON report.
  nlohmann::json details = nlohmann::json::object();
  // Analyses still valid after a pass that changed the model.
  PreservedAnalyses preserved = PreservedAnalyses::None();
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) = 0;

  const std::string& name() const { return name_; }
  const PassOptions& options() const { return options_; }
  // "name{k=v,...}" as written in the pipeline.
  std::string Spelling() const;

 private:
  friend class PassRegistry;
  std::string name_;
  PassOptions options_;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_PASS_H_
