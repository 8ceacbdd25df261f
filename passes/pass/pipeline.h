// Textual pipelines, e.g.
//
//   fold-constants,fuse-conv-bn{skip=[conv3*,conv4]},fixed-point{max-iterations=5}(dce,cse)
//
// A pipeline is a comma-separated list of elements; an element is a pass or
// named pipeline, optionally with {key=value,...} options and, for groups,
// (children). List values are written [a,b]. Printing a parsed pipeline gives
// back the same text (modulo whitespace).
#ifndef ONNXC_PASSES_PASS_PIPELINE_H_
#define ONNXC_PASSES_PASS_PIPELINE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onnxc {

struct PipelineElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;
  bool has_children = false;
  std::vector<PipelineElement> children;
};

absl::StatusOr<std::vector<PipelineElement>> ParsePipeline(absl::string_view text);
std::string PrintPipeline(const std::vector<PipelineElement>& elements);

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_PIPELINE_H_
