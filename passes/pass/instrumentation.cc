#include "passes/pass/instrumentation.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace onnxc {

namespace fs = std::filesystem;

absl::Status TimingInstrumentation::AfterPass(const Pass& pass, const Model&, const PassRecord& r) {
  for (auto& [name, row] : rows_) {
    if (name == r.spelling) {
      row.seconds += r.seconds;
      row.changes += r.changes;
      ++row.runs;
      return absl::OkStatus();
    }
  }
  rows_.push_back({r.spelling, Row{r.seconds, r.changes, 1}});
  return absl::OkStatus();
}

void TimingInstrumentation::OnAnalysis(const std::string& name, double seconds) {
  rows_.push_back({absl::StrCat("(analysis) ", name), Row{seconds, 0, 1}});
}

TimingInstrumentation::~TimingInstrumentation() {
  double total = 0;
  for (const auto& r : rows_) total += r.second.seconds;
  absl::FPrintF(out_, "%-48s %6s %9s %10s %6s\n", "pass", "runs", "changes", "ms", "%");
  for (const auto& [name, row] : rows_) {
    absl::FPrintF(out_, "%-48s %6d %9d %10.2f %6.1f\n", name, row.runs, row.changes,
                  row.seconds * 1e3, total > 0 ? 100 * row.seconds / total : 0.0);
  }
  absl::FPrintF(out_, "%-48s %6s %9s %10.2f\n", "total", "", "", total * 1e3);
}

void IrDumpInstrumentation::Dump(const std::string& when, const Pass& pass, const Model& model) {
  fs::create_directories(dir_);
  std::string path = absl::StrFormat("%s/%02d-%s-%s.txt", dir_, ++counter_, when, pass.name());
  std::ofstream(path) << "# " << when << " " << pass.Spelling() << "\n" << PrintModel(model);
  std::fprintf(stderr, "dumped IR %s %s to %s\n", when.c_str(), pass.name().c_str(), path.c_str());
}

void IrDumpInstrumentation::BeforePass(const Pass& pass, const Model& model) {
  if (before_.count(pass.name()) || before_.count("all")) Dump("before", pass, model);
}

absl::Status IrDumpInstrumentation::AfterPass(const Pass& pass, const Model& model, const PassRecord&) {
  if (after_.count(pass.name()) || after_.count("all")) Dump("after", pass, model);
  return absl::OkStatus();
}

absl::Status VerifyInstrumentation::AfterPass(const Pass&, const Model& model, const PassRecord& r) {
  if (r.changes == 0) return absl::OkStatus();  // nothing changed, nothing to verify
  absl::Status s = VerifyModel(model);
  if (!s.ok()) return absl::InternalError(absl::StrCat("IR verification failed: ", s.message()));
  if (onnx_checker_) {
    bool ran = false;
    s = CheckWithOnnx(model, &ran);
    if (ran) ++checker_runs_;
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void ReproducerInstrumentation::OnFailure(const Pass& pass, const Model&, const absl::Status& error) {
  if (dir_.empty() || input_path_.empty() || !written_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return;
  fs::path model = fs::path(dir_) / "input.onnx";
  fs::copy_file(input_path_, model, fs::copy_options::overwrite_existing, ec);
  std::ofstream(fs::path(dir_) / "pipeline.txt") << pipeline_ << "\n";
  std::ofstream(fs::path(dir_) / "error.txt") << "pass " << pass.Spelling() << ": " << error.message() << "\n";
  std::ofstream(fs::path(dir_) / "replay.sh")
      << "#!/bin/sh\n# Replays the failing run. External data, if any, stays next to the original: "
      << input_path_ << "\nbazel run //tools:compress -- --input \"$(dirname \"$0\")/input.onnx\" "
      << "--output /tmp/replay.onnx --pipeline '" << pipeline_ << "'\n";
  written_ = dir_;
  std::fprintf(stderr, "reproducer written to %s (input model, pipeline, replay.sh)\n", dir_.c_str());
}

}  // namespace onnxc
