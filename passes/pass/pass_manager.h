// Runs a textual pipeline over a Model: builds the passes from the registry,
// runs them in order (fixed-point groups until nothing changes), keeps the
// analysis cache valid, calls instrumentation around every pass, and records
// what each pass did for the report.
#ifndef ONNXC_PASSES_PASS_PASS_MANAGER_H_
#define ONNXC_PASSES_PASS_PASS_MANAGER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "passes/pass/pass.h"
#include "passes/pass/pipeline.h"
#include "passes/pass/registry.h"

namespace onnxc {

// What one pass run did; the report is a list of these.
struct PassRecord {
  std::string pass;      // registry name
  std::string spelling;  // name{options} as written
  int iteration = 0;     // 1-based within a fixed-point group, else 0
  int64_t changes = 0;
  std::vector<std::string> notes;
  nlohmann::json details;
  double seconds = 0;
  int64_t nodes_before = 0, nodes_after = 0;
};

class PassInstrumentation {
 public:
  virtual ~PassInstrumentation() = default;
  virtual void BeforePass(const Pass& pass, const Model& model) {}
  // A non-OK status stops the pipeline (e.g. verification failed).
  virtual absl::Status AfterPass(const Pass& pass, const Model& model, const PassRecord& record) {
    return absl::OkStatus();
  }
  virtual void OnFailure(const Pass& pass, const Model& model, const absl::Status& error) {}
  virtual void OnAnalysis(const std::string& name, double seconds) {}
};

class PassManager {
 public:
  static absl::StatusOr<std::unique_ptr<PassManager>> Create(
      const std::string& pipeline, const PassRegistry& registry = PassRegistry::Global());

  // The pipeline as text: parsing it again gives the same pipeline.
  std::string PipelineString() const { return PrintPipeline(elements_); }
  void AddInstrumentation(std::unique_ptr<PassInstrumentation> inst);

  // Runs the pipeline. `ctx.analyses` may be null (the manager's own cache is
  // used then).
  absl::Status Run(Model& model, PassContext ctx);

  const std::vector<PassRecord>& records() const { return records_; }
  const AnalysisManager& analyses() const { return analyses_; }
  // Per-pass records, analysis computation counts, totals.
  nlohmann::json ReportJson() const;
  // One line per pass: "fuse-conv-bn: 20 changes (...)".
  std::string Summary() const;

 private:
  struct Stage {
    enum Kind { kPass, kFixedPoint, kSequence } kind = kPass;
    std::unique_ptr<Pass> pass;
    std::vector<Stage> children;
    int max_iterations = 10;
  };
  static absl::Status Build(const std::vector<PipelineElement>& elements, const PassRegistry& reg,
                            int depth, std::vector<Stage>* out);
  absl::StatusOr<int64_t> RunStages(std::vector<Stage>& stages, Model& model, PassContext& ctx,
                                    int iteration);
  absl::StatusOr<int64_t> RunPass(Pass& pass, Model& model, PassContext& ctx, int iteration);

  std::vector<PipelineElement> elements_;
  std::vector<Stage> stages_;
  std::vector<std::unique_ptr<PassInstrumentation>> instrumentation_;
  std::vector<PassRecord> records_;
  std::vector<std::pair<std::string, double>> analysis_runs_;
  AnalysisManager analyses_;
  // The node count after the last pass RunPass recorded, so the next pass of
  // the same Run starts from it instead of walking the model again (nothing
  // touches the model between two passes of one Run). Run() resets it.
  struct CountCache {
    const Model* model = nullptr;
    size_t records = 0;
    int64_t nodes = 0;
  };
  CountCache count_cache_;
};

// Nodes in the model, subgraphs included.
int64_t CountNodes(const Model& model);

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_PASS_MANAGER_H_
