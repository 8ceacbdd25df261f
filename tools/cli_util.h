// Helpers shared by the command-line programs: exit codes, path resolution
// under `bazel run`, flag validation and --help.
#ifndef ONNXC_TOOLS_CLI_UTIL_H_
#define ONNXC_TOOLS_CLI_UTIL_H_

#include <string>

#include "absl/status/status.h"

namespace onnxc {

// Exit codes of every tool.
enum ExitCode {
  kExitOk = 0,
  kExitUsage = 2,     // bad flags or arguments
  kExitBadInput = 3,  // the model, data or config is wrong
  kExitInternal = 4,  // a bug or an I/O failure of ours
};

// Bad input or internal failure, from a Status code.
int ExitCodeFor(const absl::Status& s);

// `bazel run` changes the working directory; relative paths the user typed
// are resolved against the directory they typed them in.
std::string ResolveUserPath(const std::string& path);

// Checks argv against the program's registered flags before absl parses it,
// so an unknown flag exits with kExitUsage and a helpful message; handles
// --help (every flag whose definition is in `flag_file_substr`).
void PreflightFlags(int argc, char** argv, const std::string& usage,
                    const std::string& flag_file_substr);

// Folder that holds the program's Bazel runfiles (for bundled data).
std::string RunfilesDir(const char* argv0);

}  // namespace onnxc

#endif  // ONNXC_TOOLS_CLI_UTIL_H_
