#include "ir/atomic_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace onnxc {

absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes) {
  std::string tmp = absl::StrCat(path, ".tmp", ::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f << bytes;
    if (!f.good()) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace onnxc
