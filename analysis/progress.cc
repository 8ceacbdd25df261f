#include "analysis/progress.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace onnxc {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {

double Now() { return MonotonicSeconds(); }

// "calibrating [#####.....] 128/256 samples, 3.1 s (pass 2/2: histograms)"
void DrawBar(const ProgressEvent& e) {
  if (e.finished) {
    std::fprintf(stderr, "\n");
    return;
  }
  std::string line;
  double frac = e.fraction >= 0 ? e.fraction : e.total > 0 ? static_cast<double>(e.done) / e.total : -1;
  if (frac >= 0) {
    const int width = 30;
    int filled = static_cast<int>(width * std::min(1.0, frac));
    line = absl::StrCat("\r", e.task, " [", std::string(filled, '#'), std::string(width - filled, '.'), "] ", e.done);
    if (e.total >= 0) absl::StrAppend(&line, "/", e.total);
  } else {
    line = absl::StrCat("\r", e.task, " ", e.done);
  }
  absl::StrAppend(&line, " ", e.unit, ", ", absl::StrFormat("%.1f", e.seconds), " s  ", e.detail);
  std::fprintf(stderr, "%s\033[K", line.c_str());
  std::fflush(stderr);
}

}  // namespace

ProgressTracker::ProgressTracker(const Reporter& reporter, std::string task, std::string unit, int64_t total)
    : reporter_(reporter), start_(Now()) {
  event_.task = std::move(task);
  event_.unit = std::move(unit);
  event_.total = total;
}

ProgressTracker::~ProgressTracker() { Finish(); }

void ProgressTracker::Update(int64_t done, const std::string& detail, double fraction) {
  if (!reporter_.shows_progress()) return;
  double now = Now();
  bool last = event_.total >= 0 && done >= event_.total;
  if (last_ >= 0 && now - last_ < 0.05 && !last) return;
  last_ = now;
  event_.done = done;
  event_.detail = detail;
  event_.fraction = fraction;
  event_.seconds = now - start_;
  reporter_.Progress(event_);
  shown_ = true;
}

void ProgressTracker::Finish() {
  if (!shown_) return;
  shown_ = false;
  ProgressEvent e = event_;
  e.finished = true;
  e.seconds = Now() - start_;
  reporter_.Progress(e);
}

Reporter StderrReporter(bool bars) {
  Reporter::ProgressFn progress;
  if (bars) progress = DrawBar;
  return Reporter(progress, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
}

}  // namespace onnxc
