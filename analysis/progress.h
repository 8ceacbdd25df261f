// Where long jobs (calibration, sensitivity, SparseGPT, searches) report
// progress and notes. The library never writes to stderr on its own: a
// command-line tool installs a Reporter that draws bars (StderrReporter), an
// embedding program passes its own callbacks, and the default is silent.
#ifndef ONNXC_ANALYSIS_PROGRESS_H_
#define ONNXC_ANALYSIS_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <string>

namespace onnxc {

// One step of a long job: "calibrating 128/256 samples, 3.1 s (pass 2/2)".
struct ProgressEvent {
  std::string task;     // "calibrating", "layer sensitivity"
  std::string unit;     // what `done` counts: "samples", "models"
  int64_t done = 0;
  int64_t total = -1;   // -1: unknown
  double fraction = -1; // share of the whole job done, when it is not done/total (several passes); -1: done/total
  double seconds = 0;   // since the job started
  std::string detail;   // "(pass 2/2: histograms)", the layer being measured
  bool finished = false;
};

class Reporter {
 public:
  using ProgressFn = std::function<void(const ProgressEvent&)>;
  using NoteFn = std::function<void(const std::string&)>;

  Reporter() = default;  // silent
  Reporter(ProgressFn progress, NoteFn note) : progress_(std::move(progress)), note_(std::move(note)) {}

  void Progress(const ProgressEvent& e) const {
    if (progress_) progress_(e);
  }
  // A line for people: "calibrated 256 samples ...", "WARNING: ...".
  void Note(const std::string& line) const {
    if (note_) note_(line);
  }
  bool shows_progress() const { return static_cast<bool>(progress_); }

 private:
  ProgressFn progress_;
  NoteFn note_;
};

// Tracks one job and forwards throttled events (at most one per 50 ms, plus
// the last one) to a Reporter.
// Seconds on a monotonic clock, for timing long jobs.
double MonotonicSeconds();

class ProgressTracker {
 public:
  ProgressTracker(const Reporter& reporter, std::string task, std::string unit, int64_t total);
  ~ProgressTracker();  // reports `finished` if anything was shown
  void Update(int64_t done, const std::string& detail, double fraction = -1);
  void Finish();

 private:
  const Reporter& reporter_;
  ProgressEvent event_;
  double start_, last_ = -1;
  bool shown_ = false;
};

// Bars on stderr when `bars` (a terminal), notes on stderr always: what the
// command-line tools use.
Reporter StderrReporter(bool bars);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_PROGRESS_H_
