#include "tools/cli_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "--helpfull") {
      std::printf("%s\nFlags:\n", usage.c_str());
      std::map<std::string, const absl::CommandLineFlag*> ours;
      for (const auto& [name, flag] : flags)
        if (absl::StrContains(flag->Filename(), flag_file_substr)) ours[std::string(name)] = flag;
      for (const auto& [name, flag] : ours) {
        std::string def = flag->DefaultValue();
        std::printf("  --%s%s\n      %s\n", name.c_str(),
                    def.empty() || def == "false" ? "" : absl::StrCat(" (default: ", def, ")").c_str(),
                    flag->Help().c_str());
      }
      std::exit(kExitOk);
    }
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      std::fprintf(stderr, "error: unexpected argument '%s' (flags look like --name=value); see --help\n", argv[i]);
      std::exit(kExitUsage);
    }
    std::string name(arg.substr(0, arg.find('=')));
    bool known = flags.count(name) > 0 ||
                 (absl::StartsWith(name, "no") && flags.count(name.substr(2)) > 0);
    if (!known) {
      std::fprintf(stderr, "error: unknown flag --%s; see --help\n", name.c_str());
      std::exit(kExitUsage);
    }
  }
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = absl::StrCat(path, ".tmp", ::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    if (!f.good()) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", ec.message()));
  return absl::OkStatus();
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
