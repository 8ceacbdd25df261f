// A compress config (tools/compress_config.proto) from its protobuf text,
// with every syntax error listed by line and column: what --config reads
// and what the C API's "config" setting takes.
#ifndef ONNXC_TOOLS_COMPRESS_CONFIG_TEXT_H_
#define ONNXC_TOOLS_COMPRESS_CONFIG_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "tools/compress_config.pb.h"

namespace onnxc {

// `source` names the text in the error ("config /path/x.pbtxt").
absl::StatusOr<CompressConfig> ParseCompressConfig(const std::string& text, const std::string& source);

}  // namespace onnxc

#endif  // ONNXC_TOOLS_COMPRESS_CONFIG_TEXT_H_
