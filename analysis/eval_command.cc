#include "analysis/eval_command.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "ir/export.h"

namespace onnxc {
namespace {

std::string ShellQuote(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "'\\''"}}) + "'";
}

}  // namespace

absl::StatusOr<double> RunEvalCommand(const std::string& cmd, const std::string& model_path, std::string* tail) {
  std::string full = absl::StrReplaceAll(cmd, {{"{model}", ShellQuote(model_path)}});
  if (full == cmd) full = absl::StrCat(cmd, " ", ShellQuote(model_path));
  FILE* p = ::popen(absl::StrCat(full, " 2>&1").c_str(), "r");
  if (p == nullptr) return absl::InternalError(absl::StrCat("cannot run eval-cmd: ", full));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipWhitespace());
  *tail = lines.empty() ? "" : lines.back();
  if (rc != 0)
    return absl::InvalidArgumentError(absl::StrCat("eval-cmd failed (exit status ", rc, "): ", full, "\n", out));
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat("eval-cmd printed nothing: ", full));
  std::vector<std::string> words = absl::StrSplit(lines.back(), absl::ByAnyChar(" \t,=:{}[]\"';"), absl::SkipWhitespace());
  for (auto it = words.rbegin(); it != words.rend(); ++it) {
    double v;
    if (absl::SimpleAtod(*it, &v)) return v;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("eval-cmd's last line has no number: '", lines.back(), "' (command: ", full, ")"));
}

absl::StatusOr<double> EvaluateModel(const Model& model, const std::string& cmd, std::string* tail) {
  namespace fs = std::filesystem;
  std::string dir = fs::temp_directory_path() / "onnxc-eval-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return absl::InternalError("cannot create a temporary folder");
  absl::Status saved = SaveModel(model, dir + "/candidate.onnx");
  std::string ignored;
  absl::StatusOr<double> m = saved.ok() ? RunEvalCommand(cmd, dir + "/candidate.onnx", tail ? tail : &ignored)
                                        : absl::StatusOr<double>(saved);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return m;
}

}  // namespace onnxc
