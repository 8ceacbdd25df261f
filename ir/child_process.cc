#include "ir/child_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "absl/strings/str_cat.h"

namespace onnxc {

absl::StatusOr<std::string> RunInChildProcess(const std::function<absl::StatusOr<std::string>()>& work,
                                              const std::string& what, Isolation isolation) {
  if (isolation == Isolation::kInProcess) {
    try {
      absl::StatusOr<std::string> r = work();
      if (!r.ok()) return absl::InvalidArgumentError(r.status().message());
      return r;
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
  }
  int fds[2];
  if (::pipe(fds) != 0) return absl::InternalError("pipe failed");
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    try {
      absl::StatusOr<std::string> r = work();
      out = r.ok() ? "O" + *r : "E" + std::string(r.status().message());
    } catch (const std::exception& e) {
      out = std::string("E") + e.what();
    }
    for (size_t done = 0; done < out.size();) {
      ssize_t w = ::write(fds[1], out.data() + done, out.size() - done);
      if (w <= 0) ::_exit(3);
      done += w;
    }
    // Closed before exiting, so the parent reads EOF (and goes on) while this
    // process tears down its memory.
    ::close(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string in;
  char buf[1 << 16];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) in.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return absl::InternalError(absl::StrCat(what, " crashed (signal ", WTERMSIG(status), ")"));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || in.empty())
    return absl::InternalError(absl::StrCat(what, " failed without a message"));
  if (in[0] == 'E') return absl::InvalidArgumentError(in.substr(1));
  return in.substr(1);
}

}  // namespace onnxc
