#include "tools/cli_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace onnxc {

namespace fs = std::filesystem;

int ExitCodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:
      return kExitBadInput;
    default:
      return kExitInternal;
  }
}

std::string ResolveUserPath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (wd == nullptr || *wd == '\0') return path;
  return absl::StrCat(wd, "/", path);
}

void PreflightFlags(int argc, char** argv, const std::string& usage,
                    const std::string& flag_file_substr) {
  auto flags = absl::GetAllFlags();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "--helpfull") {
      std::printf("%s\nFlags (dashes and underscores are interchangeable):\n", usage.c_str());
      std::map<std::string, const absl::CommandLineFlag*> ours;
      for (const auto& [name, flag] : flags)
        if (absl::StrContains(flag->Filename(), flag_file_substr)) ours[std::string(name)] = flag;
      for (const auto& [name, flag] : ours) {
        std::string def = flag->DefaultValue();
        std::string shown = absl::StrReplaceAll(name, {{"_", "-"}});
        std::printf("  --%s%s\n      %s\n", shown.c_str(),
                    def.empty() || def == "false" ? "" : absl::StrCat(" (default: ", def, ")").c_str(),
                    flag->Help().c_str());
      }
      std::exit(kExitOk);
    }
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--") && !absl::ConsumePrefix(&body, "-")) {
      std::fprintf(stderr, "error: unexpected argument '%s' (flags look like --name=value); see --help\n", argv[i]);
      std::exit(kExitUsage);
    }
    size_t eq = body.find('=');
    // absl spells flags with underscores; accept the dashed spelling too by
    // rewriting the name in place (the name only ever gets shorter or equal).
    std::string name = absl::StrReplaceAll(body.substr(0, eq), {{"-", "_"}});
    std::string rest = eq == absl::string_view::npos ? "" : std::string(body.substr(eq));
    std::string rewritten = absl::StrCat("--", name, rest);
    std::memcpy(argv[i], rewritten.c_str(), rewritten.size() + 1);
    auto it = flags.find(name);
    bool negated = it == flags.end() && absl::StartsWith(name, "no") && flags.count(name.substr(2));
    if (it == flags.end() && !negated) {
      std::fprintf(stderr, "error: unknown flag --%s; see --help\n",
                   absl::StrReplaceAll(name, {{"_", "-"}}).c_str());
      std::exit(kExitUsage);
    }
    // "--flag value": skip the value (bool flags never take a separate one).
    if (!negated && eq == absl::string_view::npos && !it->second->IsOfType<bool>()) ++i;
  }
}

std::string RunfilesDir(const char* argv0) {
  if (const char* d = std::getenv("RUNFILES_DIR")) return d;
  if (const char* d = std::getenv("TEST_SRCDIR")) return d;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) exe = argv0;
  return exe.string() + ".runfiles";
}

}  // namespace onnxc
