// Runs a piece of work in a forked child process and returns the bytes it
// produced, so that a crash inside a library we call (libonnx 1.12's shape
// inference and version converter crash on some malformed models) becomes an
// error, never a crash of ours. The child shares the parent's memory
// copy-on-write, so nothing is copied to start it; only the result crosses
// the pipe.
#ifndef ONNXC_IR_CHILD_PROCESS_H_
#define ONNXC_IR_CHILD_PROCESS_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace onnxc {

// Where such work runs. kInProcess is for programs that embed the library
// and may not fork (RunSettings::isolation, the C API's "subprocesses=off"):
// the work runs in the caller's process, so a crash in ONNX is the caller's.
enum class Isolation { kChildProcess, kInProcess };

// `work` runs in the child; its error message (or an exception's) comes back
// as InvalidArgument. A crash or a silent exit becomes Internal, naming
// `what` ("ONNX shape inference").
absl::StatusOr<std::string> RunInChildProcess(const std::function<absl::StatusOr<std::string>()>& work,
                                              const std::string& what,
                                              Isolation isolation = Isolation::kChildProcess);

}  // namespace onnxc

#endif  // ONNXC_IR_CHILD_PROCESS_H_
