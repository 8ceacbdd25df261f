// Matching node names against what users write in skip lists: shell globs
// ("conv3*", "layer?.conv").
#ifndef ONNXC_IR_NAME_MATCH_H_
#define ONNXC_IR_NAME_MATCH_H_

#include <string>
#include <vector>

namespace onnxc {

// Shell-style glob match of a node name against any of `globs`.
bool MatchesAny(const std::string& name, const std::vector<std::string>& globs);

}  // namespace onnxc

#endif  // ONNXC_IR_NAME_MATCH_H_
