// The Pass interface. A pass rewrites (or only inspects) a Model and says
// what it did; the pass manager times it, verifies the result and keeps
// cached analyses valid.
#ifndef ONNXC_PASSES_PASS_H_
#define ONNXC_PASSES_PASS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/model.h"
#include "nlohmann/json.hpp"
#include "passes/analysis_manager.h"
#include "passes/pass_options.h"

namespace onnxc {

// Settings of a whole run that passes may read (the command line's, not a
// pass's own options).
struct RunSettings {
  std::string calib_data;  // --calib-data: folder or file of calibration inputs
  int threads = 2;
  bool progress = true;    // show progress bars for long work
  std::map<std::string, std::string> extra;  // tool-specific settings
};

struct PassContext {
  AnalysisManager* analyses = nullptr;
  const RunSettings* settings = nullptr;
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

#endif  // ONNXC_PASSES_PASS_H_
