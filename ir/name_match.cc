#include "ir/name_match.h"

#include <fnmatch.h>

namespace onnxc {

bool MatchesAny(const std::string& name, const std::vector<std::string>& globs) {
  for (const std::string& g : globs)
    if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

}  // namespace onnxc
