// Standard instrumentation for the pass manager.
#ifndef ONNXC_PASSES_PASS_INSTRUMENTATION_H_
#define ONNXC_PASSES_PASS_INSTRUMENTATION_H_

#include <cstdio>
#include <set>
#include <string>

#include "passes/pass/pass_manager.h"

namespace onnxc {

// Prints a table of time and changes per pass (--time-passes).
class TimingInstrumentation : public PassInstrumentation {
 public:
  explicit TimingInstrumentation(FILE* out) : out_(out) {}
  ~TimingInstrumentation() override;
  absl::Status AfterPass(const Pass& pass, const Model& model, const PassRecord& record) override;
  void OnAnalysis(const std::string& name, double seconds) override;

 private:
  struct Row { double seconds = 0; int64_t changes = 0; int runs = 0; };
  FILE* out_;
  std::vector<std::pair<std::string, Row>> rows_;
};

// Writes the IR as text before and/or after the named passes ("all" for
// every pass) into `dir` as NN-before-PASS.txt / NN-after-PASS.txt.
class IrDumpInstrumentation : public PassInstrumentation {
 public:
  IrDumpInstrumentation(std::set<std::string> before, std::set<std::string> after, std::string dir)
      : before_(std::move(before)), after_(std::move(after)), dir_(std::move(dir)) {}
  void BeforePass(const Pass& pass, const Model& model) override;
  absl::Status AfterPass(const Pass& pass, const Model& model, const PassRecord& record) override;

 private:
  void Dump(const std::string& when, const Pass& pass, const Model& model);
  std::set<std::string> before_, after_;
  std::string dir_;
  int counter_ = 0;
};

// Verifies the IR after every pass; with `onnx_checker`, also runs ONNX's
// checker where the model's opset is one it knows.
class VerifyInstrumentation : public PassInstrumentation {
 public:
  explicit VerifyInstrumentation(bool onnx_checker) : onnx_checker_(onnx_checker) {}
  absl::Status AfterPass(const Pass& pass, const Model& model, const PassRecord& record) override;
  int checker_runs() const { return checker_runs_; }

 private:
  bool onnx_checker_;
  int checker_runs_ = 0;
};

// On failure, writes a reproducer folder: the input model (copied from
// disk, never the half-rewritten one), the pipeline and the command that
// replays it.
class ReproducerInstrumentation : public PassInstrumentation {
 public:
  ReproducerInstrumentation(std::string input_path, std::string pipeline, std::string dir)
      : input_path_(std::move(input_path)), pipeline_(std::move(pipeline)), dir_(std::move(dir)) {}
  void OnFailure(const Pass& pass, const Model& model, const absl::Status& error) override;
  const std::string& written() const { return written_; }

 private:
  std::string input_path_, pipeline_, dir_, written_;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_INSTRUMENTATION_H_
